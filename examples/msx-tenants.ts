/**
 * Seed 002 (Cisco MSX): password grant → create a tenant → list a page of tenants → delete the tenant.
 *
 *   node --import tsx examples/msx-tenants.ts          # against a sandbox it starts itself
 *   node --import tsx examples/msx-tenants.ts my-msx   # a profile of your tokenward config
 *
 * Real service from the environment: MSX_BASE_URL, MSX_CLIENT_ID, MSX_CLIENT_SECRET, MSX_USERNAME,
 * MSX_PASSWORD, and optionally MSX_CA_FILE (the CA of a lab's self-signed certificate — instead of
 * turning verification off as the seed does).
 */

import { msxApiBaseUrl as apiBaseUrl, createAuthFetch, type Profile } from 'tokenward';
import { openTarget, run } from './support.js';

function fromEnv(env: NodeJS.ProcessEnv): Profile | undefined {
  if (!env['MSX_BASE_URL']) return undefined;
  const p: Profile = {
    provider: 'msx',
    base_url: env['MSX_BASE_URL'],
    client_id: 'env:MSX_CLIENT_ID',
    client_secret: 'env:MSX_CLIENT_SECRET',
    username: 'env:MSX_USERNAME',
    password: 'env:MSX_PASSWORD',
  };
  if (env['MSX_CA_FILE']) p.ca_file = env['MSX_CA_FILE'];
  return p;
}

interface Tenant {
  id: string;
  name: string;
}

async function expect(res: Response, status: number, what: string): Promise<Response> {
  if (res.status !== status) throw new Error(`${what} answered HTTP ${res.status}, expected ${status}`);
  return res;
}

run(async () => {
  const target = await openTarget('msx', { fromEnv });
  try {
    console.log(`msx: ${target.where}`);
    const manager = await target.manager();
    await manager.getToken();
    console.log('Got Access Token');

    const base = apiBaseUrl(target.profile).replace(/\/+$/, '');
    const authFetch = createAuthFetch(manager, { origins: [base] });
    const created = await expect(
      await authFetch(`${base}/idm/api/v8/tenants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `my_unique_tenant_name_${crypto.randomUUID()}`,
          description: 'Nobody reaches anywhere by believing. --Osho',
          email: 'test@example.com',
          url: 'https://cisco.com',
        }),
      }),
      201,
      'creating the tenant',
    );
    const tenant = (await created.json()) as Tenant;
    console.log(`Created Tenant: ${tenant.id}`);

    const list = await expect(
      await authFetch(`${base}/idm/api/v8/tenants?page=0&pageSize=100`),
      200,
      'listing',
    );
    const page = (await list.json()) as { contents: Tenant[] };
    console.log('Got Tenants Page');
    for (const t of page.contents) console.log(`${t.id}: ${t.name}`);

    await expect(
      await authFetch(`${base}/idm/api/v8/tenants/${encodeURIComponent(tenant.id)}`, { method: 'DELETE' }),
      204,
      'deleting the tenant',
    );
    console.log(`Deleted Tenant: ${tenant.id}`);
    console.log(`token requests: ${manager.counts.grants} (one token for all four calls)`);
  } finally {
    await target.close();
  }
});
