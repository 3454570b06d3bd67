/**
 * Request and reply primitives shared by the vendor emulators: the request as a handler sees it, the
 * reply it returns, and strict parsers for forms, JSON bodies, HTTP Basic and Bearer credentials.
 * @module
 */

import type { IncomingHttpHeaders } from 'node:http';

/** Largest request body read, bytes; a bigger one is answered 413. */
export const MAX_BODY_BYTES = 64 * 1024;

/** A request as a handler sees it: the body is already read (and capped). */
export interface SandboxRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Path parameters captured by the route pattern, decoded. */
  params: string[];
}

/** What a handler answers. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** A string or Buffer is sent as is; anything else is sent as JSON. Undefined: no body. */
  body?: unknown;
  /** Set on a token answer: the grant that issued it (counted in the stats). */
  grant?: string;
}

/** A JSON reply. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, body, headers };
}

/** An OAuth 2.0 error reply (RFC 6749 §5.2): `{error, error_description}`. */
export function oauthError(
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): Reply {
  return json(status, { error, error_description: description }, headers);
}

/** Serialises a reply body: the bytes and the content type to use when the reply sets none. */
export function encodeBody(body: unknown): { bytes: Buffer; type?: string } {
  if (body === undefined) return { bytes: Buffer.alloc(0) };
  if (Buffer.isBuffer(body)) return { bytes: body };
  if (typeof body === 'string')
    return { bytes: Buffer.from(body, 'utf8'), type: 'text/plain; charset=utf-8' };
  return { bytes: Buffer.from(JSON.stringify(body), 'utf8'), type: 'application/json;charset=UTF-8' };
}

/** The media type of a request (lower case, without parameters) and its charset, if any. */
export function mediaType(headers: IncomingHttpHeaders): { type: string; charset?: string } {
  const raw = headers['content-type'] ?? '';
  const [type = '', ...params] = raw.split(';');
  const out: { type: string; charset?: string } = { type: type.trim().toLowerCase() };
  for (const p of params) {
    const [k, v] = p.split('=');
    if (k?.trim().toLowerCase() === 'charset' && v !== undefined) {
      out.charset = v.trim().replace(/^"|"$/g, '').toLowerCase();
    }
  }
  return out;
}

/** Why a body was not accepted. */
export type BodyProblem = 'content-type' | 'encoding' | 'duplicate' | 'syntax';

/** Result of a strict body parse. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: BodyProblem; detail: string };

function utf8Ok(charset: string | undefined): boolean {
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}

/**
 * Parses an `application/x-www-form-urlencoded` body. Refuses another content type, a charset other
 * than UTF-8, and a parameter given twice (RFC 6749 §3.2: "MUST NOT be included more than once").
 */
export function parseForm(req: SandboxRequest): Parsed<Map<string, string>> {
  const mt = mediaType(req.headers);
  if (mt.type !== 'application/x-www-form-urlencoded') {
    return {
      ok: false,
      problem: 'content-type',
      detail: 'Content-Type must be application/x-www-form-urlencoded',
    };
  }
  if (!utf8Ok(mt.charset)) return { ok: false, problem: 'encoding', detail: 'charset must be UTF-8' };
  const params = new URLSearchParams(req.body.toString('utf8'));
  const out = new Map<string, string>();
  for (const [k, v] of params) {
    if (out.has(k)) return { ok: false, problem: 'duplicate', detail: `parameter ${k} given more than once` };
    out.set(k, v);
  }
  return { ok: true, value: out };
}

/** Parses a JSON object body sent as `application/json` (charset, if given, UTF-8). */
export function parseJsonObject(req: SandboxRequest): Parsed<Record<string, unknown>> {
  const mt = mediaType(req.headers);
  if (mt.type !== 'application/json') {
    return { ok: false, problem: 'content-type', detail: 'Content-Type must be application/json' };
  }
  if (!utf8Ok(mt.charset)) return { ok: false, problem: 'encoding', detail: 'charset must be UTF-8' };
  let value: unknown;
  try {
    value = JSON.parse(req.body.toString('utf8'));
  } catch {
    return { ok: false, problem: 'syntax', detail: 'the body is not valid JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, problem: 'syntax', detail: 'the body must be a JSON object' };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/** Client credentials from an `Authorization: Basic` header. */
export interface BasicCredentials {
  /** Exactly as sent (what the seeds' Python clients send: no form-encoding). */
  id: string;
  secret: string;
}

/**
 * Reads `Authorization: Basic base64(id:secret)`. Undefined when the header is absent, not Basic, or not
 * decodable into `id:secret`.
 */
export function parseBasic(headers: IncomingHttpHeaders): BasicCredentials | undefined {
  const h = headers.authorization;
  if (h === undefined) return undefined;
  const m = /^basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(h);
  if (m === null || m[1] === undefined) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

function formDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * True when Basic credentials name `id` and `secret`: either as sent raw (the seeds' clients) or
 * form-encoded first (RFC 6749 §2.3.1). For credentials made only of unreserved characters — all the
 * demo ones — both forms are the same bytes.
 */
export function basicMatches(creds: BasicCredentials, id: string, secret: string): boolean {
  if (creds.id === id && creds.secret === secret) return true;
  return formDecode(creds.id) === id && formDecode(creds.secret) === secret;
}

/** The token of an `Authorization: Bearer` header, if there is one. */
export function bearer(headers: IncomingHttpHeaders): string | undefined {
  const h = headers.authorization;
  if (h === undefined) return undefined;
  const m = /^bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i.exec(h);
  return m?.[1];
}

/** True for a canonical UUID string (any version). */
export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}
