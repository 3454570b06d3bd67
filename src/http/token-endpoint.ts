/**
 * The one place that talks HTTP to token, discovery and revocation endpoints: timeouts, bounded retries
 * with backoff and full jitter (network errors, 5xx, 429 with `Retry-After`), a response size cap, strict
 * JSON, typed errors without secrets, and a redacted debug hook.
 *
 * undici is imported lazily, on the first request.
 * @module
 */

import { NetworkError, ProxyError, TokenwardError } from '../errors.js';
import { publishRequestEnd, publishRequestStart } from '../observe/channels.js';
import { registerBasicCredentials, registerSecret, registerToken } from '../redact.js';
import { isSecretHeader, SECRET_HEADER_NAMES, secretTier } from '../secret-fields.js';
import { dispatcherFor, loadUndici, type TlsSettings, warnInsecureTlsOnce } from './agent.js';
import { type Resolved, resolve } from './budget.js';
import { type ProxyRoute, proxyFor, proxyStatusOf } from './proxy.js';
import { redactBodyText, redactForm, redactHeaders } from './redact-exchange.js';
import { errorForStatus, oauthErrorFields, parseSuccessBody, type RawAnswer } from './response.js';
import { backoffMs, parseRetryAfter, sleep } from './retry.js';
import type {
  FormValue,
  HttpExchange,
  HttpOptions,
  JsonResponse,
  TokenEndpointRequest,
  TokenRequestHook,
} from './types.js';
import { assertSecureUrl, safeUrl } from './url.js';

export {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_RETRIES,
  DEFAULT_RETRY_BASE_MS,
  DEFAULT_RETRY_MAX_MS,
  DEFAULT_TIMEOUT_MS,
  requestBudgetMs,
} from './budget.js';

/** Default `User-Agent`. */
export const DEFAULT_USER_AGENT = 'tokenward/0.1';

/** Largest response body shown to `onExchange`, in characters. */
const EXCHANGE_BODY_LIMIT = 8192;

interface Prepared {
  method: 'GET' | 'POST';
  url: URL;
  safe: string;
  what: string;
  headers: Record<string, string>;
  body?: string;
  /** The request body as shown to `onExchange`. */
  shownBody?: string;
  /** False when a 2xx answer's body is not read as JSON (revocation answers are often empty). */
  expectJson: boolean;
  /** The grant (`grant_type`, or `json`) of a POST to a token-like endpoint, for `tokenward:token:request`. */
  grant?: string;
}

/** Merges headers case-insensitively; later ones win. */
function mergeHeaders(...sets: Array<Record<string, string> | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  const names = new Map<string, string>();
  for (const set of sets) {
    if (!set) continue;
    for (const [k, v] of Object.entries(set)) {
      const lower = k.toLowerCase();
      const prev = names.get(lower);
      if (prev !== undefined) delete out[prev];
      names.set(lower, k);
      out[k] = v;
    }
  }
  return out;
}

/**
 * Registers a form or JSON field for redaction when the catalogue (`src/secret-fields.ts`) names it
 * secret: issued tokens, assertions and codes as tokens, the rest as long-lived secrets.
 */
function registerField(name: string, value: string): void {
  const tier = secretTier(name);
  if (tier === 'token') registerToken(value);
  else if (tier === 'secret') registerSecret(value);
}

/**
 * Registers the credentials of the headers about to be sent. `Basic` carries the client's long-lived
 * secret: the Base64, the decoded `id:secret` and the secret (form-encoded and raw) are registered.
 * Bearer and DPoP carry issued tokens; other secret-named headers (`X-Api-Key`) long-lived secrets.
 */
function registerHeaderSecrets(headers: Record<string, string>): void {
  for (const [k, v] of Object.entries(headers)) {
    if (!isSecretHeader(k)) continue;
    const credential = v.replace(/^[A-Za-z]+\s+/, '');
    if (/^basic\s/i.test(v)) registerBasicCredentials(credential);
    else if (SECRET_HEADER_NAMES.has(k.toLowerCase())) registerToken(credential);
    else registerSecret(v);
  }
}

/**
 * POSTs a form or JSON body to a token-like endpoint and returns its JSON object answer.
 *
 * @throws InsecureEndpointError / ConfigError for an unusable URL.
 * @throws UpstreamUnavailableError (a TokenEndpointError) for 429/502/503/504 after the retries, or at once
 *   when `Retry-After` exceeds the retry budget (`retryMaxMs`).
 * @throws TokenEndpointError for any other non-2xx answer (after retries for 5xx), redirects included
 *   (never followed).
 * @throws InvalidTokenResponseError for a 2xx answer that is not a JSON object (HTML, empty, truncated, too big).
 * @throws NetworkError for no answer at all (`code` `ERR_TIMEOUT` for timeouts).
 */
export async function requestToken(req: TokenEndpointRequest, opts: HttpOptions = {}): Promise<JsonResponse> {
  const renew = req.renew;
  const hook = opts.tokenRequestHook;
  if (hook === undefined) {
    return send(
      preparePost(req, opts, true),
      opts,
      renew === undefined ? undefined : async () => preparePost(await renew(), opts, true),
    );
  }
  // Every attempt gets the hook's headers afresh (a DPoP proof is used once).
  const build = async (r: TokenEndpointRequest): Promise<Prepared> => {
    const extra = await hook.headers({ method: 'POST', url: r.url });
    return preparePost({ ...r, headers: mergeHeaders(r.headers, extra) }, opts, true);
  };
  return send(await build(req), opts, async () => build(renew === undefined ? req : await renew()), hook);
}

/**
 * `opts` for a request to an endpoint of the authorization server that answers no token (revocation,
 * introspection, PAR, device authorization): a {@link TokenRequestHook} (DPoP) still gives each attempt
 * its headers and reads the answer's headers and error (a `use_dpop_nonce` is answered), but does not
 * see a success body, which is no token. A copy: the caller may set more on it.
 */
export function withoutTokenCheck(opts: HttpOptions): HttpOptions {
  const hook = opts.tokenRequestHook;
  if (hook === undefined) return { ...opts };
  return {
    ...opts,
    tokenRequestHook: {
      headers: (target) => hook.headers(target),
      onAnswer: ({ body: _notAToken, ...answer }) => hook.onAnswer(answer),
    },
  };
}

/**
 * POSTs like {@link requestToken} but does not require a JSON body on success (RFC 7009 revocation answers
 * are usually empty). The body, when it is JSON, is returned; otherwise `body` is undefined.
 */
export async function requestNoContent(
  req: TokenEndpointRequest,
  opts: HttpOptions = {},
): Promise<JsonResponse> {
  const hook = opts.tokenRequestHook;
  if (hook === undefined) return send(preparePost(req, opts, false), opts);
  // Every attempt gets the hook's headers afresh (a DPoP proof is used once).
  const build = async (): Promise<Prepared> => {
    const extra = await hook.headers({ method: 'POST', url: req.url });
    return preparePost({ ...req, headers: mergeHeaders(req.headers, extra) }, opts, false);
  };
  return send(await build(), opts, build, hook);
}

function preparePost(req: TokenEndpointRequest, opts: HttpOptions, expectJson: boolean): Prepared {
  const what = req.what ?? 'token endpoint';
  const url = assertSecureUrl(req.url, what);
  let body: string;
  let shownBody: string | undefined;
  let contentType: string;
  if (req.form !== undefined) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(req.form)) {
      for (const one of formValues(v)) {
        registerField(k, one);
        p.append(k, one);
      }
    }
    body = p.toString();
    // Redacting a copy of the body costs a pass over every registered secret: only for a trace hook.
    if (opts.onExchange !== undefined) shownBody = redactForm(req.form);
    contentType = 'application/x-www-form-urlencoded';
  } else {
    body = JSON.stringify(req.json ?? {});
    if (typeof req.json === 'object' && req.json !== null) {
      for (const [k, v] of Object.entries(req.json)) if (typeof v === 'string') registerField(k, v);
    }
    if (opts.onExchange !== undefined) shownBody = redactBodyText(body);
    contentType = 'application/json';
  }
  const headers = mergeHeaders(
    { accept: 'application/json', 'user-agent': opts.userAgent ?? DEFAULT_USER_AGENT },
    { 'content-type': req.contentType ?? contentType },
    req.headers,
  );
  registerHeaderSecrets(headers);
  const prepared: Prepared = { method: 'POST', url, safe: safeUrl(url), what, headers, body, expectJson };
  prepared.grant = grantOf(req);
  if (shownBody !== undefined) prepared.shownBody = shownBody;
  return prepared;
}

/** The values of a form field, in order: none for `undefined`, one for a string, each of a list. */
export function formValues(v: FormValue): readonly string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}

/** The request's `grant_type` (form or JSON), else `json` or `form`: never a value that could be secret. */
function grantOf(req: TokenEndpointRequest): string {
  const raw =
    req.form !== undefined
      ? req.form['grant_type']
      : typeof req.json === 'object' && req.json !== null
        ? (req.json as Record<string, unknown>)['grant_type']
        : undefined;
  // A grant type is a short registered name or URI; anything else is not shown.
  if (typeof raw === 'string' && /^[A-Za-z0-9_.:/-]{1,128}$/.test(raw)) return raw;
  return req.form !== undefined ? 'form' : 'json';
}

/** Options for {@link getJson}. */
export interface GetJsonOptions extends HttpOptions {
  /** What the document is, for messages. Default `endpoint`. */
  what?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/**
 * GETs a JSON document (e.g. OpenID Connect discovery) with the same timeouts, retries, size cap, strict
 * parsing and errors as {@link requestToken}.
 */
export async function getJson(url: string, opts: GetJsonOptions = {}): Promise<JsonResponse> {
  const what = opts.what ?? 'endpoint';
  const u = assertSecureUrl(url, what);
  const headers = mergeHeaders(
    { accept: 'application/json', 'user-agent': opts.userAgent ?? DEFAULT_USER_AGENT },
    opts.headers,
  );
  registerHeaderSecrets(headers);
  return send({ method: 'GET', url: u, safe: safeUrl(u), what, headers, expectJson: true }, opts);
}

/** The TLS-off warning, given once per origin and warning hook when a request skips verification. */
export function insecureTlsWarning(url: string): string {
  return `TLS certificate verification is OFF for ${url} (insecure_skip_tls_verify): anyone on the network path can read and forge tokens and secrets. Never use this outside a lab; give the CA with ca_file instead.`;
}

type AttemptResult = { ok: true; answer: RawAnswer } | { ok: false; failure: NetworkFailure };

interface NetworkFailure {
  timeout: boolean;
  aborted: boolean;
  retryable: boolean;
  reason: string;
  cause?: unknown;
  /** The proxy the request went through, and its status when it refused the tunnel. */
  proxy?: { shown: string; source: string; status?: number | undefined };
}

class TimeoutMarker extends Error {}

async function send(
  first: Prepared,
  opts: HttpOptions,
  renew?: () => Promise<Prepared>,
  hook?: TokenRequestHook,
): Promise<JsonResponse> {
  let p = first;
  const cfg = resolve(opts);
  if (opts.insecureSkipTlsVerify === true && p.url.protocol === 'https:') {
    warnInsecureTlsOnce(p.url.origin, insecureTlsWarning(p.safe), opts.onWarning);
  }
  const tls: TlsSettings = {};
  if (opts.ca !== undefined) tls.ca = opts.ca;
  if (opts.clientCert !== undefined) tls.clientCert = opts.clientCert;
  if (opts.insecureSkipTlsVerify === true) tls.insecureSkipTlsVerify = true;
  const ctx = { what: p.what, url: p.safe, maxBytes: cfg.maxBytes };
  const maxAttempts = cfg.retries + 1;

  // The hook's one extra attempt (a `use_dpop_nonce` challenge): taken at most once, not a retry.
  let hookAgain: 'unused' | 'now' | 'used' = 'unused';
  for (let attempt = 1; ; attempt++) {
    if ((attempt > 1 || hookAgain === 'now') && renew !== undefined) p = await renew();
    if (hookAgain === 'now') hookAgain = 'used';
    const started = performance.now();
    const observed =
      p.grant === undefined ? undefined : publishRequestStart(p.what, p.method, p.safe, p.grant, attempt);
    const result = await attemptOnce(p, cfg, tls, opts);
    const durationMs = Math.round(performance.now() - started);
    publishRequestEnd(
      observed,
      result.ok ? { status: result.answer.status } : { error: outcomeOf(result.failure) },
    );
    report(opts, p, attempt, result, durationMs);

    if (result.ok) {
      const a = result.answer;
      if (a.status >= 200 && a.status < 300) {
        if (!p.expectJson)
          return { url: p.safe, status: a.status, headers: a.headers, body: lenientJson(a.text) };
        const body = parseSuccessBody(a, ctx);
        hook?.onAnswer({ url: p.safe, status: a.status, headers: a.headers, body });
        return { url: p.safe, status: a.status, headers: a.headers, body };
      }
      if (hook !== undefined) {
        const error = oauthErrorFields(a.text).error;
        const again = hook.onAnswer({ url: p.safe, status: a.status, headers: a.headers, error });
        if (again && hookAgain === 'unused') {
          hookAgain = 'now';
          attempt--; // not a retry: the same attempt, with what the server asked for
          continue;
        }
      }
      const retryAfter = parseRetryAfter(a.headers['retry-after']);
      const retryable = a.status === 429 || a.status >= 500;
      // A wait the server asks for that is longer than the retry budget is not slept through: stop now
      // (no further attempt) and hand the caller `retryAfter`, so it can back off for that long.
      const tooLong = retryable && retryAfter !== undefined && retryAfter * 1000 > cfg.retryMaxMs;
      if (!retryable || attempt >= maxAttempts || tooLong) {
        const extra: { attempts: number; retryAfter?: number; retryBudgetMs?: number } = {
          attempts: attempt,
        };
        if (retryAfter !== undefined) extra.retryAfter = retryAfter;
        if (tooLong) extra.retryBudgetMs = cfg.retryMaxMs;
        throw errorForStatus(a, ctx, extra);
      }
      const wait =
        retryAfter !== undefined
          ? Math.min(retryAfter * 1000, cfg.retryMaxMs)
          : backoffMs(attempt, cfg.retryBaseMs, cfg.retryMaxMs);
      await pause(wait, p, attempt, opts.signal);
      continue;
    }

    const f = result.failure;
    if (f.aborted) {
      throw new NetworkError(p.safe, `request to ${p.what} ${p.safe} was aborted`, { attempts: attempt });
    }
    if (!f.retryable || attempt >= maxAttempts) {
      const after = attempt > 1 ? ` after ${attempt} attempts` : '';
      const message = f.timeout
        ? `${p.what} ${p.safe} did not answer within ${cfg.timeoutMs} ms${after}; the server may be down or slow (raise timeout if it is just slow)`
        : `could not reach ${p.what} ${p.safe}${after}: ${f.reason}`;
      const options: { cause?: unknown; timeout: boolean; attempts: number } = {
        timeout: f.timeout,
        attempts: attempt,
      };
      if (f.cause !== undefined) options.cause = f.cause;
      if (f.proxy !== undefined) throw new ProxyError(p.safe, f.proxy, message, options);
      throw new NetworkError(p.safe, message, options);
    }
    await pause(backoffMs(attempt, cfg.retryBaseMs, cfg.retryMaxMs), p, attempt, opts.signal);
  }
}

function outcomeOf(f: NetworkFailure): 'timeout' | 'aborted' | 'network' {
  return f.timeout ? 'timeout' : f.aborted ? 'aborted' : 'network';
}

function lenientJson(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function pause(ms: number, p: Prepared, attempt: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, signal);
  } catch {
    throw new NetworkError(p.safe, `request to ${p.what} ${p.safe} was aborted`, { attempts: attempt });
  }
}

async function attemptOnce(
  p: Prepared,
  cfg: Resolved,
  tls: TlsSettings,
  opts: HttpOptions,
): Promise<AttemptResult> {
  const outer = opts.signal;
  if (outer?.aborted)
    return { ok: false, failure: { timeout: false, aborted: true, retryable: false, reason: 'aborted' } };
  const undici = await loadUndici();
  const route = proxyFor(p.url, { proxy: opts.proxy, env: opts.proxyEnv });
  const dispatcher = await dispatcherFor(tls, route);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new TimeoutMarker('timeout')), cfg.timeoutMs);
  const signal = outer ? AbortSignal.any([ac.signal, outer]) : ac.signal;
  try {
    const res = await undici.request(p.url, {
      method: p.method,
      headers: p.headers,
      body: p.body ?? null,
      dispatcher,
      signal,
    });
    const headers = flattenHeaders(res.headers);
    const declared = Number(headers['content-length']);
    if (Number.isFinite(declared) && declared > cfg.maxBytes) {
      // undici makes the unread body emit an AbortError when it is destroyed; nothing else listens to it,
      // and unhandled it would be an uncaught exception in the caller's process.
      res.body.on('error', () => undefined);
      res.body.destroy();
      return { ok: true, answer: { status: res.statusCode, headers, bytes: 0 } };
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      bytes += buf.length;
      if (bytes > cfg.maxBytes) {
        res.body.destroy();
        return { ok: true, answer: { status: res.statusCode, headers, bytes } };
      }
      chunks.push(buf);
    }
    return {
      ok: true,
      answer: { status: res.statusCode, headers, text: Buffer.concat(chunks).toString('utf8'), bytes },
    };
  } catch (e) {
    if (ac.signal.aborted) {
      return { ok: false, failure: { timeout: true, aborted: false, retryable: true, reason: 'timeout' } };
    }
    if (outer?.aborted) {
      return { ok: false, failure: { timeout: false, aborted: true, retryable: false, reason: 'aborted' } };
    }
    const failure = classifyNetworkError(e);
    return { ok: false, failure: route === undefined ? failure : throughProxy(failure, e, route) };
  } finally {
    clearTimeout(timer);
  }
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** Transport errors that may well not happen again on the next attempt. */
const TRANSIENT_CODES = new Set([
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur instanceof Error; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_ABORTED') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Failures that can only be the proxy's: through a proxy, tokenward neither resolves nor connects to the endpoint. */
const PROXY_CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * A failure of a request sent through a proxy: names the proxy (without credentials). The proxy's own
 * failures — unreachable, or a refused tunnel (its status) — carry `proxy` (a {@link ProxyError}); a
 * refusal is retried only for a 5xx, never for a 407 (wrong or missing credentials) or 403. Failures
 * inside the tunnel (the endpoint's certificate…) stay the endpoint's.
 */
function throughProxy(failure: NetworkFailure, e: unknown, route: ProxyRoute): NetworkFailure {
  const status = proxyStatusOf(e);
  const via = `proxy ${route.shown} (${route.source})`;
  if (status === undefined) {
    const code = errorCode(e);
    const own = code !== undefined && PROXY_CONNECT_CODES.has(code);
    return {
      ...failure,
      reason: `${failure.reason}, through ${via}`,
      ...(own ? { proxy: { shown: route.shown, source: route.source } } : {}),
    };
  }
  const hint =
    status === 407
      ? 'Proxy Authentication Required: give the proxy user and password in the proxy URL (http://user:password@host:port)'
      : status >= 500
        ? 'the proxy could not reach the endpoint'
        : 'the proxy refused the request';
  return {
    timeout: false,
    aborted: false,
    retryable: status >= 500,
    reason: `${via} answered ${status}: ${hint}`,
    proxy: { shown: route.shown, source: route.source, status },
  };
}

/** Turns a transport error into a precise, secret-free description and a retry decision. */
export function classifyNetworkError(e: unknown): NetworkFailure {
  const code = errorCode(e);
  const base = { timeout: false, aborted: false, cause: e instanceof TokenwardError ? undefined : e };
  if (
    code !== undefined &&
    (TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS'))
  ) {
    const hint =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? 'the certificate does not name this host'
        : code === 'CERT_HAS_EXPIRED'
          ? 'the certificate has expired'
          : code.startsWith('ERR_SSL')
            ? 'the TLS handshake failed (is this an https:// port?)'
            : 'the certificate is not trusted; give its CA with ca_file';
    return { ...base, retryable: false, reason: `TLS error ${code}: ${hint}` };
  }
  switch (code) {
    case 'UND_ERR_HEADERS_OVERFLOW':
      return {
        ...base,
        retryable: false,
        reason: 'the response headers are larger than the limit (UND_ERR_HEADERS_OVERFLOW); not retried',
      };
    case 'ECONNREFUSED':
      return {
        ...base,
        retryable: true,
        reason: 'connection refused (ECONNREFUSED); is the server running?',
      };
    case 'ENOTFOUND':
      return { ...base, retryable: false, reason: 'host not found (ENOTFOUND); check the URL' };
    case 'EAI_AGAIN':
      return { ...base, retryable: true, reason: 'DNS lookup failed (EAI_AGAIN)' };
    case 'ECONNRESET':
      return { ...base, retryable: true, reason: 'connection reset by the server (ECONNRESET)' };
    case 'UND_ERR_SOCKET':
      return { ...base, retryable: true, reason: 'the server closed the connection (UND_ERR_SOCKET)' };
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return { ...base, timeout: true, retryable: true, reason: `timeout (${code})` };
    default: {
      // Only failures known to be transient are retried; anything else (an invalid response, an
      // invalid argument, an unknown error) would fail the same way again.
      // Stryker disable next-line ConditionalExpression: TRANSIENT_CODES.has(undefined) is false
      const transient = code !== undefined && TRANSIENT_CODES.has(code);
      return {
        ...base,
        retryable: transient,
        reason: code
          ? `network error (${code})`
          : `network error (${e instanceof Error ? e.name : 'unknown'})`,
      };
    }
  }
}

function report(opts: HttpOptions, p: Prepared, attempt: number, r: AttemptResult, durationMs: number): void {
  if (!opts.onExchange) return;
  const x: HttpExchange = {
    method: p.method,
    url: p.safe,
    attempt,
    requestHeaders: redactHeaders(p.headers),
    durationMs,
  };
  if (p.shownBody !== undefined) x.requestBody = p.shownBody;
  if (r.ok) {
    x.status = r.answer.status;
    x.responseHeaders = redactHeaders(r.answer.headers);
    if (r.answer.text !== undefined) {
      const shown = redactBodyText(r.answer.text);
      x.responseBody = shown.length > EXCHANGE_BODY_LIMIT ? `${shown.slice(0, EXCHANGE_BODY_LIMIT)}…` : shown;
    } else x.responseBody = `(body larger than the cap; ${r.answer.bytes} bytes read)`;
  } else x.error = r.failure.timeout ? 'timeout' : r.failure.reason;
  try {
    opts.onExchange(x);
  } catch {
    // a debug hook must never break a token request
  }
}
