/**
 * The sandbox's built-in demo credentials. They are fixed and public on purpose: the sandbox listens on
 * loopback only and exists for tests and demos. The MSX ones are the seed tutorial's own values.
 * @module
 */

import { ConfigError } from '../errors.js';
import { SANDBOX_VENDORS, type SandboxCredentials, type SandboxOptions } from './types.js';

/** The default demo credentials. */
export const DEMO_CREDENTIALS: Readonly<SandboxCredentials> = Object.freeze({
  cylance: {
    appId: '5f0c6b1e-2a4d-4c8e-9b7a-1d3e5f7a9c0b',
    appSecret: 'a8d2e6f0-sandbox-app-secret-4b9c-7e1f3a5d',
    tenantId: '3c9e1a7b-5d2f-4e8a-b6c4-0f1d3b5a7e9c',
  },
  msx: {
    clientId: 'my-test-private-client',
    clientSecret: 'make-up-a-private-client-secret-and-keep-it-safe',
    username: 'superuser',
    password: 'FrmedealY((!1[ps=wCBwG!E[%|]Ob7=',
  },
  acronis: {
    clientId: '7d4b2e9a-1c6f-4a3b-8e5d-2f9c7a1b4e6d',
    clientSecret: 'sandbox-acronis-client-secret-e3b1c8d4f6a2',
    tenantId: 'c1a5e9d3-7b2f-4c6a-9e8d-4b0f2a6c8e1d',
  },
  rdp: {
    clientId: '9a7c5e3b1d2f4a6c8e0b9d7f5a3c1e2b4d6f8a0c',
    username: 'sandbox.user@example.com',
    password: 'Sandbox-demo-Password-2024-only-for-loopback',
  },
  oidc: {
    clientId: 'tokenward-sandbox-cli',
    confidentialClientId: 'tokenward-sandbox-web',
    clientSecret: 'sandbox-oidc-client-secret-5c2e9a7f1b3d',
    username: 'person',
    password: 'tokenward-sandbox',
  },
});

/** The demo credentials with the caller's overrides applied. */
export function resolveCredentials(overrides: SandboxOptions['credentials']): SandboxCredentials {
  const out = structuredClone(DEMO_CREDENTIALS) as SandboxCredentials;
  if (overrides === undefined) return out;
  for (const vendor of SANDBOX_VENDORS) {
    const o = overrides[vendor];
    if (o === undefined) continue;
    const target = out[vendor] as Record<string, string>;
    for (const [k, v] of Object.entries(o)) {
      if (!(k in target))
        throw new ConfigError(`unknown credential "${k}"`, { key: `credentials.${vendor}` });
      if (typeof v !== 'string' || v === '') {
        throw new ConfigError(`"${k}" must be a non-empty string`, { key: `credentials.${vendor}` });
      }
      target[k] = v;
    }
  }
  return out;
}
