/**
 * Against the sandbox's Acronis emulator: a token that expired on the server (the sandbox's clock moved
 * past its lifetime while the manager still holds it) gets a 401 on `GET /api/2/clients/{id}`; each
 * integration then obtains exactly one new token and retries once — proven by the sandbox's own
 * statistics at `/_sandbox/stats`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { originsFromProfile } from '../../src/fetch/index.js';
import { createTokenManager } from '../../src/front-door.js';
import { type Sandbox, type SandboxStats, sandboxProfiles, startSandbox } from '../../src/sandbox/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { INTEGRATIONS } from './helpers.js';

let sandbox: Sandbox;
let offsetMs = 0;

before(async () => {
  sandbox = await startSandbox({ port: 0, clock: () => Date.now() + offsetMs });
});
after(() => sandbox.close());

async function stats(): Promise<SandboxStats> {
  const res = await fetch(`${sandbox.url}/_sandbox/stats`);
  assert.equal(res.status, 200);
  return (await res.json()) as SandboxStats;
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

describe('sandbox: Acronis GET /api/2/clients/{id} with a token that expired on the server', () => {
  for (const integration of INTEGRATIONS) {
    it(`${integration.name}: one new token, one retry`, async () => {
      sandbox.reset();
      offsetMs = 0;
      const profile = sandboxProfiles(sandbox).acronis;
      const manager = await createTokenManager(profile, { store: new MemoryStore(), onWarning: () => {} });
      const client = integration.make(manager, { origins: originsFromProfile(profile) });
      try {
        const url = `${sandbox.url}/api/2/clients/${encodeURIComponent(profile.client_id ?? '')}`;
        const first = await client.send(url);
        assert.equal(first.status, 200);
        assert.equal((JSON.parse(first.text) as { client_id?: string }).client_id, profile.client_id);
        const before = await stats();
        assert.equal(sum(before.token.acronis), 1);
        assert.equal(before.api.acronis, 1);
        const stale = manager.peek()?.accessToken;

        offsetMs = 7300 * 1000; // past the 2-hour lifetime, on the sandbox's clock only
        const res = await client.send(url);
        assert.equal(res.status, 200);
        assert.notEqual(manager.peek()?.accessToken, stale);

        const s = await stats();
        assert.equal(sum(s.token.acronis), 2, 'exactly one new token');
        assert.equal(s.rejected.acronis, 1, 'one 401 for the expired token');
        assert.equal(s.api.acronis, 2, 'one successful retry');
        assert.equal(manager.counts.grants + manager.counts.refreshes, 2);
      } finally {
        await client.close();
        await manager.close();
      }
    });
  }
});
