/**
 * Refinitiv / LSEG Data Platform, authentication v1 (seed 004).
 *
 * `POST /auth/oauth2/v1/token`, form body. The application key goes in `client_id` or, as the seed's
 * `requests` call sends it, as the user name of HTTP Basic with an empty password (both: they must
 * agree). A bad or missing key is 401 `{"error":"invalid_client","error_description":"Invalid
 * Application Credential."}`.
 *
 * - `grant_type=password`: `username`, `password`, `scope` (default `trapi`),
 *   `takeExclusiveSignOnControl` (`true` ends the user's other sessions: their refresh tokens are
 *   revoked; otherwise — also when absent — an existing session is 400 `access_denied` "Session quota is
 *   reached."), optional `newPassword` (changes the password; at least 30 characters from at least 3 of
 *   upper case, lower case, digits, others, and not the current one).
 * - `grant_type=refresh_token`: `refresh_token`, optional `username` (must match). Every refresh returns a
 *   new refresh token and revokes the one used (a second use is 400 `invalid_grant`). Near the end of the
 *   sign-on session (`sessionLifetimeSeconds`) `expires_in` shrinks to what is left.
 *
 * The answer: `access_token`, `refresh_token`, `expires_in` as a string (e.g. `"300"`), `scope`
 * (space-separated; `trapi` expands to its sub-scopes), `token_type: "Bearer"`.
 *
 * `GET /data/historical-pricing/v1/views/events/{ric}?count=N` answers demo trade events with a valid
 * Bearer token; an expired one gets 401 `{"error":{"id","code":"401","message":"token expired",
 * "status":"Unauthorized"}}`.
 * @module
 */

import { randomUUID } from 'node:crypto';
import {
  type BasicCredentials,
  bearer,
  json,
  oauthError,
  parseBasic,
  parseForm,
  type Reply,
  type SandboxRequest,
} from '../core/http.js';
import { opaqueToken, signJwt, TokenBook } from '../core/tokens.js';
import type { Route, VendorContext, VendorModule } from '../core/vendor.js';

/** What `scope=trapi` grants. */
export const RDP_TRAPI_SCOPES: readonly string[] = [
  'trapi.data.historical-pricing.read',
  'trapi.data.news.read',
  'trapi.data.pricing.read',
  'trapi.metadata.read',
  'trapi.search.read',
  'trapi.streaming.pricing.read',
];
const HISTORICAL_SCOPE = 'trapi.data.historical-pricing.read';

/** Minimum length of a new password. */
export const RDP_MIN_PASSWORD_LENGTH = 30;

/**
 * The vendor sample's password policy: at least 30 characters, from at least three of the four classes
 * upper case, lower case, digits and other characters. Returns the reason it fails, or undefined.
 */
export function rdpPasswordProblem(pw: string): string | undefined {
  if (pw.length < RDP_MIN_PASSWORD_LENGTH)
    return `the new password must have at least ${RDP_MIN_PASSWORD_LENGTH} characters`;
  const classes = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(pw)).length;
  if (classes < 3)
    return 'the new password must mix at least 3 of: upper case, lower case, digits, other characters';
  return undefined;
}

interface SignOn {
  id: string;
  username: string;
  clientId: string;
  scopes: string[];
  /** End of the sign-on session (epoch ms). */
  endsAt: number;
  ended: boolean;
}

const INVALID_CLIENT = (): Reply => oauthError(401, 'invalid_client', 'Invalid Application Credential.');

function apiError(status: 401 | 403 | 400, message: string): Reply {
  const text = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Bad Request';
  return json(status, { error: { id: randomUUID(), code: String(status), message, status: text } });
}

/** The application key of a request: `client_id`, or Basic user with empty password; undefined if bad. */
function appKeyOf(form: Map<string, string>, basic: BasicCredentials | undefined): string | undefined {
  const inBody = form.get('client_id');
  if (basic !== undefined) {
    if (basic.secret !== '' || basic.id === '') return undefined;
    if (inBody !== undefined && inBody !== basic.id) return undefined;
    return basic.id;
  }
  return inBody === '' ? undefined : inBody;
}

/** Creates the RDP emulator. */
export function createRdp(ctx: VendorContext<'rdp'>): VendorModule {
  const access = new TokenBook<{ scopes: string[] }>();
  const refresh = new TokenBook<SignOn>();
  let sessions: SignOn[] = [];
  const initialPassword = ctx.credentials().password;

  async function issue(s: SignOn, grant: string): Promise<Reply> {
    const now = ctx.now();
    const left = Math.floor((s.endsAt - now) / 1000);
    const lifetime = Math.min(ctx.settings().tokenLifetimeSeconds, left);
    const accessToken = await signJwt(
      ctx.key,
      { iss: `${ctx.origin()}/auth/oauth2/v1`, sub: s.username, aud: s.clientId, scope: s.scopes.join(' ') },
      now,
      lifetime,
    );
    access.add(accessToken, { scopes: s.scopes }, now + lifetime * 1000, now);
    const refreshToken = opaqueToken();
    refresh.add(refreshToken, s, s.endsAt, now);
    return {
      ...json(200, {
        access_token: accessToken,
        refresh_token: refreshToken,
        expires_in: String(lifetime),
        scope: s.scopes.join(' '),
        token_type: 'Bearer',
      }),
      grant,
    };
  }

  function scopesOf(raw: string | undefined): string[] | undefined {
    const asked = (raw ?? 'trapi').split(' ').filter((s) => s !== '');
    if (asked.length === 0) return undefined;
    const out = new Set<string>();
    for (const s of asked) {
      if (s === 'trapi') for (const x of RDP_TRAPI_SCOPES) out.add(x);
      else if (RDP_TRAPI_SCOPES.includes(s)) out.add(s);
      else return undefined;
    }
    return [...out];
  }

  async function passwordGrant(form: Map<string, string>, clientId: string): Promise<Reply> {
    const creds = ctx.credentials();
    const username = form.get('username');
    const password = form.get('password');
    if (!username || password === undefined)
      return oauthError(400, 'invalid_request', 'username and password are required');
    if (username !== creds.username || password !== creds.password) {
      return oauthError(400, 'invalid_grant', 'Invalid username or password.');
    }
    const scopes = scopesOf(form.get('scope'));
    if (scopes === undefined) return oauthError(400, 'invalid_scope', 'Invalid scope.');
    const newPassword = form.get('newPassword');
    if (newPassword !== undefined) {
      const problem =
        newPassword === password
          ? 'the new password must differ from the current one'
          : rdpPasswordProblem(newPassword);
      if (problem !== undefined) return oauthError(400, 'invalid_request', problem);
    }
    const now = ctx.now();
    const live = sessions.filter((s) => s.username === username && !s.ended && now < s.endsAt);
    const exclusive = (form.get('takeExclusiveSignOnControl') ?? '').toLowerCase() === 'true';
    if (live.length > 0 && !exclusive) return oauthError(400, 'access_denied', 'Session quota is reached.');
    for (const s of live) s.ended = true;
    refresh.revokeWhere((s) => s.username === username);
    sessions = sessions.filter((s) => !s.ended && now < s.endsAt);
    if (newPassword !== undefined) creds.password = newPassword;
    const session: SignOn = {
      id: randomUUID(),
      username,
      clientId,
      scopes,
      endsAt: now + ctx.settings().sessionLifetimeSeconds * 1000,
      ended: false,
    };
    sessions.push(session);
    return issue(session, 'password');
  }

  async function refreshGrant(form: Map<string, string>, clientId: string): Promise<Reply> {
    const rt = form.get('refresh_token');
    if (!rt) return oauthError(400, 'invalid_request', 'refresh_token is required');
    const now = ctx.now();
    const found = refresh.lookup(rt, now);
    if (found.state !== 'valid' || found.entry.ended || found.entry.clientId !== clientId) {
      return oauthError(400, 'invalid_grant', 'Invalid refresh token.');
    }
    const username = form.get('username');
    if (username !== undefined && username !== found.entry.username) {
      return oauthError(400, 'invalid_grant', 'Invalid refresh token.');
    }
    if (found.entry.endsAt - now < 1000) return oauthError(400, 'invalid_grant', 'Invalid refresh token.');
    refresh.revoke(rt);
    return issue(found.entry, 'refresh_token');
  }

  async function token(req: SandboxRequest): Promise<Reply> {
    const parsed = parseForm(req);
    if (!parsed.ok) return oauthError(400, 'invalid_request', parsed.detail);
    const form = parsed.value;
    const clientId = appKeyOf(form, parseBasic(req.headers));
    if (clientId === undefined || clientId !== ctx.credentials().clientId) return INVALID_CLIENT();
    const grant = form.get('grant_type');
    if (!grant) return oauthError(400, 'invalid_request', 'grant_type is required');
    if (grant === 'password') return passwordGrant(form, clientId);
    if (grant === 'refresh_token') return refreshGrant(form, clientId);
    return oauthError(400, 'unsupported_grant_type', `Unsupported grant type: ${grant}`);
  }

  function events(req: SandboxRequest): Reply {
    const t = bearer(req.headers);
    if (t === undefined) return apiError(401, 'Authorization header is missing');
    const found = access.lookup(t, ctx.now());
    if (found.state === 'expired') return apiError(401, 'token expired');
    if (found.state !== 'valid') return apiError(401, 'invalid token');
    if (!found.entry.scopes.includes(HISTORICAL_SCOPE)) {
      return apiError(403, `access denied. Scopes required to access the resource: [${HISTORICAL_SCOPE}]`);
    }
    const ric = req.params[0] ?? '';
    const countRaw = req.url.searchParams.get('count') ?? '20';
    if (!/^[1-9][0-9]{0,3}$/.test(countRaw)) return apiError(400, 'count must be an integer from 1 to 9999');
    const count = Number(countRaw);
    const seed = [...ric].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) % 100_000, 7);
    const base = Date.UTC(2024, 0, 2, 16, 0, 0);
    const data = Array.from({ length: count }, (_, i) => [
      new Date(base - i * 1000).toISOString(),
      'trade',
      100 + ((seed + i * 37) % 1000) / 100,
      ((seed + i * 13) % 500) + 1,
    ]);
    return json(200, [
      {
        universe: { ric },
        adjustments: ['exchangeCorrection', 'manualCorrection'],
        defaultPricingField: 'TRDPRC_1',
        headers: [
          { name: 'DATE_TIME', type: 'string' },
          { name: 'EVENT_TYPE', type: 'string' },
          { name: 'TRDPRC_1', type: 'number', decimalChar: '.' },
          { name: 'TRDVOL_1', type: 'number', decimalChar: '.' },
        ],
        data,
      },
    ]);
  }

  const routes: Route[] = [
    { method: 'POST', path: '/auth/oauth2/v1/token', kind: 'token', handle: token },
    {
      method: 'GET',
      path: /^\/data\/historical-pricing\/v1\/views\/events\/([^/]+)$/,
      kind: 'api',
      handle: events,
    },
  ];
  return {
    routes,
    reset() {
      access.clear();
      refresh.clear();
      sessions = [];
      ctx.credentials().password = initialPassword;
    },
  };
}
