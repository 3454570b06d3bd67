/**
 * The front door. {@link createTokenManager} turns a profile into a {@link TokenManager} (secrets
 * resolved, provider and store chosen); {@link getToken} and {@link openProfile} do the same from the
 * config file and keep one manager per profile for the whole process, so every caller shares its cache
 * and its single flight.
 * @module
 */

import { dirname } from 'node:path';
import { getProfile, type LoadConfigOptions } from './config/load.js';
import { originOf, type ProfileOrigin, setOrigin } from './config/origin.js';
import { validateProfile } from './config/schema.js';
import { resolveProfileSecrets, SECRET_KEYS } from './config/secrets.js';
import { dpopAlgorithm } from './dpop/algorithms.js';
import { ConfigError, printWarningOnce, type WarningHandler } from './errors.js';
import type { HttpOptions } from './http/types.js';
import {
  type GetTokenOptions,
  type LazyTokenClient,
  type RefreshMode,
  TokenManager,
  type TokenManagerOptions,
} from './manager/token-manager.js';
import type { Profile } from './profile.js';
import type { ClientLinks } from './providers/descriptor.js';
import { descriptorOf } from './providers/index.js';
import { grantFromProfile, httpLimitsFromProfile } from './providers/values.js';
import { createStore } from './stores/index.js';
import { storeKey } from './stores/store-key.js';
import type { TokenStore } from './stores/types.js';
import { delegationFacts, linkedProfiles, withoutTokenFacts } from './subject/index.js';
import { keyWhere, resolveProfileLinks } from './subject/links.js';
import type { Token } from './token.js';
import { httpBudgetMs } from './token-client.js';

/** Options of {@link createTokenManager}. */
export interface CreateTokenManagerOptions {
  /** Store to use instead of the one the profile names (the caller keeps ownership). */
  store?: TokenStore;
  /** Clock in ms since the epoch. Default `Date.now`. */
  clock?: () => number;
  /**
   * The one hook for every non-fatal problem: the manager's (refresh failures…), the store's, the HTTP
   * layer's (TLS verification off) and, for {@link openProfile}, the config file's; each a typed
   * {@link TokenwardWarning} (see `WARNING_CODES`). Default: each distinct warning printed once to stderr.
   */
  onWarning?: WarningHandler;
  /**
   * When a renewal before expiry runs: `background` (default) behind the caller, or `foreground`,
   * awaited by the caller — for short-lived processes, so none is left running at exit.
   */
  refreshMode?: RefreshMode;
  /**
   * HTTP settings over the profile's (`timeout`, `retries`, `ca_file`…); also the `onExchange` trace
   * hook. Its warnings go to `onWarning` unless `http.onWarning` is given.
   */
  http?: HttpOptions;
  /** Environment for secret references, store settings and proxy variables. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The 32-byte cache encryption key, instead of `TOKENWARD_CACHE_KEY` or the key file. */
  encryptionKey?: Buffer;
  /**
   * The config file in which a `subject_profile` or `parent_profile` is looked up, for a profile built
   * in code (a profile from the config file uses its own file). Default `TOKENWARD_CONFIG`, else the
   * platform config dir.
   */
  config?: string;
  /**
   * Lock, budget and back-off settings of the manager (defaults: derived from the profile's `timeout`
   * and `retries`; see docs/architecture.md, "Lock, budget and back-off parameters").
   */
  tuning?: TokenManagerTuning;
}

/** The manager settings {@link CreateTokenManagerOptions.tuning} may override. */
export type TokenManagerTuning = Pick<
  TokenManagerOptions,
  'optionalBudgetMs' | 'eagerRetryGapMs' | 'lockLeaseMs' | 'lockTimeoutMs' | 'closeTimeoutMs'
>;

/**
 * Validates a profile with the config file's schema ({@link validateProfile}): an unknown key (with the
 * nearest known key), a wrong type, a value out of range or a broken rule spanning keys is a
 * {@link ConfigError} naming the key — for a profile built in code exactly as for one from the file, which
 * also gets the file and line (`origin`). The layers below (the manager, the providers) trust it.
 */
function checkProfile(input: Profile, origin: ProfileOrigin | undefined): void {
  if (origin === undefined) {
    validateProfile(input);
    return;
  }
  const name = input.name;
  validateProfile(input, {
    file: origin.file,
    keyPrefix: name === undefined ? '' : `profiles.${name}.`,
    lineOf: (k) => (k === '' ? origin.line : origin.lines[k]),
  });
}

/**
 * Builds the {@link TokenManager} of a profile: resolves its non-secret references (endpoint URLs,
 * `store_url`, `params`…), computes the cache key from the profile with the provider's pure identity
 * function, and opens its store (file by default; PostgreSQL and Redis connect here). The token client is
 * built on the first token request (grant, refresh or revocation): only then are the secret keys'
 * references (`client_secret`, `password`, `private_key`, `app_secret`, `refresh_token` as `env:`,
 * `file:`, `cmd:`, `keyring:`) resolved and the provider's grant and HTTP code loaded, so a manager that
 * finds its token in the store never runs a secret command. Close the manager when done; it closes the
 * store it opened.
 *
 * @example
 * ```ts
 * const manager = await createTokenManager({
 *   token_url: 'https://idp.example.com/oauth2/token',
 *   client_id: 'reporting',
 *   client_secret: 'env:REPORTING_SECRET',
 *   scope: 'reports:read',
 * });
 * const token = await manager.getToken();
 * ```
 * @throws ConfigError for an invalid profile (an unknown key, a wrong type, a value out of range: the
 * same rules as the config file) or an unresolvable non-secret reference. An unresolvable secret
 * reference is a ConfigError naming the key, thrown by the first `getToken()` that needs a request.
 * @throws StoreError when a shared store is unreachable (unless `store_fallback_memory`).
 */
export async function createTokenManager(
  input: Profile,
  options: CreateTokenManagerOptions = {},
): Promise<TokenManager> {
  const env = options.env ?? process.env;
  const onWarning = options.onWarning ?? printWarningOnce;
  checkProfile(input, originOf(input));
  // A profile whose token comes from another profile's (subject_profile, an msx parent_profile): the
  // chain is checked in the config file (a cycle is an error, not a deadlock); a switch profile
  // inherits its parent's endpoint and client.
  const linked = linkedProfiles(input).length > 0;
  const configPath = originOf(input)?.file ?? options.config;
  const chain = linked ? await resolveProfileLinks(input, { config: configPath, env, onWarning }) : undefined;
  const base = chain?.profile ?? input;
  const origin = originOf(base);
  // The secret keys wait for the first request; the rest (URLs, store_url, params: the identity and the
  // store need them) is resolved now.
  const profile = await resolveProfileSecrets(base, { env, defer: SECRET_KEYS });
  // The deferred ones name the config file and line when they fail too.
  if (origin !== undefined) setOrigin(profile, origin);
  // Again with the values of secret references (a `token_url = "env:…"` must resolve to a URL).
  checkProfile(profile, origin);
  const http: HttpOptions = { ...options.http };
  http.proxyEnv ??= env; // HTTPS_PROXY, NO_PROXY… from the same environment
  // The HTTP layer's warnings (TLS verification off: once per origin) go through the caller's hook.
  http.onWarning ??= onWarning;
  const descriptor = descriptorOf(profile);
  const dpopAlg = dpopAlgorithm(profile.dpop);
  if (dpopAlg !== undefined && descriptor.name !== 'oauth2' && descriptor.name !== 'oidc') {
    throw new ConfigError(
      `is supported by the oauth2 and oidc providers; provider "${descriptor.name}" has no sender-constrained tokens`,
      { key: 'dpop' },
    );
  }
  const links: ClientLinks = { env, where: (key) => keyWhere(profile, key) };
  if (origin !== undefined) links.baseDir = dirname(origin.file);
  if (linked) {
    // Another profile's token: its process-wide manager (one cache and flight for every chain using it).
    const upstream: OpenProfileOptions = { ...options, env, onWarning };
    if (configPath !== undefined) upstream.config = configPath;
    links.profileToken = async (name, signal) =>
      (await getToken(name, signal === undefined ? upstream : { ...upstream, signal })).accessToken;
  }
  if (chain?.parent !== undefined) {
    // A switch profile's tokens are its parent session's: the parent's cache key (a hash) keys them too.
    const parent = await resolveProfileSecrets(chain.parent, { env, defer: SECRET_KEYS });
    links.identity = { parent_key: storeKey(parent.name, descriptorOf(parent).identity(parent)) };
  }
  const grant = grantFromProfile(profile);
  const delegated = grant === 'token_exchange' || grant === 'jwt_bearer';
  // The subject token's identity (source, iss/sub, hash): a new subject token is a new cache key.
  const subjectFactsNow = () =>
    delegationFacts(profile, { ...links, http: { ...httpLimitsFromProfile(profile), ...http } });
  if (delegated) links.identity = await subjectFactsNow();
  const client: LazyTokenClient = {
    identity: { ...descriptor.identity(profile), ...links.identity },
    budgetMs: httpBudgetMs({ ...httpLimitsFromProfile(profile), ...http }),
    // The request integrations present the client's certificate (TokenManager.clientCertificate).
    hasClientCert:
      profile.tls_cert !== undefined || profile.tls_key !== undefined || http.clientCert !== undefined,
    async create() {
      // Subject and actor references are resolved again for every exchange (they rotate).
      const resolved = await resolveProfileSecrets(profile, { env, defer: DEFERRED_SUBJECT_KEYS });
      checkProfile(resolved, origin);
      const mod = await descriptor.load();
      return mod.createClient(resolved, http, links);
    },
  };
  let store = options.store;
  const ownsStore = store === undefined;
  if (store === undefined) {
    const storeOpts: Parameters<typeof createStore>[1] = {
      env,
      onWarning: (message) => onWarning({ code: 'STORE', message }),
    };
    if (options.encryptionKey !== undefined) storeOpts.key = options.encryptionKey;
    store = await createStore(profile, storeOpts);
  }
  const key = storeKey(profile.name, client.identity);
  const managerOptions: ConstructorParameters<typeof TokenManager>[0] = {
    client,
    key,
    store,
    ownsStore,
    onWarning,
  };
  if (delegated) {
    // A long-lived manager follows the subject token: when it rotates, the cache key does too.
    managerOptions.rekey = {
      async current() {
        const identity = { ...descriptor.identity(profile), ...(await subjectFactsNow()) };
        return { key: storeKey(profile.name, identity), identity };
      },
    };
  }
  if (dpopAlg !== undefined) {
    // The key pair lives in the store beside the tokens; the client (built later) signs with it. Its
    // entry is keyed by the identity without the subject token's facts: one key pair for the profile,
    // whichever subject token (or process) got the current token.
    const { DpopSigner } = await import('./dpop/signer.js');
    const tokenKey = delegated ? storeKey(profile.name, withoutTokenFacts(client.identity)) : key;
    const signer = new DpopSigner({ alg: dpopAlg, store, tokenKey, profile: profile.name });
    http.tokenRequestHook = signer.tokenRequestHook;
    managerOptions.dpop = signer;
  }
  if (profile.name !== undefined) managerOptions.profile = profile.name;
  if (profile.skew_seconds !== undefined) managerOptions.skewMs = profile.skew_seconds * 1000;
  if (profile.eager_refresh !== undefined) managerOptions.eagerRefreshFraction = profile.eager_refresh;
  if (options.refreshMode !== undefined) managerOptions.refreshMode = options.refreshMode;
  if (options.clock !== undefined) managerOptions.clock = options.clock;
  const tuning = options.tuning ?? {};
  for (const k of [
    'optionalBudgetMs',
    'eagerRetryGapMs',
    'lockLeaseMs',
    'lockTimeoutMs',
    'closeTimeoutMs',
  ] as const) {
    const v = tuning[k];
    if (v !== undefined) managerOptions[k] = v;
  }
  return new TokenManager(managerOptions);
}

/** Options of {@link openProfile} and {@link getToken}. */
export interface OpenProfileOptions extends CreateTokenManagerOptions {
  /** The config file (default `TOKENWARD_CONFIG`, else the platform config dir). */
  config?: string;
}

/** Subject and actor tokens: resolved at each exchange by `src/subject/`, not once with the other secrets. */
const DEFERRED_SUBJECT_KEYS: readonly string[] = ['subject_token', 'actor_token'];

/** Managers being opened or open, by config path and profile name. */
const open = new Map<string, Map<string | undefined, Promise<TokenManager>>>();
/** The same managers once open: the hot path of {@link getToken} looks here without awaiting. */
const ready = new Map<string, Map<string | undefined, TokenManager>>();

function slot<V>(maps: Map<string, Map<string | undefined, V>>, config: string): Map<string | undefined, V> {
  let m = maps.get(config);
  if (m === undefined) {
    m = new Map();
    maps.set(config, m);
  }
  return m;
}

/**
 * The process-wide {@link TokenManager} of a profile in the config file. The first call loads and
 * opens it; later calls (with the same name and config path) return the same manager, so all callers
 * share one cache and one single flight. Without a name: `TOKENWARD_PROFILE`, `default_profile`, or the
 * only profile. The options of the first call win.
 */
export function openProfile(name?: string, options: OpenProfileOptions = {}): Promise<TokenManager> {
  const config = options.config ?? '';
  const opening = slot(open, config);
  let m = opening.get(name);
  if (m === undefined) {
    // The config file's warnings go to the same hook as the manager's.
    const loadOpts: LoadConfigOptions = { onWarning: options.onWarning ?? printWarningOnce };
    if (options.config !== undefined) loadOpts.path = options.config;
    if (options.env !== undefined) loadOpts.env = options.env;
    const p = getProfile(name, loadOpts).then((profile) => createTokenManager(profile, options));
    m = p;
    opening.set(name, p);
    p.then(
      (manager) => {
        if (opening.get(name) === p) slot(ready, config).set(name, manager);
      },
      () => {
        if (opening.get(name) === p) opening.delete(name); // a failure (bad config) is not remembered
      },
    );
  }
  return m;
}

function tokenOptions(options: GetTokenOptions): GetTokenOptions | undefined {
  if (options.minTtlMs === undefined && options.force === undefined && options.signal === undefined) {
    return undefined;
  }
  const out: GetTokenOptions = {};
  if (options.minTtlMs !== undefined) out.minTtlMs = options.minTtlMs;
  if (options.force !== undefined) out.force = options.force;
  if (options.signal !== undefined) out.signal = options.signal;
  return out;
}

/**
 * Returns a valid access token for a profile of the config file, or for a profile object.
 * A profile object gets a manager of its own per call unless you keep one with
 * {@link createTokenManager}; a profile name shares the process-wide manager of {@link openProfile}
 * (once it is open, a cached token costs a map lookup and a field read).
 *
 * @example
 * ```ts
 * import { getToken } from 'tokenward';
 * const { accessToken } = await getToken('rdp');
 * ```
 */
export function getToken(
  profile?: string | Profile,
  options: OpenProfileOptions & GetTokenOptions = {},
): Promise<Token> {
  const getOpts = tokenOptions(options);
  if (typeof profile === 'object') {
    return createTokenManager(profile, options).then(async (m) => {
      try {
        return await m.getToken(getOpts);
      } finally {
        await m.close();
      }
    });
  }
  const manager = ready.get(options.config ?? '')?.get(profile);
  if (manager !== undefined) return manager.getToken(getOpts);
  return openProfile(profile, options).then((m) => m.getToken(getOpts));
}

/** Closes every manager opened by {@link openProfile} / {@link getToken} (their stores and connections). */
export async function closeAll(): Promise<void> {
  const all = [...open.values()].flatMap((m) => [...m.values()]);
  // Empty the inner maps too: a profile still opening must not file its manager as ready afterwards.
  for (const m of open.values()) m.clear();
  for (const m of ready.values()) m.clear();
  open.clear();
  ready.clear();
  await Promise.allSettled(all.map(async (m) => (await m).close()));
}
