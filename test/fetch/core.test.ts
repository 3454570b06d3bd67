/**
 * The request core on its own: routing, the redirect policy, and how a challenge is settled — with the
 * default Bearer scheme and with a scheme of the kind DPoP will plug in (one `'resend'` with the same
 * token). Pure: no network; the token source counts its calls.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InsecureEndpointError, TokenwardError } from '../../src/errors.js';
import {
  type Attachment,
  CROSS_ORIGIN_STRIPPED,
  type CredentialScheme,
  RequestCore,
  type RequestTarget,
  type ResponseInfo,
} from '../../src/fetch/core.js';
import type { TokenSource } from '../../src/fetch/index.js';

const API = 'https://api.example.com';

/** A token source like the manager: `t1` until it is invalidated, then `t2`…; counts and records calls. */
function countingSource(): TokenSource & { gets: number; invalidated: string[] } {
  let current = 1;
  const source = {
    gets: 0,
    invalidated: [] as string[],
    getToken: async () => {
      source.gets++;
      return { accessToken: `t${current}`, tokenType: 'bearer' };
    },
    invalidate: (t: string) => {
      source.invalidated.push(t);
      if (t === `t${current}`) current++;
    },
  };
  return source;
}

function answer(status: number, headers: Record<string, string> = {}, extra: Partial<ResponseInfo> = {}) {
  return { status, header: (name: string) => headers[name.toLowerCase()], ...extra };
}

describe('RequestCore.route', () => {
  it('attaches for an allowed origin, sends plain otherwise or when the caller set Authorization', () => {
    const core = new RequestCore(countingSource(), { origins: [API] });
    assert.equal(core.route(`${API}/v1`, false), 'attach');
    assert.equal(core.route(API, false), 'attach');
    assert.equal(core.route(`${API}/v1`, true), 'plain');
    assert.equal(core.route('https://api.example.com.evil.test/', false), 'plain');
  });

  it("refuses a foreign origin under onForeignOrigin: 'throw', naming the URL without its query", () => {
    const core = new RequestCore(countingSource(), { origins: [API], onForeignOrigin: 'throw' });
    assert.throws(
      () => core.route('https://other.example.com', false, () => 'https://other.example.com/x?key=s3cr3t'),
      (err: unknown) =>
        err instanceof InsecureEndpointError &&
        err.message.includes('https://other.example.com/x') &&
        !err.message.includes('s3cr3t'),
    );
  });
});

describe('RequestCore.attach', () => {
  it('asks the source once and writes the Bearer header; an aborted signal asks nothing', async () => {
    const source = countingSource();
    const core = new RequestCore(source, { origins: [API] });
    const a = core.attach({ method: 'GET', url: `${API}/x` }, await core.token());
    assert.ok(!(a instanceof Promise), 'the Bearer scheme attaches synchronously');
    assert.deepEqual(a.headers, { authorization: 'Bearer t1' });
    assert.equal(source.gets, 1);
    await assert.rejects(
      core.token(AbortSignal.abort(new Error('stop'))),
      (err: unknown) => err instanceof Error && err.message === 'stop',
    );
    assert.equal(source.gets, 1);
  });

  it('refuses a token that would split the header, without naming it', async () => {
    const core = new RequestCore(
      { getToken: async () => ({ accessToken: 'a\r\nb', tokenType: 'Bearer' }), invalidate: () => {} },
      { origins: [API] },
    );
    await assert.rejects(
      async () => core.attach({ method: 'GET', url: API }, await core.token()),
      (err: unknown) =>
        err instanceof TokenwardError &&
        err.code === 'ERR_INVALID_TOKEN_RESPONSE' &&
        !err.message.includes('a\r\nb'),
    );
  });
});

describe('RequestCore.hop', () => {
  const core = new RequestCore(countingSource(), { origins: [API, 'https://files.example.com'] });

  it('keeps everything on the same origin, drops the caller’s credentials across origins', () => {
    assert.deepEqual(core.hop(`${API}/a`, `${API}/b`), { drop: [], carry: true });
    assert.deepEqual(core.hop(`${API}/a`, 'https://files.example.com/b'), {
      drop: CROSS_ORIGIN_STRIPPED,
      carry: true,
    });
    assert.deepEqual(core.hop(`${API}/a`, 'https://sub.api.example.com/b'), {
      drop: CROSS_ORIGIN_STRIPPED,
      carry: false,
    });
    assert.deepEqual([...CROSS_ORIGIN_STRIPPED].sort(), [
      'authorization',
      'cookie',
      'host',
      'proxy-authorization',
    ]);
  });
});

describe('RequestCore.settle', () => {
  const target: RequestTarget = { method: 'GET', url: `${API}/x` };

  it('our 401: invalidates the token once and asks for a retry; not when the body cannot be replayed', async () => {
    const source = countingSource();
    const core = new RequestCore(source, { origins: [API] });
    const a = await core.attach(target, await core.token());
    assert.equal(
      core.settle(a, answer(401), () => true),
      true,
    );
    assert.equal(
      core.settle(a, answer(401), () => false),
      false,
    );
    assert.deepEqual(source.invalidated, ['t1', 't1']);
  });

  it('a 403 counts only with error="invalid_token"; a 2xx or 3xx is never a challenge', async () => {
    const source = countingSource();
    const core = new RequestCore(source, { origins: [API] });
    const a = await core.attach(target, await core.token());
    assert.equal(
      core.settle(a, answer(403), () => true),
      false,
    );
    assert.equal(
      core.settle(a, answer(403, { 'www-authenticate': 'Bearer error="invalid_token"' }), () => true),
      true,
    );
    for (const status of [200, 302]) {
      assert.equal(
        core.settle(a, answer(status), () => true),
        false,
      );
    }
    assert.deepEqual(source.invalidated, ['t1']);
  });

  it('a 401 that is not ours (token not carried, or a foreign URL) is left alone', async () => {
    const source = countingSource();
    const core = new RequestCore(source, { origins: [API] });
    const a = await core.attach(target, await core.token());
    assert.equal(
      core.settle(a, answer(401, {}, { carried: false }), () => true),
      false,
    );
    assert.equal(
      core.settle(a, answer(401, {}, { url: 'https://other.example.com/landing' }), () => true),
      false,
    );
    assert.equal(
      core.settle(a, answer(401, {}, { url: `${API}/landing` }), () => true),
      true,
    );
    assert.deepEqual(source.invalidated, ['t1']);
  });

  it('retryOn401: false leaves a rejected token alone', async () => {
    const source = countingSource();
    const core = new RequestCore(source, { origins: [API], retryOn401: false });
    const a = await core.attach(target, await core.token());
    assert.equal(
      core.settle(a, answer(401), () => true),
      false,
    );
    assert.deepEqual(source.invalidated, []);
  });

  it('a scheme of its own (the DPoP seam): prepare per target, a resend keeps the token', async () => {
    const prepared: string[] = [];
    let nonce = '';
    const scheme: CredentialScheme = {
      // asynchronous, as a proof signed with jose would be
      async prepare(t, token) {
        prepared.push(`${t.method} ${String(t.url)}`);
        return {
          authorization: `Proof ${token.accessToken}`,
          proof: `${t.method}|${String(t.url)}|${nonce}`,
        };
      },
      onChallenge(response: ResponseInfo, _attachment: Attachment) {
        const fresh = response.header('nonce');
        if (response.status === 401 && fresh !== undefined) {
          nonce = fresh;
          return 'resend';
        }
        return response.status === 401 ? 'renew' : undefined;
      },
    };
    const source = countingSource();
    const core = new RequestCore(source, { origins: [API] }, scheme);
    const a = await core.attach({ method: 'POST', url: `${API}/x` }, await core.token());
    assert.deepEqual(a.headers, { authorization: 'Proof t1', proof: `POST|${API}/x|` });
    assert.equal(
      core.settle(a, answer(401, { nonce: 'n-1' }), () => true),
      true,
    );
    assert.deepEqual(source.invalidated, [], 'a resend does not invalidate');
    const again = await core.attach({ method: 'POST', url: `${API}/x` }, await core.token());
    assert.deepEqual(again.headers, { authorization: 'Proof t1', proof: `POST|${API}/x|n-1` });
    const hop = await core.attach({ method: 'GET', url: `${API}/y` }, again.token);
    assert.deepEqual(hop.headers, { authorization: 'Proof t1', proof: `GET|${API}/y|n-1` });
    assert.deepEqual(prepared, [`POST ${API}/x`, `POST ${API}/x`, `GET ${API}/y`]);
    // without a nonce the 401 is a rejected token: renewed
    assert.equal(
      core.settle(hop, answer(401), () => true),
      true,
    );
    assert.deepEqual(source.invalidated, ['t1']);
    assert.equal(
      (await core.attach({ method: 'GET', url: `${API}/y` }, await core.token())).headers['authorization'],
      'Proof t2',
    );
  });
});
