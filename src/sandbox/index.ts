/**
 * The sandbox: local emulators of the four seed vendors' token endpoints and the API calls the seeds
 * make, and a standards OpenID Connect server for people (`oidc`: sign-in page, device verification
 * page), on one loopback HTTP server. See `docs/sandbox.md` for endpoints, credentials, settings, faults
 * and statistics.
 *
 * ```ts
 * const sandbox = await startSandbox({ vendors: { rdp: { tokenLifetimeSeconds: 2 } } });
 * const profiles = sandboxProfiles(sandbox); // profiles.rdp, profiles.msx, …
 * await sandbox.close();
 * ```
 * @module
 */

import { stringify } from 'smol-toml';
import { ConfigError } from '../errors.js';
import type { Profile } from '../profile.js';
import { startServer } from './core/server.js';
import { checkVendor, VendorState } from './core/settings.js';
import { Counters } from './core/stats.js';
import { signingKey } from './core/tokens.js';
import type { VendorContext, VendorModule } from './core/vendor.js';
import { resolveCredentials } from './credentials.js';
import {
  SANDBOX_VENDORS,
  type Sandbox,
  type SandboxCredentials,
  type SandboxOptions,
  type SandboxVendor,
  type VendorName,
  type VendorSettings,
} from './types.js';
import { createAcronis } from './vendors/acronis.js';
import { createCylance } from './vendors/cylance.js';
import { createMsx } from './vendors/msx.js';
import { createOidc } from './vendors/oidc/index.js';
import { ISSUER_PATH } from './vendors/oidc/model.js';
import { createRdp } from './vendors/rdp.js';

export type { SandboxSignInOptions, SandboxSignInProblem } from './browserless.js';
export { approveSandboxDevice, completeSandboxSignIn, SandboxSignInError } from './browserless.js';
export { DEMO_CREDENTIALS } from './credentials.js';
export type {
  Sandbox,
  SandboxCredentials,
  SandboxFault,
  SandboxOptions,
  SandboxStats,
  SandboxVendor,
  VendorName,
  VendorSettings,
} from './types.js';
export { SANDBOX_VENDORS, VENDORS } from './types.js';
export { CYLANCE_APP_SCOPES } from './vendors/cylance.js';
export { MSX_OPERATOR, MSX_SWITCH_TENANT, MSX_SWITCH_USER } from './vendors/msx.js';
export { RDP_TRAPI_SCOPES, rdpPasswordProblem } from './vendors/rdp.js';

/**
 * Starts the sandbox on 127.0.0.1 (`port` 0, the default, picks a free port).
 *
 * @throws ConfigError for invalid options.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`must be a port number from 0 to 65535, got ${JSON.stringify(port)}`, {
      key: 'port',
    });
  }
  const clock = options.clock ?? Date.now;
  const credentials = resolveCredentials(options.credentials);
  const states = Object.fromEntries(SANDBOX_VENDORS.map((v) => [v, new VendorState(v)])) as Record<
    SandboxVendor,
    VendorState
  >;
  for (const [vendor, settings] of Object.entries(options.vendors ?? {})) {
    checkVendor(vendor);
    states[vendor].configure(settings);
  }
  const key = await signingKey();
  let origin = '';
  const context = <V extends SandboxVendor>(vendor: V): VendorContext<V> => ({
    now: clock,
    settings: () => states[vendor].resolved,
    credentials: () => credentials[vendor],
    origin: () => origin,
    key,
  });
  const vendors: Record<SandboxVendor, VendorModule> = {
    cylance: createCylance(context('cylance')),
    msx: createMsx(context('msx')),
    acronis: createAcronis(context('acronis')),
    rdp: createRdp(context('rdp')),
    oidc: createOidc(context('oidc')),
  };
  const counters = new Counters();
  const reset = () => {
    counters.clear();
    for (const v of SANDBOX_VENDORS) {
      vendors[v].reset();
      states[v].clearFault();
    }
  };
  const server = await startServer(port, { vendors, states, counters, reset });
  origin = `http://127.0.0.1:${server.port}`;

  return {
    url: origin,
    port: server.port,
    close: () => server.close(),
    stats: () => counters.snapshot(),
    reset,
    configure(vendor: SandboxVendor, settings: VendorSettings) {
      checkVendor(vendor);
      states[vendor].configure(settings);
    },
    get credentials(): SandboxCredentials {
      return structuredClone(credentials);
    },
  };
}

/**
 * Ready-to-use profiles for the sandbox, one per vendor, with its demo credentials as literal values.
 * Read at call time, so a password changed through the sandbox (RDP) is the current one.
 */
export function sandboxProfiles(sandbox: Sandbox): Record<VendorName, Profile> {
  const url = sandbox.url;
  const c = sandbox.credentials;
  return {
    cylance: {
      name: 'cylance',
      provider: 'cylance',
      token_url: `${url}/auth/v2/token`,
      api_base_url: url,
      app_id: c.cylance.appId,
      app_secret: c.cylance.appSecret,
      tenant_id: c.cylance.tenantId,
    },
    msx: {
      name: 'msx',
      provider: 'msx',
      base_url: url,
      client_id: c.msx.clientId,
      client_secret: c.msx.clientSecret,
      username: c.msx.username,
      password: c.msx.password,
    },
    acronis: {
      name: 'acronis',
      provider: 'acronis',
      datacenter_url: url,
      client_id: c.acronis.clientId,
      client_secret: c.acronis.clientSecret,
    },
    rdp: {
      name: 'rdp',
      provider: 'rdp',
      base_url: url,
      client_id: c.rdp.clientId,
      username: c.rdp.username,
      password: c.rdp.password,
      scope: 'trapi',
    },
  };
}

/**
 * A profile for signing a person in to the sandbox's OpenID Connect server (`tokenward login`). Its keys
 * are those of an `oidc` profile with an interactive grant.
 */
export interface SandboxLoginProfile {
  name: string;
  provider: 'oidc';
  /** `<sandbox url>/oidc`. */
  issuer: string;
  /** The public client (no secret). */
  client_id: string;
  grant: 'authorization_code' | 'device_code';
  scope: string;
}

/** The sandbox's issuer URL: `<sandbox url>/oidc`. */
export function sandboxIssuer(sandbox: Sandbox): string {
  return `${sandbox.url}${ISSUER_PATH}`;
}

/**
 * Profiles for signing in as the sandbox's test person, one per interactive grant: `oidc` (the code
 * flow, in a browser) and `oidc-device` (the device flow). The test user is
 * `sandbox.credentials.oidc.username` / `.password`.
 */
export function sandboxLoginProfiles(sandbox: Sandbox): Record<'oidc' | 'oidc-device', SandboxLoginProfile> {
  const base = {
    provider: 'oidc' as const,
    issuer: sandboxIssuer(sandbox),
    client_id: sandbox.credentials.oidc.clientId,
    scope: 'openid profile email offline_access',
  };
  return {
    oidc: { name: 'oidc', ...base, grant: 'authorization_code' },
    'oidc-device': { name: 'oidc-device', ...base, grant: 'device_code' },
  };
}

/** Options of {@link sandboxConfigToml}. */
export interface SandboxConfigOptions {
  /**
   * Also write the sign-in profiles of {@link sandboxLoginProfiles} (`[profiles.oidc]`,
   * `[profiles.oidc-device]`), under a comment naming the test user and password. Default false.
   */
  login?: boolean;
}

function tomlProfiles(profiles: Record<string, { name?: string }>): string {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [key, p] of Object.entries(profiles)) {
    const { name: _name, ...rest } = p;
    out[key] = rest;
  }
  const body = stringify({ profiles: out });
  return body.endsWith('\n') ? body : `${body}\n`;
}

/**
 * A TOML config with `[profiles.cylance]` … `[profiles.rdp]` for the sandbox (what `tokenward sandbox`
 * prints, with `login: true`), headed by a comment naming the URL.
 */
export function sandboxConfigToml(sandbox: Sandbox, options: SandboxConfigOptions = {}): string {
  const head = `# tokenward sandbox at ${sandbox.url}: test credentials only, valid while it runs\n`;
  const vendors = tomlProfiles(sandboxProfiles(sandbox));
  if (options.login !== true) return head + vendors;
  const c = sandbox.credentials.oidc;
  const login =
    `\n# Sign in as a person: tokenward login oidc (browser) or tokenward login oidc-device (device code).\n` +
    `# Test user: ${c.username}  password: ${c.password}  (sign-in pages under ${sandboxIssuer(sandbox)})\n`;
  return head + vendors + login + tomlProfiles(sandboxLoginProfiles(sandbox));
}
