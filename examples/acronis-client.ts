/**
 * Seed 003 (Acronis Cyber Platform): client_credentials with HTTP Basic → GET /api/2/clients/{client_id}.
 *
 *   node --import tsx examples/acronis-client.ts              # against a sandbox it starts itself
 *   node --import tsx examples/acronis-client.ts my-acronis   # a profile of your tokenward config
 *
 * Real service from the environment: ACRONIS_DATACENTER_URL (e.g. https://eu8-cloud.acronis.com),
 * ACRONIS_CLIENT_ID, ACRONIS_CLIENT_SECRET.
 */

import { acronisApiBaseUrl as apiBaseUrl, createAuthFetch, maskToken, type Profile } from 'tokenward';
import { openTarget, run } from './support.js';

function fromEnv(env: NodeJS.ProcessEnv): Profile | undefined {
  if (!env['ACRONIS_DATACENTER_URL']) return undefined;
  return {
    provider: 'acronis',
    datacenter_url: env['ACRONIS_DATACENTER_URL'],
    client_id: env['ACRONIS_CLIENT_ID'] ?? '',
    client_secret: 'env:ACRONIS_CLIENT_SECRET',
  };
}

run(async () => {
  const target = await openTarget('acronis', { fromEnv });
  try {
    console.log(`acronis: ${target.where}`);
    const manager = await target.manager();
    const token = await manager.getToken();
    console.log(`token: ${maskToken(token.accessToken)}`);
    console.log(`expires_on: ${new Date(token.expiresAt).toISOString()} (from ${token.expirySource})`);
    console.log(`id_token: ${token.idToken !== undefined ? 'present' : 'absent'}`);

    const base = apiBaseUrl(target.profile).replace(/\/+$/, '');
    const clientId = target.profile.client_id ?? '';
    const authFetch = createAuthFetch(manager, { origins: [base] });
    const res = await authFetch(`${base}/api/2/clients/${encodeURIComponent(clientId)}`);
    console.log(`GET /api/2/clients/${clientId}: HTTP ${res.status}`);
    if (res.status !== 200) throw new Error(`the API answered HTTP ${res.status}`);
    const client = (await res.json()) as Record<string, unknown>;
    for (const key of ['client_id', 'type', 'tenant_id', 'status']) {
      if (client[key] !== undefined) console.log(`  ${key}: ${String(client[key])}`);
    }
  } finally {
    await target.close();
  }
});
