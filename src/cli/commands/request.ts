/**
 * `tokenward request <profile> [METHOD] URL [--data JSON|@file] [-H 'K: V']...`: an authenticated HTTP
 * request through `createAuthFetch` (401 → invalidate → one retry). The body goes to stdout.
 *
 * Where the token may go: the profile's API origins, as `originsFromProfile` reads them from the
 * provider registry (`api_base_url`, else where the profile's provider says its API lives, plus
 * `allowed_origins`). A profile that names none sends it to the origin of the URL typed here — the user
 * named the profile for that URL — and to no other origin. Redirects are not followed.
 * @module
 */

import type { TokenSource } from '../../fetch/shared.js';
import type { Profile } from '../../profile.js';
import { redactText } from '../../redact.js';
import { isSecretHeader } from '../../secret-fields.js';
import { parseCommand, withGlobals } from '../args.js';
import { loadProfile, openManager } from '../context.js';
import { EXIT, UsageError } from '../exit.js';
import { type AuthFetch, loadFetch, loadTokenward } from '../lazy.js';
import { COMMAND_OPTIONS } from '../options.js';
import { debug, type Io, paint, say, warn } from '../output.js';

const OPTIONS = COMMAND_OPTIONS.request;

const METHOD = /^[A-Za-z]+$/;

/**
 * The origins a profile's token may be sent to: what `fromProfile` (the library's `profileOrigins`, the
 * same reading as `originsFromProfile` and the presets' `apiBaseUrl`) finds, or, when the profile
 * names no API origin at all, the typed URL's origin.
 */
export function allowedOrigins(profile: Profile, url: URL, fromProfile: (p: Profile) => string[]): string[] {
  const named = fromProfile(profile);
  return named.length > 0 ? named : [url.origin];
}

/** A header value for the trace: credential headers (the catalogue's) keep only their scheme. */
function shownHeader(name: string, value: string): string {
  if (!isSecretHeader(name)) return value;
  const scheme = /^([A-Za-z][\w-]*)\s/.exec(value)?.[1];
  return `${scheme ?? ''} [REDACTED]`.trim();
}

/**
 * A fetch that prints each attempt (request line, headers, status, response headers) to stderr with -v,
 * and sends it with `send` (the proxy-aware fetch).
 */
function tracingFetch(io: Io, send: AuthFetch): AuthFetch {
  let attempt = 0;
  return async (input, init) => {
    attempt++;
    const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method ?? 'GET';
    debug(io, `> ${method} ${href}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
    for (const [k, v] of new Headers(init?.headers)) debug(io, `> ${k}: ${shownHeader(k, v)}`);
    const started = performance.now();
    const res = await send(input, init);
    const line = `< ${res.status} ${res.statusText} (${Math.round(performance.now() - started)} ms)`;
    if (io.verbose) say(io, paint(io.color, res.ok ? 'green' : 'red', line));
    for (const [k, v] of res.headers) debug(io, `< ${k}: ${shownHeader(k, v)}`);
    return res;
  };
}

/**
 * The body of `--data`: the text itself, `@file` (a regular file) or `@-` (standard input), at most
 * 64 MiB. A file is read within 10 s; standard input that is not a terminal may pause at most 30 s.
 */
async function readData(io: Io, d: string): Promise<Buffer> {
  const { LOCAL_FILE_LIMITS, LocalReadError, readBoundedStream, readLocalFile } = await import(
    '../../config/local-file.js'
  );
  const maxBytes = LOCAL_FILE_LIMITS.requestBodyBytes;
  try {
    if (d === '@-') {
      const idle = io.stdin.isTTY === true ? {} : { idleMs: LOCAL_FILE_LIMITS.stdinIdleMs };
      return await readBoundedStream(io.stdin, { maxBytes, ...idle });
    }
    if (d.startsWith('@')) return await readLocalFile(d.slice(1), { maxBytes });
  } catch (err) {
    const what = d === '@-' ? 'standard input' : d.slice(1);
    const reason = err instanceof LocalReadError ? err.reason : 'cannot be read';
    throw new UsageError(`--data ${d}: ${what} ${reason}`);
  }
  return Buffer.from(d);
}

/** Runs `tokenward request`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, OPTIONS);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['request']}\n`);
    return EXIT.OK;
  }
  let profileName: string | undefined;
  let method: string | undefined;
  let rawUrl: string | undefined;
  if (positionals.length === 2) [profileName, rawUrl] = positionals;
  else if (positionals.length === 3) [profileName, method, rawUrl] = positionals;
  else throw new UsageError('request takes a profile, an optional METHOD and a URL');
  if (method !== undefined && !METHOD.test(method)) throw new UsageError(`"${method}" is not an HTTP method`);
  let url: URL;
  try {
    url = new URL(rawUrl ?? '');
  } catch {
    throw new UsageError(`"${rawUrl}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError('the URL must be http(s)');

  const headers = new Headers();
  for (const h of values.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) throw new UsageError(`header "${h}" is not "Name: value"`);
    const name = h.slice(0, i).trim();
    if (name.toLowerCase() === 'authorization') {
      throw new UsageError('the Authorization header is set by tokenward; leave it out');
    }
    try {
      headers.append(name, h.slice(i + 1).trim());
    } catch {
      throw new UsageError(`header "${name}" is not valid`);
    }
  }
  let body: Buffer | undefined;
  if (values.data !== undefined) {
    body = await readData(io, values.data);
    if (!headers.has('content-type')) {
      try {
        JSON.parse(body.toString('utf8'));
      } catch {
        throw new UsageError("--data is not valid JSON (add -H 'Content-Type: …' to send another format)");
      }
      headers.set('content-type', 'application/json');
    }
  }
  const verb = (method ?? (body !== undefined ? 'POST' : 'GET')).toUpperCase();

  // The library and the fetch helpers load while the config file is read.
  const tokenward = loadTokenward();
  const fetchModule = loadFetch();
  tokenward.catch(() => {}); // awaited by openManager below
  fetchModule.catch(() => {}); // awaited below
  const profile = await loadProfile(io, profileName, values.config);
  const { createAuthFetch, profileOrigins, proxiedFetch } = await fetchModule;
  const origins = allowedOrigins(profile, url, profileOrigins);
  if (!origins.includes(url.origin)) {
    throw new UsageError(
      `profile "${profile.name}" sends its token only to ${origins.join(', ')}; ${url.origin} is not one of them (add it to allowed_origins)`,
    );
  }
  // The profile's proxy and CA file, resolved when they are references (`env:CORP_PROXY`).
  const resolved = async (key: 'proxy' | 'ca_file'): Promise<string | undefined> => {
    const value = profile[key];
    if (value === undefined) return undefined;
    const { resolveSecretReference } = await import('../../config/secrets.js');
    return resolveSecretReference(value, { key: `profiles.${profile.name ?? ''}.${key}` }, { env: io.env });
  };
  const proxy = await resolved('proxy');
  // The API call trusts what the token request trusts: the profile's `ca_file` and
  // `insecure_skip_tls_verify` (with a warning: the token goes to a server that was not verified).
  const fetchOptions: Parameters<typeof proxiedFetch>[0] = { proxy, env: io.env };
  const caFile = await resolved('ca_file');
  if (caFile !== undefined) fetchOptions.ca = await (await import('../../http/agent.js')).loadCaFile(caFile);
  if (profile.insecure_skip_tls_verify === true && url.protocol === 'https:') {
    fetchOptions.insecureSkipTlsVerify = true;
    warn(
      io,
      `TLS certificate verification is OFF for ${url.origin} (insecure_skip_tls_verify): anyone on the network path can read the token sent there. Give the CA with ca_file instead.`,
    );
  }
  const manager = await openManager(io, profile, tokenward);
  try {
    if (profile.interactive === 'auto') {
      await manager
        .getToken()
        .catch(async (err: unknown) =>
          (await import('./login.js')).signInIfAllowed(io, profile, manager, err),
        );
    }
    // A certificate-bound token (RFC 8705) goes over the profile's client certificate, as the manager's
    // token client loaded it. Only the profile's own origins are ever asked (checked above; redirects
    // are not followed). The fetch below carries it with the profile's proxy and TLS settings, so the
    // integration gets the manager without its certificate hook (else it would add a dispatcher of its
    // own, without those settings).
    const clientCert = await manager.clientCertificate();
    if (clientCert !== undefined) fetchOptions.clientCert = clientCert;
    const send = proxiedFetch(fetchOptions);
    const source: TokenSource = {
      getToken: (o) => manager.getToken(o),
      invalidate: (token) => manager.invalidate(token),
      dpop: manager.dpop,
    };
    const authFetch = createAuthFetch(source, { origins, fetch: tracingFetch(io, send) });
    const timeoutMs = (profile.timeout ?? 30) * 1000;
    const init: RequestInit = {
      method: verb,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    };
    if (body !== undefined) init.body = body;
    let res: Response;
    try {
      res = await authFetch(url.href, init);
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && code.startsWith('ERR_')) throw err;
      const { NetworkError, ProxyError } = await import('../../errors.js');
      const { proxyFor, proxyStatusOf } = await import('../../http/proxy.js');
      const route = proxyFor(url, { proxy, env: io.env });
      const status = route === undefined ? undefined : proxyStatusOf(err);
      if (route !== undefined && status !== undefined) {
        const where = `${url.origin}${url.pathname}`;
        throw new ProxyError(
          where,
          { ...route, status },
          `request to ${where} failed: proxy ${route.shown} (${route.source}) answered ${status}${status === 407 ? ' Proxy Authentication Required: give the proxy user and password in the proxy URL' : ''}`,
          { cause: err },
        );
      }
      const cause = (err as { cause?: { code?: string } }).cause;
      const why =
        (err as { name?: string }).name === 'TimeoutError'
          ? `timed out after ${timeoutMs} ms`
          : (cause?.code ?? (err instanceof Error ? err.message : 'failed'));
      throw new NetworkError(
        `${url.origin}${url.pathname}`,
        `request to ${url.origin}${url.pathname} failed: ${why}`,
        {
          cause: err,
          timeout: (err as { name?: string }).name === 'TimeoutError',
        },
      );
    }
    const buf = Buffer.from(await res.arrayBuffer());
    const ok = res.status >= 200 && res.status < 300;
    const type = res.headers.get('content-type') ?? '';
    let out: Buffer | string = buf;
    if (io.stdout.isTTY === true && buf.length > 0 && /[/+]json\b/i.test(type)) {
      try {
        out = `${JSON.stringify(JSON.parse(buf.toString('utf8')), null, 2)}\n`;
      } catch {
        out = buf;
      }
    }
    io.stdout.write(out);
    if (io.stdout.isTTY === true && typeof out !== 'string' && buf.length > 0 && buf[buf.length - 1] !== 10) {
      io.stdout.write('\n');
    }
    if (!ok) {
      if (!io.verbose)
        say(
          io,
          redactText(
            `tokenward: ${verb} ${url.origin}${url.pathname} answered HTTP ${res.status} ${res.statusText}`,
          ),
        );
      return EXIT.HTTP_STATUS;
    }
    return EXIT.OK;
  } finally {
    await manager.close();
  }
}
