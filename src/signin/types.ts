/**
 * The options of an interactive sign-in (authorization code + PKCE, device authorization grant), shared
 * by `login()`, `TokenManager.signIn()` and the grant modules. Types only.
 * @module
 */

/** What the device authorization endpoint answered, for showing to the person (RFC 8628 §3.2). */
export interface DeviceCodeInfo {
  /** The code the person types on the verification page. Not a secret on its own (it expires). */
  userCode: string;
  /** Where to type it. */
  verificationUri: string;
  /** The same page with the code already filled in, when the server gives it. */
  verificationUriComplete?: string;
  /** Seconds until the code expires. */
  expiresIn: number;
  /** Seconds between polls (as the server asked; `slow_down` adds 5). */
  interval: number;
}

/** Sleeps `ms` (rejects with the signal's reason when aborted). Injectable for tests. */
export type SleepFunction = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Options of an interactive sign-in. */
export interface SignInOptions {
  /**
   * How the authorization URL reaches a browser: `undefined` opens the system browser (`$BROWSER`,
   * else `xdg-open` / `open` / `start`); `false` only prints it (`--no-browser`); a function is called
   * with the URL instead (tests, embedding applications). The URL is always given to
   * {@link SignInOptions.onAuthorizationUrl} too.
   */
  openBrowser?: false | ((url: string) => void | Promise<void>);
  /** Receives the authorization URL (printed by the CLI). Default: written to stderr. */
  onAuthorizationUrl?: (url: string) => void;
  /**
   * Receives the device flow's code and page. Default: written to stderr. A returned promise is
   * awaited before polling starts.
   */
  onDeviceCode?: (info: DeviceCodeInfo) => unknown;
  /** Called before each device-flow poll with the seconds left (a countdown on a terminal). */
  onDevicePoll?: (secondsLeft: number) => void;
  /** Use the device authorization grant even when the profile's grant is `authorization_code`. */
  device?: boolean;
  /** Aborts the sign-in (the redirect listener is closed, polling stops). */
  signal?: AbortSignal;
  /** How long to wait for the browser's redirect, ms. Default: the profile's `login_timeout`, else 300 s. */
  redirectTimeoutMs?: number;
  /** Sleeps between device-flow polls. Default: a timer. Tests inject one. */
  sleep?: SleepFunction;
}
