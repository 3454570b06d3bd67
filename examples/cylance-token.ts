/**
 * Seeds 000/001 (Cylance Protect API v2): get an access token and print it.
 *
 * tokenward signs the auth token (HS256 JWT with exp, iat, iss, sub, tid, jti) and exchanges it for an
 * access token; a second call is served from the cache.
 *
 *   node --import tsx examples/cylance-token.ts            # against a sandbox it starts itself
 *   node --import tsx examples/cylance-token.ts my-cylance # a profile of your tokenward config
 *
 * Real service from the environment: CYLANCE_APP_ID, CYLANCE_APP_SECRET, CYLANCE_TENANT_ID, and
 * optionally CYLANCE_REGION (us, us-gov, apne1, au, euc1, sae1), CYLANCE_TOKEN_URL (instead of the
 * region) and CYLANCE_SCOPES (comma-separated, e.g. "device:list,policy:read").
 */

import type { Profile } from 'tokenward';
import { openTarget, run } from './support.js';

function fromEnv(env: NodeJS.ProcessEnv): Profile | undefined {
  if (!env['CYLANCE_APP_ID']) return undefined;
  const p: Profile = {
    provider: 'cylance',
    app_id: 'env:CYLANCE_APP_ID',
    app_secret: 'env:CYLANCE_APP_SECRET',
    tenant_id: 'env:CYLANCE_TENANT_ID',
  };
  if (env['CYLANCE_REGION']) p.region = env['CYLANCE_REGION'];
  if (env['CYLANCE_TOKEN_URL']) p.token_url = env['CYLANCE_TOKEN_URL'];
  if (env['CYLANCE_SCOPES']) p.scopes = env['CYLANCE_SCOPES'].split(',');
  return p;
}

run(async () => {
  const target = await openTarget('cylance', { fromEnv });
  try {
    console.log(`cylance: ${target.where}`);
    const manager = await target.manager();
    const token = await manager.getToken();
    const again = await manager.getToken();
    console.log(`expires: ${new Date(token.expiresAt).toISOString()} (from ${token.expirySource})`);
    console.log(`second call served from the cache: ${again.accessToken === token.accessToken}`);
    console.log(`access_token:\n${token.accessToken}`);
  } finally {
    await target.close();
  }
});
