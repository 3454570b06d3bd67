/**
 * Seed 004 (Refinitiv / LSEG Data Platform): a token by the password grant, reused from the cache (as
 * the seed reads its token file), then renewed by the refresh grant once it has expired, and used for
 * the time series the seed's next tutorial fetches.
 *
 *   node --import tsx examples/rdp-session.ts           # against a sandbox (2-second tokens)
 *   node --import tsx examples/rdp-session.ts my-rdp    # a profile of your tokenward config
 *
 * Real service from the environment: RDP_APP_KEY, RDP_USERNAME, RDP_PASSWORD, and optionally
 * RDP_BASE_URL (default https://api.refinitiv.com). Against the real service the program waits for
 * the token to expire — about five minutes.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import {
  rdpApiBaseUrl as apiBaseUrl,
  createAuthFetch,
  maskToken,
  type Profile,
  usableUntil,
} from 'tokenward';
import { openTarget, run } from './support.js';

function fromEnv(env: NodeJS.ProcessEnv): Profile | undefined {
  if (!env['RDP_APP_KEY']) return undefined;
  return {
    provider: 'rdp',
    base_url: env['RDP_BASE_URL'] || 'https://api.refinitiv.com',
    client_id: 'env:RDP_APP_KEY',
    username: 'env:RDP_USERNAME',
    password: 'env:RDP_PASSWORD',
  };
}

run(async () => {
  const target = await openTarget('rdp', {
    fromEnv,
    // Short tokens in the sandbox, and no safety margin, so expiry comes in two seconds.
    sandboxSettings: { tokenLifetimeSeconds: 2 },
    sandboxProfile: { skew_seconds: 0 },
  });
  try {
    console.log(`rdp: ${target.where}`);
    const first = await target.manager();
    const token = await first.getToken();
    const life = Math.round((token.expiresAt - token.obtainedAt) / 1000);
    console.log(
      `1. password grant: ${maskToken(token.accessToken)}, expires in ${life} s, refresh token ${token.refreshToken ? 'received' : 'absent'}`,
    );

    // Another manager on the same profile (another run of the program, with the file store) reuses it.
    const second = await target.manager();
    const cached = await second.getToken();
    const same = cached.accessToken === token.accessToken;
    console.log(
      `2. reused from the cache: ${same ? 'same token' : 'a different token'}, token requests ${second.counts.grants + second.counts.refreshes}`,
    );

    const skewMs = (target.profile.skew_seconds ?? 10) * 1000;
    const waitMs = Math.max(0, usableUntil(token, skewMs) - Date.now()) + 100;
    console.log(`   waiting ${(waitMs / 1000).toFixed(1)} s for the token to expire…`);
    await sleep(waitMs);

    const renewed = await second.getToken();
    console.log(
      `3. after expiry: ${second.counts.refreshes} refresh grant, ${second.counts.grants} password grant`,
    );
    console.log(
      `   new access token: ${renewed.accessToken !== token.accessToken}, refresh token rotated: ${renewed.refreshToken !== token.refreshToken}`,
    );

    const base = apiBaseUrl(target.profile).replace(/\/+$/, '');
    const authFetch = createAuthFetch(second, { origins: [base] });
    const res = await authFetch(`${base}/data/historical-pricing/v1/views/events/VOD.L?count=5`);
    if (res.status !== 200) throw new Error(`historical pricing answered HTTP ${res.status}`);
    const [events] = (await res.json()) as Array<{ data?: unknown[] }>;
    console.log(
      `4. GET historical-pricing events VOD.L: HTTP ${res.status}, ${events?.data?.length ?? 0} events`,
    );
  } finally {
    await target.close();
  }
});
