/**
 * The device authorization grant (RFC 8628): ask the device authorization endpoint for a code, show the
 * person where to enter it, and poll the token endpoint at the given interval — `authorization_pending`
 * goes on, `slow_down` adds 5 s, `access_denied` and `expired_token` stop with an
 * {@link AuthorizationError}. The clock and the sleep between polls are injectable.
 * @module
 */

import { AuthorizationError, InvalidTokenResponseError, TokenEndpointError } from '../errors.js';
import { sleep as timerSleep } from '../http/retry.js';
import { registerSecret } from '../redact.js';
import type { DeviceCodeInfo, SleepFunction } from '../signin/types.js';
import type { Token } from '../token.js';
import { authenticatedPost, grantRequest } from './request.js';
import { type GrantContext, type ResourceInput, resourceParam } from './types.js';

/** The `grant_type` of the device flow's token requests. */
export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
/** Poll interval when the server gives none, seconds (RFC 8628 §3.2). */
export const DEFAULT_DEVICE_INTERVAL_S = 5;
/** What `slow_down` adds to the interval, seconds (RFC 8628 §3.5). */
export const SLOW_DOWN_STEP_S = 5;
/** Longest code lifetime believed, seconds (a bound on the polling). */
const MAX_EXPIRES_IN_S = 3600;

/** Parameters of {@link deviceCodeGrant}. */
export interface DeviceCodeParams {
  /** The device authorization endpoint. */
  deviceAuthorizationUrl: string;
  /** Space-separated scope. */
  scope?: string | undefined;
  /** `resource` (RFC 8707): one URI or several, on the device authorization and token requests. */
  resource?: ResourceInput | undefined;
  /** Extra parameters of the device authorization request. */
  extraParams?: Readonly<Record<string, string>>;
  /** Shows the code and the page; a returned promise is awaited before polling starts. */
  onDeviceCode(info: DeviceCodeInfo): unknown;
  /** Called before each wait with the seconds left. */
  onPoll?: ((secondsLeft: number) => void) | undefined;
  /** Sleeps between polls. Default: a timer. */
  sleep?: SleepFunction | undefined;
  /** Checks the token answer before it is accepted (ID token validation). */
  accept?(token: Token): Promise<void>;
  /** Aborts. */
  signal?: AbortSignal | undefined;
}

function readInfo(
  body: Record<string, unknown>,
  url: string,
  status: number,
): DeviceCodeInfo & { deviceCode: string } {
  const str = (k: string) =>
    typeof body[k] === 'string' && body[k] !== '' ? (body[k] as string) : undefined;
  const deviceCode = str('device_code');
  const userCode = str('user_code');
  // `verification_url` is what some servers (Google) send.
  const verificationUri = str('verification_uri') ?? str('verification_url');
  if (deviceCode === undefined || userCode === undefined || verificationUri === undefined) {
    throw new InvalidTokenResponseError(
      url,
      status,
      'the device authorization answer lacks device_code, user_code or verification_uri',
    );
  }
  const num = (k: string, dflt: number) => {
    const v = body[k];
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : dflt;
  };
  const info: DeviceCodeInfo & { deviceCode: string } = {
    deviceCode,
    userCode,
    verificationUri,
    expiresIn: Math.min(num('expires_in', 600), MAX_EXPIRES_IN_S),
    interval: Math.min(num('interval', DEFAULT_DEVICE_INTERVAL_S), 60),
  };
  const complete = str('verification_uri_complete');
  if (complete !== undefined) info.verificationUriComplete = complete;
  return info;
}

/**
 * Runs the device flow to its end.
 *
 * @throws AuthorizationError (`access_denied`, `expired_token`); the endpoints' errors.
 */
export async function deviceCodeGrant(ctx: GrantContext, p: DeviceCodeParams): Promise<Token> {
  const now = ctx.now ?? Date.now;
  const sleep = p.sleep ?? timerSleep;
  const res = await authenticatedPost(
    ctx,
    p.deviceAuthorizationUrl,
    { ...(p.extraParams ?? {}), scope: p.scope, resource: resourceParam(p.resource) },
    { what: 'device authorization endpoint', signal: p.signal },
  );
  const info = readInfo(res.body as Record<string, unknown>, res.url, res.status);
  registerSecret(info.deviceCode);
  const { deviceCode, ...shown } = info;
  await p.onDeviceCode(shown);
  const deadline = now() + info.expiresIn * 1000;
  let interval = info.interval;
  const expired = () =>
    new AuthorizationError(
      'expired_token',
      `the device code expired before the sign-in was approved (after ${info.expiresIn} s); run the sign-in again; nothing was stored`,
    );
  for (;;) {
    const left = Math.max(0, Math.round((deadline - now()) / 1000));
    if (left <= 0) throw expired();
    p.onPoll?.(left);
    await sleep(interval * 1000, p.signal);
    // A code that expired during the wait is not sent again (the server would only say expired_token).
    if (now() >= deadline) throw expired();
    try {
      const token = await grantRequest(
        ctx,
        { grant_type: DEVICE_CODE_GRANT_TYPE, device_code: deviceCode, resource: resourceParam(p.resource) },
        p.signal !== undefined ? { signal: p.signal } : {},
      );
      await p.accept?.(token);
      return token;
    } catch (err) {
      if (!(err instanceof TokenEndpointError) || err.status >= 500) throw err;
      switch (err.error) {
        case 'authorization_pending':
          continue;
        case 'slow_down':
          interval += SLOW_DOWN_STEP_S;
          continue;
        case 'access_denied':
          throw new AuthorizationError(
            'access_denied',
            'the sign-in was denied on the verification page; nothing was stored',
            err.errorDescription,
          );
        case 'expired_token':
          throw new AuthorizationError(
            'expired_token',
            'the device code expired before the sign-in was approved; run the sign-in again; nothing was stored',
            err.errorDescription,
          );
        default:
          throw err;
      }
    }
  }
}
