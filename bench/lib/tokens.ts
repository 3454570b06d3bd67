/**
 * Realistic token responses for the memory figure: JWT-shaped access tokens of about 900 bytes (an
 * RS256 header, a multi-tenant claim set, a 256-byte signature), each unique, as an IdP returns them.
 * The signature is random bytes, not a real signature: only size and entropy matter here.
 */
import { randomBytes, randomUUID } from 'node:crypto';

const b64u = (s: string) => Buffer.from(s).toString('base64url');

/** The JSON text of a token response for tenant `i`, as a server sends it. */
export function tokenResponseText(i: number, now = Date.now()): string {
  const tenant = randomUUID();
  const iat = Math.floor(now / 1000);
  const header = b64u(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: `k-${(i % 4) + 1}-2025` }));
  const payload = b64u(
    JSON.stringify({
      iss: `https://login.example.com/${tenant}/v2.0`,
      sub: randomUUID(),
      aud: 'api://reports.example.com',
      tid: tenant,
      azp: `app-${i % 97}`,
      client_id: `svc-reporting-${i % 13}`,
      scp: 'reports.read reports.write exports.read',
      roles: ['Reports.Reader', 'Exports.Reader'],
      iat,
      nbf: iat,
      exp: iat + 3600,
      jti: randomUUID(),
      ver: '2.0',
    }),
  );
  const signature = randomBytes(256).toString('base64url');
  return JSON.stringify({
    access_token: `${header}.${payload}.${signature}`,
    token_type: 'Bearer',
    expires_in: 3600,
    scope: 'reports.read reports.write exports.read',
  });
}

/** The identity of tenant `i`'s client (what the cache key is derived from). */
export function tenantIdentity(i: number): Record<string, string> {
  return {
    token_url: `https://login.example.com/tenant-${i}/oauth2/v2.0/token`,
    client_id: `svc-reporting-${i % 13}`,
    grant: 'client_credentials',
    scope: 'reports.read reports.write exports.read',
  };
}
