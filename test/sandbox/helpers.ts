/** Shared helpers for the sandbox tests: raw requests shaped the way the seeds send them. */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../src/sandbox/index.js';

/** A sandbox whose clock the test can move forward. */
export interface ClockedSandbox {
  sandbox: Sandbox;
  /** Moves the sandbox clock forward by `seconds`. */
  advance(seconds: number): void;
  /** Current sandbox time, epoch seconds. */
  nowS(): number;
}

/** Starts a sandbox with a movable clock. */
export async function startClocked(options: Omit<SandboxOptions, 'clock'> = {}): Promise<ClockedSandbox> {
  let offset = 0;
  const clock = () => Date.now() + offset;
  const sandbox = await startSandbox({ ...options, clock });
  return {
    sandbox,
    advance(seconds) {
      offset += seconds * 1000;
    },
    nowS: () => Math.floor(clock() / 1000),
  };
}

/** `Basic base64(id:secret)`, without form-encoding — what Python `requests` and the seeds send. */
export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`, 'utf8').toString('base64')}`;
}

/** POSTs a form body. */
export function postForm(
  url: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

/** GETs with a Bearer token. */
export function getBearer(url: string, token: string): Promise<Response> {
  return fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
}

/** Reads a JSON body as a plain record. */
export async function body(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

/** Claims of a Cylance auth token, as the seeds build them (integer seconds). */
export interface CylanceClaims {
  exp?: number;
  iat?: number;
  iss?: string;
  sub?: string;
  tid?: string;
  jti?: string;
  /** As the seeds send it (a list or a string); tests also send wrong types. */
  scp?: unknown;
  [k: string]: unknown;
}

/**
 * Builds a Cylance auth token like seed 000: HS256 with the app secret, `typ: JWT` (PyJWT adds it),
 * claims exp/iat/iss/sub/tid/jti (+ scp). `omit` drops claims; `secret` overrides the key.
 */
export async function cylanceAuthToken(
  sandbox: Sandbox,
  nowS: number,
  overrides: CylanceClaims = {},
  opts: { omit?: string[]; secret?: string } = {},
): Promise<string> {
  const c = sandbox.credentials.cylance;
  const claims: CylanceClaims = {
    exp: nowS + 1800,
    iat: nowS,
    iss: 'http://cylance.com',
    sub: c.appId,
    tid: c.tenantId,
    jti: randomUUID(),
    ...overrides,
  };
  for (const k of opts.omit ?? []) delete claims[k];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(opts.secret ?? c.appSecret));
}

/** POSTs `{"auth_token": …}` the way the seeds do. */
export function postCylance(
  sandbox: Sandbox,
  authToken: string,
  contentType = 'application/json; charset=utf-8',
) {
  return fetch(`${sandbox.url}/auth/v2/token`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: JSON.stringify({ auth_token: authToken }),
  });
}
