/**
 * Shared pieces of the grant tests: a recording token endpoint on loopback whose answer each test sets,
 * a grant context with a standing clock, and readers for what a grant sent (its one request, its form,
 * its HTTP Basic credentials).
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, beforeEach } from 'node:test';
import { type ClientAuthProfile, createClientAuth } from '../../src/auth/index.js';
import type { GrantContext } from '../../src/grants/types.js';
import { json, type Loopback, raw, type SeenRequest, startLoopback } from '../helpers/loopback.js';

/** The grant tests' clock (ms): every token's `obtainedAt`. */
export const NOW = 1_800_000_000_000;

/**
 * The client the grant tests authenticate as. The secret has characters that RFC 6749 §2.3.1
 * form-encodes before Base64.
 */
export const CLIENT = { id: 'grant-test-client', secret: 'grant s3cret+/:(x)' } as const;

/** The token endpoint's path. */
export const TOKEN_PATH = '/oauth/token';

/** A recording token endpoint (see {@link useTokenEndpoint}). */
export interface TokenEndpoint {
  /** `http://127.0.0.1:<port>/oauth/token`. */
  readonly tokenUrl: string;
  /** Every request since the test began. */
  readonly requests: SeenRequest[];
  /** Answers every request with `body` as JSON. */
  answer(status: number, body: unknown, headers?: Record<string, string>): void;
  /** Answers every request with `body` as it is. */
  answerRaw(status: number, body: string, contentType?: string): void;
  /** Answers request `n` (1-based) as `answerFor(n)` says. */
  answerEach(answerFor: (n: number, req: SeenRequest, res: ServerResponse) => void): void;
}

/**
 * Registers the hooks of a grant test file: the endpoint starts once, closes after the file, and before
 * each test forgets its requests and answers `{"access_token": "at-default", "expires_in": 3600}`.
 */
export function useTokenEndpoint(): TokenEndpoint {
  let lb: Loopback | undefined;
  const server = (): Loopback => {
    assert.ok(lb !== undefined, 'the token endpoint is not started');
    return lb;
  };
  const ok = (_req: SeenRequest, res: ServerResponse) =>
    json(res, 200, { access_token: 'at-default', token_type: 'Bearer', expires_in: 3600 });
  before(async () => {
    lb = await startLoopback(ok);
  });
  after(() => server().close());
  beforeEach(() => {
    server().requests.length = 0;
    server().handler = ok;
  });
  return {
    get tokenUrl() {
      return `${server().url}${TOKEN_PATH}`;
    },
    get requests() {
      return server().requests;
    },
    answer(status, body, headers = {}) {
      server().handler = (_req, res) => json(res, status, body, headers);
    },
    answerRaw(status, body, contentType) {
      server().handler = (_req, res) => raw(res, status, body, contentType);
    },
    answerEach(answerFor) {
      server().handler = (req, res, n) => answerFor(n, req, res);
    },
  };
}

/**
 * A grant context for `tokenUrl` with the client authentication `auth` builds, no retries and the
 * standing clock {@link NOW}.
 */
export function grantContext(
  tokenUrl: string,
  auth: ClientAuthProfile = { client_id: CLIENT.id, client_secret: CLIENT.secret },
  extra: Partial<GrantContext> = {},
): GrantContext {
  return { tokenUrl, clientAuth: createClientAuth(auth), http: { retries: 0 }, now: () => NOW, ...extra };
}

/**
 * The one request the endpoint saw, checked to be a form POST to the token path with nothing in the
 * query string (so no secret in the URL), and its form fields (each name once).
 */
export function onlyFormRequest(ep: TokenEndpoint): { req: SeenRequest; form: Record<string, string> } {
  assert.equal(ep.requests.length, 1, 'exactly one token request');
  const req = ep.requests[0] as SeenRequest;
  assert.equal(req.method, 'POST');
  assert.equal(req.url, TOKEN_PATH, 'no query string');
  assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(req.headers.accept, 'application/json');
  const entries = [...new URLSearchParams(req.body)];
  const form = Object.fromEntries(entries);
  assert.equal(Object.keys(form).length, entries.length, 'no form field twice');
  return { req, form };
}

/** The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1 decoding), if any. */
export function basicCredentials(req: SeenRequest): { id: string; secret: string } | undefined {
  const m = /^Basic (\S+)$/.exec(req.headers.authorization ?? '');
  if (m === null) return undefined;
  const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
  return { id: formDecode(decoded.slice(0, i)), secret: formDecode(decoded.slice(i + 1)) };
}
