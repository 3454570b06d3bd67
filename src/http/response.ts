/**
 * Interpretation of HTTP answers from token-like endpoints: strict JSON for 2xx, OAuth error fields for
 * the rest, with precise messages for HTML pages, empty and truncated bodies.
 * @module
 */

import { InvalidTokenResponseError, TokenEndpointError, UpstreamUnavailableError } from '../errors.js';
import { redactText } from '../redact.js';

/** What a single attempt got back. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  /** The body text; undefined when it was larger than the cap. */
  text?: string;
  /** Bytes read before giving up (for oversized bodies). */
  bytes: number;
}

/** Context for messages. */
export interface AnswerContext {
  /** What the endpoint is (`token endpoint`). */
  what: string;
  /** The endpoint without query string. */
  url: string;
  /** The response size cap, in bytes. */
  maxBytes: number;
}

function contentTypeOf(headers: Record<string, string>): string {
  return (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** True when the body looks like an HTML page (by content type or by its first character). */
export function looksLikeHtml(text: string, contentType: string): boolean {
  if (contentType === 'text/html' || contentType === 'application/xhtml+xml') return true;
  // `<!doctype html`, `<html` and any other markup but an XML declaration (`\s` is what trimStart() trims).
  return /^\s*<(?!\?xml)/i.test(text);
}

function ctLabel(contentType: string): string {
  return contentType ? `content-type ${contentType}` : 'no content-type';
}

function jsonErrorDetail(text: string): string {
  // Never quote the body or JSON.parse's message (it may carry a snippet): give only the position.
  try {
    // Called only after JSON.parse failed on this very text: it throws again, and only SyntaxErrors.
    JSON.parse(text);
    // Stryker disable next-line StringLiteral: unreachable (see above)
    return 'malformed JSON';
  } catch (e) {
    // Stryker disable next-line StringLiteral,ConditionalExpression: JSON.parse throws only Errors
    const msg = e instanceof Error ? e.message : '';
    const pos = /position (\d+)/.exec(msg)?.[1];
    // The parser stopped at (or past) the end of the text: the body was cut short.
    const truncated =
      /end of JSON input|Unterminated/i.test(msg) ||
      // Stryker disable next-line ConditionalExpression: Number(undefined) is NaN, never >= a length
      (pos !== undefined && Number(pos) >= text.trimEnd().length);
    return `${truncated ? 'truncated JSON' : 'malformed JSON'}${pos ? ` (parse error at byte ${pos})` : ''}`;
  }
}

function describeJson(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return `a ${typeof v}`;
}

/**
 * Parses a 2xx body strictly: it must be a JSON object. Throws {@link InvalidTokenResponseError} with a
 * message that says what came instead (an HTML page, an empty body, truncated JSON, a non-object…).
 */
export function parseSuccessBody(answer: RawAnswer, ctx: AnswerContext): Record<string, unknown> {
  const head = `${ctx.what} ${ctx.url} answered HTTP ${answer.status}`;
  const ct = contentTypeOf(answer.headers);
  if (answer.text === undefined) {
    throw new InvalidTokenResponseError(
      ctx.url,
      answer.status,
      `${head} with a body larger than ${ctx.maxBytes} bytes; stopped reading (raise maxResponseBytes if this is expected)`,
    );
  }
  const text = answer.text;
  if (text.trim() === '') {
    throw new InvalidTokenResponseError(
      ctx.url,
      answer.status,
      `${head} with an empty body (${ctLabel(ct)}), not JSON`,
    );
  }
  if (looksLikeHtml(text, ct)) {
    throw new InvalidTokenResponseError(
      ctx.url,
      answer.status,
      `${head} with an HTML page (${ctLabel(ct)}), not JSON; check the URL (a login page or a proxy may be answering)`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidTokenResponseError(
      ctx.url,
      answer.status,
      `${head} with ${jsonErrorDetail(text)} (${ctLabel(ct)}, ${Buffer.byteLength(text)} bytes)`,
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidTokenResponseError(
      ctx.url,
      answer.status,
      `${head} with JSON that is ${describeJson(body)}, not an object`,
    );
  }
  return body as Record<string, unknown>;
}

/** The OAuth error fields of an error body, when it has them (`{error, error_description}` or `{error: {code, message}}`). */
export function oauthErrorFields(text: string | undefined): { error?: string; errorDescription?: string } {
  // Stryker disable next-line ConditionalExpression: JSON.parse(undefined) throws too, into the same {}
  if (text === undefined) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
    // Stryker disable next-line BlockStatement: an undefined body is refused by the next check as well
  } catch {
    return {};
  }
  // Stryker disable next-line ConditionalExpression: a string, number or boolean has no error fields either
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return {};
  const b = body as Record<string, unknown>;
  const out: { error?: string; errorDescription?: string } = {};
  // Redact first, then clip: a secret straddling the cut would otherwise survive in part.
  const err = b['error'];
  if (typeof err === 'string') out.error = clip(redactText(err), 200);
  else if (typeof err === 'object' && err !== null) {
    const e = err as Record<string, unknown>;
    if (typeof e['code'] === 'string') out.error = clip(redactText(e['code']), 200);
    if (typeof e['message'] === 'string') out.errorDescription = clip(redactText(e['message']), 500);
  }
  const desc = b['error_description'] ?? b['message'];
  if (typeof desc === 'string') out.errorDescription = clip(redactText(desc), 500);
  return out;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function hintFor(status: number, error: string | undefined): string {
  if (error === 'invalid_client' || status === 401)
    return '; check client_id, the client secret or key, and auth_method';
  if (error === 'invalid_grant') return '; the credentials, code or refresh token were not accepted';
  if (error === 'invalid_scope') return '; check the scope the profile asks for';
  if (error === 'invalid_dpop_proof' || error === 'use_dpop_nonce')
    return '; the server refused the proof of possession (profile key `dpop`): check its algorithm and the clock';
  if (error === 'unauthorized_client' || error === 'unsupported_grant_type')
    return '; the client is not allowed to use this grant';
  if (status === 429) return '; the server is rate limiting, try again later';
  if (status >= 500) return '; the server failed, try again later';
  return '';
}

/** Statuses that say the endpoint is there but not serving now: {@link UpstreamUnavailableError}. */
export const UNAVAILABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** The `Location` of a redirect as safe to show: origin and path, no query, fragment or credentials. */
function redirectTarget(location: string | undefined, base: string): string | undefined {
  if (location === undefined || location.trim() === '') return undefined;
  try {
    const u = new URL(location, base);
    return `${u.protocol}//${u.host}${u.pathname}`;
    // Stryker disable next-line BlockStatement: an emptied catch returns undefined as well
  } catch {
    return undefined;
  }
}

/**
 * Builds the error for a non-2xx answer: {@link UpstreamUnavailableError} for 429/502/503/504 (the caller
 * gives up on them only after its retries, or when `Retry-After` exceeds `retryBudgetMs`), else
 * {@link TokenEndpointError}. A redirect is never followed (the request carries credentials): it is an
 * error naming where the server pointed.
 */
export function errorForStatus(
  answer: RawAnswer,
  ctx: AnswerContext,
  extra: { attempts: number; retryAfter?: number; retryBudgetMs?: number },
): TokenEndpointError {
  const ct = contentTypeOf(answer.headers);
  const fields = oauthErrorFields(answer.text);
  const after = extra.attempts > 1 ? ` after ${extra.attempts} attempts` : '';
  const head = `${ctx.what} ${ctx.url} answered HTTP ${answer.status}${after}`;
  const unavailable = UNAVAILABLE_STATUSES.has(answer.status);
  const body: { error?: string; errorDescription?: string; retryAfter?: number } = { ...fields };
  // Stryker disable next-line ConditionalExpression: the error's constructor leaves out a retryAfter of undefined
  if (extra.retryAfter !== undefined) body.retryAfter = extra.retryAfter;
  if (answer.status >= 300 && answer.status < 400) {
    const target = redirectTarget(answer.headers['location'], ctx.url);
    const to = target === undefined ? 'a redirect' : `a redirect to ${target}`;
    return new TokenEndpointError(
      ctx.url,
      answer.status,
      body,
      `${head} with ${to}; tokenward does not follow redirects from a ${ctx.what} (the request carries credentials): set the URL to the final endpoint`,
    );
  }
  if (unavailable && extra.retryBudgetMs !== undefined && extra.retryAfter !== undefined) {
    return new UpstreamUnavailableError(
      ctx.url,
      answer.status,
      body,
      `${head} and asked to retry after ${extra.retryAfter} s, longer than the retry budget (${Math.round(extra.retryBudgetMs / 1000)} s); not retried now, try again after that`,
    );
  }
  let message: string;
  if (fields.error !== undefined || fields.errorDescription !== undefined) {
    const detail = [fields.error, fields.errorDescription].filter(Boolean).join(': ');
    message = `${head} (${detail})${hintFor(answer.status, fields.error)}`;
  } else if (answer.text === undefined) {
    message = `${head} with an error body larger than ${ctx.maxBytes} bytes${hintFor(answer.status, undefined)}`;
  } else if (answer.text.trim() === '') {
    message = `${head} with an empty body${hintFor(answer.status, undefined)}`;
  } else if (looksLikeHtml(answer.text, ct)) {
    message = `${head} with an HTML error page (${ctLabel(ct)}), not an OAuth JSON error${hintFor(answer.status, undefined)}`;
  } else {
    // Redact the text as received, then collapse whitespace and clip: collapsing or cutting first would
    // change a secret that contains whitespace, or cut one in two, so that redaction no longer finds it.
    const oneLine = redactText(answer.text).replace(/\s+/g, ' ').trim();
    message = `${head}: ${JSON.stringify(clip(oneLine, 120))}${hintFor(answer.status, undefined)}`;
  }
  if (unavailable) {
    if (extra.retryAfter !== undefined) message += ` (Retry-After: ${extra.retryAfter} s)`;
    return new UpstreamUnavailableError(ctx.url, answer.status, body, message);
  }
  return new TokenEndpointError(ctx.url, answer.status, body, message);
}
