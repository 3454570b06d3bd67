/**
 * `expires_on` in milliseconds, as a user meets it: an Acronis-like token endpoint (client_credentials,
 * HTTP Basic, an answer with an absolute `expires_on` and no `expires_in`) behind the front door
 * (createTokenManager with `provider = "acronis"`). The token must expire when the server says, whether
 * it says so in epoch seconds or epoch milliseconds — read as seconds, milliseconds would be a date
 * thousands of years ahead, clamped to the maximum lifetime, and the token kept far too long.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTokenManager } from '../src/front-door.js';
import { closeAgents } from '../src/http/agent.js';
import { DEFAULT_MAX_LIFETIME_SECONDS } from '../src/token.js';
import { type Loopback, startLoopback } from './helpers/loopback.js';

const CLIENT_ID = 'acronis-like-client';
const CLIENT_SECRET = 'acronis-like-secret-7f2c';
/** What the server puts in `expires_on` for the next answer. */
let expiresOn: number | string = 0;
let lb: Loopback;

before(async () => {
  lb = await startLoopback((req, res) => {
    const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
    const form = new URLSearchParams(req.body);
    if (
      req.method !== 'POST' ||
      req.url !== '/api/2/idp/token' ||
      req.headers.authorization !== basic ||
      form.get('grant_type') !== 'client_credentials'
    ) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'unauthorized_client' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        access_token: `acr-${lb.requests.length}`,
        token_type: 'bearer',
        expires_on: expiresOn,
      }),
    );
  });
});
after(async () => {
  await lb.close();
  await closeAgents();
});

/** An absolute expiry one hour ahead, on a whole second. */
const inAnHour = (): number => (Math.floor(Date.now() / 1000) + 3600) * 1000;

describe('expires_on through the front door (provider acronis)', () => {
  for (const [unit, encode] of [
    ['milliseconds', (ms: number) => ms],
    ['milliseconds as a string', (ms: number) => String(ms)],
    ['seconds', (ms: number) => ms / 1000],
  ] as const) {
    it(`in ${unit}: the token expires when the server says, and is served from the cache until then`, async () => {
      const at = inAnHour();
      expiresOn = encode(at);
      const m = await createTokenManager({
        provider: 'acronis',
        datacenter_url: lb.url,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        store: 'memory',
      });
      try {
        const before = lb.requests.length;
        const t = await m.getToken();
        assert.equal(lb.requests.length - before, 1, 'one token request');
        assert.equal(t.expiresAt, at, `expiresAt ${new Date(t.expiresAt).toISOString()}`);
        assert.equal(t.expirySource, 'expires_on');
        assert.ok(t.expiresAt - t.obtainedAt < DEFAULT_MAX_LIFETIME_SECONDS * 1000, 'not clamped');
        const again = await m.getToken();
        assert.equal(again.accessToken, t.accessToken);
        assert.equal(lb.requests.length - before, 1, 'the second getToken() is served from the cache');
      } finally {
        await m.close();
      }
    });
  }
});
