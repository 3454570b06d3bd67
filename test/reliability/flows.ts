/**
 * The flows of the reliability suite: the generic grants (client_credentials, password, refresh) and
 * every vendor preset, each as a profile pointed at a loopback server, with canary secrets that must
 * never show up in an error, a trace or a store entry.
 */
import { randomBytes } from 'node:crypto';
import type { Profile } from '../../src/profile.js';

/** One flow. */
export interface Flow {
  name: string;
  /** The profile for a server at `base` (no trailing slash). */
  profile(base: string): Profile;
  /** True when the seeded token carries a refresh token, so a renewal is a refresh grant. */
  refresh: boolean;
  /** Checks that a request body is the flow's renewal request (e.g. `grant_type=refresh_token`). */
  isRenewal(body: string): boolean;
  /** The secret values of the profile: canaries. */
  secrets: readonly string[];
}

/** A canary: letters, digits and `-` only, so every encoding of it (form, Base64 of `id:secret`…) is checked by the same string search. */
export function canary(label: string): string {
  return `canary-${label}-${randomBytes(9).toString('hex')}`;
}

const form = (grant: string) => (body: string) => new URLSearchParams(body).get('grant_type') === grant;

/** The seven flows. */
export function makeFlows(): Flow[] {
  const s = {
    ccSecret: canary('cc-secret'),
    pwSecret: canary('pw-secret'),
    pwPassword: canary('pw-password'),
    rtSecret: canary('rt-secret'),
    cyApp: canary('cy-app-secret'),
    msxSecret: canary('msx-secret'),
    msxPassword: canary('msx-password'),
    acSecret: canary('acronis-secret'),
    rdpPassword: canary('rdp-password'),
  };
  return [
    {
      name: 'client_credentials',
      refresh: false,
      secrets: [s.ccSecret],
      isRenewal: form('client_credentials'),
      profile: (base) => ({
        name: 'cc',
        token_url: `${base}/oauth2/token`,
        client_id: 'cc-client',
        client_secret: s.ccSecret,
        scope: 'read',
      }),
    },
    {
      name: 'password',
      refresh: false,
      secrets: [s.pwSecret, s.pwPassword],
      isRenewal: form('password'),
      profile: (base) => ({
        name: 'pw',
        token_url: `${base}/oauth2/token`,
        grant: 'password',
        client_id: 'pw-client',
        client_secret: s.pwSecret,
        username: 'alice',
        password: s.pwPassword,
      }),
    },
    {
      name: 'refresh',
      refresh: true,
      secrets: [s.rtSecret],
      isRenewal: form('refresh_token'),
      profile: (base) => ({
        name: 'rt',
        token_url: `${base}/oauth2/token`,
        client_id: 'rt-client',
        client_secret: s.rtSecret,
        auth_method: 'client_secret_post',
      }),
    },
    {
      name: 'cylance',
      refresh: false,
      secrets: [s.cyApp],
      isRenewal: (body) => body.includes('"auth_token"'),
      profile: (base) => ({
        name: 'cylance',
        provider: 'cylance',
        token_url: `${base}/auth/v2/token`,
        api_base_url: base,
        app_id: 'cy-app',
        app_secret: s.cyApp,
        tenant_id: 'cy-tenant',
      }),
    },
    {
      name: 'msx',
      refresh: false,
      secrets: [s.msxSecret, s.msxPassword],
      isRenewal: form('password'),
      profile: (base) => ({
        name: 'msx',
        provider: 'msx',
        base_url: base,
        client_id: 'msx-client',
        client_secret: s.msxSecret,
        username: 'msx-user',
        password: s.msxPassword,
      }),
    },
    {
      name: 'acronis',
      refresh: false,
      secrets: [s.acSecret],
      isRenewal: form('client_credentials'),
      profile: (base) => ({
        name: 'acronis',
        provider: 'acronis',
        datacenter_url: base,
        client_id: 'acronis-client',
        client_secret: s.acSecret,
      }),
    },
    {
      name: 'rdp',
      refresh: false,
      secrets: [s.rdpPassword],
      isRenewal: form('password'),
      profile: (base) => ({
        name: 'rdp',
        provider: 'rdp',
        base_url: base,
        client_id: 'rdp-app-key',
        username: 'rdp-user',
        password: s.rdpPassword,
        scope: 'trapi',
      }),
    },
  ];
}

/** Every string in `text` that is one of `canaries`. */
export function leaked(text: string, canaries: readonly string[]): string[] {
  return canaries.filter((c) => c.length >= 4 && text.includes(c));
}

/** Everything an error exposes: message, stack, JSON form and its cause chain. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 6 && cur !== undefined && cur !== null; i++) {
    if (cur instanceof Error) {
      parts.push(cur.message, cur.stack ?? '');
      try {
        parts.push(JSON.stringify(cur));
      } catch {
        // circular: the message and stack are enough
      }
      parts.push(String(cur));
      cur = (cur as { cause?: unknown }).cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join('\n');
}
