/**
 * The CLI with a DPoP profile: `tokenward token --header --dpop-for METHOD URL` prints both headers and the
 * verifying API accepts them; `tokenward request` sends proofs (the API's nonce dance included); usage
 * errors for a bad `--dpop-for`.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { type TempHome, tempHome, tw } from '../cli/helpers.js';
import { type DpopApi, type DpopProvider, startDpopApi, startDpopProvider } from './helpers.js';

let home: TempHome;
let provider: DpopProvider;
let api: DpopApi;

function writeConfig(extra: string[] = ['dpop = true'], h: TempHome = home): void {
  mkdirSync(dirname(h.config), { recursive: true });
  writeFileSync(
    h.config,
    [
      '[profiles.bound]',
      `token_url = "${provider.tokenUrl}"`,
      `client_id = "${provider.client.clientId}"`,
      'client_secret = "env:TW_SECRET"',
      'scope = "api:read"',
      `api_base_url = "${api.url}"`,
      ...extra,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}

const env = (): NodeJS.ProcessEnv => ({ ...home.env, TW_SECRET: provider.client.clientSecret });

describe('CLI with dpop', () => {
  before(async () => {
    home = tempHome();
    provider = await startDpopProvider({ requireNonce: true });
    api = await startDpopApi(provider);
    writeConfig();
  });
  after(async () => {
    await api.close();
    await provider.close();
    home.cleanup();
  });

  test('token --header --dpop-for METHOD URL prints Authorization: DPoP and a proof the API accepts', async () => {
    const r = await tw(['token', 'bound', '--header', '--dpop-for', 'PUT', `${api.url}/items/7?x=1`], {
      env: env(),
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^Authorization: DPoP \S+$/);
    assert.match(lines[1]!, /^DPoP: eyJ\S+$/);
    api.verdicts.length = 0;
    const res = await fetch(`${api.url}/items/7?x=1`, {
      method: 'PUT',
      headers: {
        authorization: lines[0]!.slice('Authorization: '.length),
        dpop: lines[1]!.slice('DPoP: '.length),
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(
      api.verdicts.map((v) => v.reason),
      ['ok'],
    );
    // The same value form: --dpop-for "GET URL".
    const again = await tw(['token', 'bound', '--header', '--dpop-for', `get ${api.url}/x`], { env: env() });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Authorization: DPoP \S+\nDPoP: eyJ\S+\n$/);
  });

  test('two processes at once with an empty cache make one key pair: the same jkt in both proofs and tokens', async () => {
    const h = tempHome();
    try {
      writeConfig(['dpop = true'], h);
      const run = () =>
        tw(['token', 'bound', '--header', '--dpop-for', 'GET', `${api.url}/two`], {
          env: { ...h.env, TW_SECRET: provider.client.clientSecret },
        });
      const runs = await Promise.all([run(), run()]);
      const jkts = new Set<string>();
      for (const r of runs) {
        assert.equal(r.code, 0, r.stderr);
        const [authorization, proof] = r.stdout.trimEnd().split('\n');
        const jwk = decodeProtectedHeader(proof!.slice('DPoP: '.length)).jwk as JWK;
        jkts.add(await calculateJwkThumbprint(jwk, 'sha256'));
        const token = authorization!.slice('Authorization: DPoP '.length);
        jkts.add(String((decodeJwt(token) as { cnf?: { jkt?: string } }).cnf?.jkt));
      }
      assert.equal(jkts.size, 1, `keys: ${[...jkts].join(', ')}`);
    } finally {
      h.cleanup();
    }
  });

  test('token --header without --dpop-for warns that a proof is needed', async () => {
    const r = await tw(['token', 'bound', '--header'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Authorization: DPoP \S+\n$/);
    assert.match(r.stderr, /--dpop-for/);
  });

  test('status shows the token entry, not the key pair entry', async () => {
    const r = await tw(['status', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Array<{
      profile: string;
      cached: boolean;
      counts: { renewals: number } | null;
    }>;
    const row = rows.find((x) => x.profile === 'bound');
    assert.equal(row?.cached, true);
    assert.ok((row?.counts?.renewals ?? 0) >= 1);
  });

  test('profiles add takes dpop=true and dpop=ALG', async () => {
    const h = tempHome();
    try {
      const add = (name: string, v: string) =>
        tw(
          [
            'profiles',
            'add',
            name,
            `token_url=${provider.tokenUrl}`,
            'client_id=c',
            'client_secret=env:X',
            `dpop=${v}`,
          ],
          {
            env: { ...h.env, TOKENWARD_CONFIG: h.config },
          },
        );
      for (const [name, v, shown] of [
        ['a', 'true', true],
        ['b', 'PS256', 'PS256'],
      ] as const) {
        const r = await add(name, v);
        assert.equal(r.code, 0, r.stderr);
        const s = await tw(['profiles', 'show', name, '--json'], {
          env: { ...h.env, TOKENWARD_CONFIG: h.config },
        });
        assert.equal((JSON.parse(s.stdout) as { dpop?: unknown }).dpop, shown);
      }
      const bad = await add('c', 'HS256');
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /dpop/);
    } finally {
      h.cleanup();
    }
  });

  test('bad --dpop-for is a usage error', async () => {
    for (const args of [
      ['token', 'bound', '--dpop-for', 'GET', `${api.url}/x`],
      ['token', 'bound', '--header', '--dpop-for', 'GET'],
      ['token', 'bound', '--header', '--dpop-for', 'G3T', `${api.url}/x`],
      ['token', 'bound', '--header', '--dpop-for', 'GET', 'ftp://x/y'],
    ]) {
      const r = await tw(args, { env: env() });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /--dpop-for/);
    }
  });

  test('request sends a proof; the API nonce is answered once; the proof is not printed with -v', async () => {
    api.requireNonce = true;
    api.verdicts.length = 0;
    try {
      const r = await tw(['request', 'bound', '-v', `${api.url}/things`], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { ok: true, path: '/things' });
      assert.deepEqual(
        api.verdicts.map((v) => `${v.status} ${v.reason}`),
        ['401 nonce', '200 ok'],
      );
      for (const v of api.verdicts) {
        assert.ok(!r.stderr.includes(v.dpop!), 'the proof is in the trace');
        assert.ok(!r.stderr.includes(v.authorization!.slice(5)), 'the token is in the trace');
      }
    } finally {
      api.requireNonce = false;
    }
  });
});
