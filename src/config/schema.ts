/**
 * The profile schema (valibot). It accepts exactly the keys of {@link Profile}: the common keys below —
 * a compile-time check keeps them in step with `CommonProfileKeys` — and the keys each provider's
 * descriptor declares (`src/providers/*.descriptor.ts`), with the `provider` picklist from the provider
 * registry. It turns problems into {@link ConfigError}s that name the key and suggest the nearest known
 * key for a typo.
 * @module
 */

import * as v from 'valibot';
import { DPOP_ALGORITHMS } from '../dpop/algorithms.js';
import { ConfigError } from '../errors.js';
import type { CommonProfileKeys, Profile } from '../profile.js';
import { providerDescriptors, providerNames, registryVersion } from '../providers/registry.js';
import { isSecretReference } from './secrets.js';

const oneOf = <const T extends readonly string[]>(values: T) =>
  v.picklist(
    values,
    (issue) => `expected one of ${values.map((x) => `"${x}"`).join(', ')}, got ${issue.received}`,
  );

/** The check of an endpoint URL: an http(s) URL, or a secret reference that will resolve to one. */
const httpUrl = v.check((s: string) => {
  if (isSecretReference(s)) return true;
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}, 'expected an http(s) URL');
/** A URL, or a secret reference that will resolve to one. Only http(s) URLs are accepted. */
const urlString = v.pipe(v.string(), httpUrl);

/** A store connection URL (any scheme), or a reference. */
const anyUrl = v.pipe(
  v.string(),
  v.check((s) => {
    if (isSecretReference(s)) return true;
    try {
      new URL(s);
      return true;
    } catch {
      return false;
    }
  }, 'expected a URL'),
);

const str = v.string();
/** A finite number (TOML also has `inf` and `nan`). */
const finite = v.pipe(v.number(), v.finite('expected a finite number'));
const positive = v.pipe(finite, v.minValue(Number.MIN_VALUE, 'expected a number greater than 0'));
const nonNegative = v.pipe(finite, v.minValue(0, 'expected a number of at least 0'));

/** Largest `timeout`, in seconds (per attempt): 5 minutes. */
export const MAX_TIMEOUT_SECONDS = 300;
/** Largest `retries` (after the first attempt). */
export const MAX_RETRIES = 10;
const strings = v.array(v.string());

/** The entries of the common keys, one per {@link CommonProfileKeys} key. */
const commonEntries = {
  name: v.optional(v.pipe(str, v.minLength(1))),
  provider: v.optional(str), // the registry's picklist, see schemaEntries()
  grant: v.optional(
    oneOf([
      'client_credentials',
      'password',
      'refresh_token',
      'authorization_code',
      'device_code',
      'token_exchange',
      'jwt_bearer',
    ] as const),
  ),
  token_url: v.optional(urlString),
  issuer: v.optional(urlString),
  revocation_url: v.optional(urlString),
  introspection_url: v.optional(urlString),
  client_id: v.optional(str),
  client_secret: v.optional(str),
  auth_method: v.optional(
    oneOf([
      'client_secret_basic',
      'client_secret_post',
      'client_secret_jwt',
      'private_key_jwt',
      'tls_client_auth',
      'self_signed_tls_client_auth',
      'none',
    ] as const),
  ),
  private_key: v.optional(str),
  signing_alg: v.optional(str),
  key_id: v.optional(str),
  tls_cert: v.optional(str),
  tls_key: v.optional(str),
  tls_key_passphrase: v.optional(str),
  username: v.optional(str),
  password: v.optional(str),
  refresh_token: v.optional(str),
  scope: v.optional(v.union([str, strings], 'expected a string or a list of strings')),
  audience: v.optional(str),
  resource: v.optional(v.union([str, strings], 'expected a string or a list of strings')),
  refresh_params: v.optional(
    v.union(
      [v.boolean(), v.array(oneOf(['resource', 'audience', 'scope', 'params'] as const))],
      'expected true, false or a list of "resource", "audience", "scope", "params"',
    ),
  ),
  params: v.optional(
    v.pipe(
      v.unknown(),
      // valibot's record takes a list as a table of indices: a list is refused first.
      v.check((x) => !Array.isArray(x), 'expected a table, got a list'),
      v.record(v.string(), v.string()),
    ),
  ),

  store: v.optional(oneOf(['file', 'memory', 'postgres', 'redis'] as const)),
  store_url: v.optional(anyUrl),
  cache_dir: v.optional(str),
  store_prefix: v.optional(str),
  store_fallback_memory: v.optional(v.boolean()),

  skew_seconds: v.optional(nonNegative),
  eager_refresh: v.optional(
    v.pipe(
      finite,
      v.check((n) => n > 0 && n <= 1, 'expected a fraction greater than 0 and at most 1'),
    ),
  ),
  default_lifetime: v.optional(positive),
  max_lifetime: v.optional(positive),
  token_types: v.optional(v.array(v.pipe(str, v.minLength(1, 'expected a non-empty token type name')))),
  dpop: v.optional(
    v.union(
      [v.boolean(), v.picklist(DPOP_ALGORITHMS)],
      `expected true, false or one of ${DPOP_ALGORITHMS.join(', ')}`,
    ),
  ),

  timeout: v.optional(
    v.pipe(
      positive,
      v.maxValue(MAX_TIMEOUT_SECONDS, `expected seconds greater than 0 and at most ${MAX_TIMEOUT_SECONDS}`),
    ),
  ),
  retries: v.optional(
    v.pipe(
      v.number(),
      v.integer(`expected a whole number from 0 to ${MAX_RETRIES}`),
      v.minValue(0, `expected a whole number from 0 to ${MAX_RETRIES}`),
      v.maxValue(MAX_RETRIES, `expected a whole number from 0 to ${MAX_RETRIES}`),
    ),
  ),
  ca_file: v.optional(str),
  insecure_skip_tls_verify: v.optional(v.boolean()),
  proxy: v.optional(
    v.pipe(
      v.string(),
      v.check(
        (s) => s === 'direct' || isSecretReference(s) || /^https?:\/\/[^/]/i.test(s),
        'expected an http:// or https:// proxy URL, or "direct"',
      ),
    ),
  ),

  api_base_url: v.optional(urlString),
  allowed_origins: v.optional(v.array(urlString)),

  git_username: v.optional(v.pipe(str, v.regex(/^[^\s:]+$/, 'expected a username without spaces or ":"'))),
  docker_registries: v.optional(
    v.array(
      v.pipe(
        str,
        v.regex(
          /^(?:https?:\/\/)?[A-Za-z0-9.-]+(?::\d{1,5})?(?:\/\S*)?$/,
          'expected a registry host such as "registry.example.com" or "localhost:5000"',
        ),
      ),
    ),
  ),
  docker_username: v.optional(v.pipe(str, v.regex(/^\S+$/, 'expected a username without spaces'))),
};

// Compile-time guard: the common entries are exactly the CommonProfileKeys, with compatible types.
// valibot's `optional()` also lets a key be present as `undefined` (read as "not set", as everywhere a
// profile is read); the profile types declare what a key holds when it is set, hence `Defined`.
type CommonOutput = v.InferOutput<v.StrictObjectSchema<typeof commonEntries, undefined>>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Defined<T> = { [K in keyof T]: Exclude<T[K], undefined> };
const commonMatchesProfile: Same<keyof CommonOutput, keyof CommonProfileKeys> = true;
const commonAssignable: Defined<Omit<CommonOutput, 'provider'>> extends Omit<CommonProfileKeys, 'provider'>
  ? true
  : false = true;
void commonMatchesProfile;
void commonAssignable;

/**
 * Every entry of the profile schema: the common keys, the `provider` picklist of the registry, and the
 * keys the providers declare (an endpoint key gets the URL check).
 */
function schemaEntries(): Record<string, v.GenericSchema> {
  const names = providerNames();
  const out: Record<string, v.GenericSchema> = {
    ...commonEntries,
    provider: v.optional(oneOf(names)),
  };
  for (const d of providerDescriptors()) {
    for (const [key, spec] of Object.entries(d.keys)) {
      if (Object.hasOwn(out, key)) continue;
      out[key] =
        spec.endpoint === true ? v.optional(v.pipe(spec.schema.wrapped, v.string(), httpUrl)) : spec.schema;
    }
  }
  return out;
}

interface Derived {
  version: number;
  entries: Record<string, v.GenericSchema>;
  schema: v.GenericSchema<unknown, Profile>;
  keys: readonly (keyof Profile)[];
}
let derived: Derived | undefined;

/** The schema and keys for the registry as it is now (rebuilt only when a provider is registered). */
function current(): Derived {
  if (derived === undefined || derived.version !== registryVersion()) {
    const entries = schemaEntries();
    derived = {
      version: registryVersion(),
      entries,
      schema: v.strictObject(entries) as v.GenericSchema<unknown, Profile>,
      keys: Object.keys(entries) as (keyof Profile)[],
    };
  }
  return derived;
}

/** The valibot schema of a profile (the built-in providers'). Unknown keys are errors. */
export const ProfileSchema: v.GenericSchema<unknown, Profile> = current().schema;

/** Every key a profile may have (with the built-in providers). */
export const PROFILE_KEYS: readonly (keyof Profile)[] = current().keys;

/** Every key a profile may have, with every provider in the registry now. */
export function profileKeys(): readonly (keyof Profile)[] {
  return current().keys;
}

/** How the CLI reads a key's value: a list (comma-separated), a number, a boolean, or text. */
export type KeyKind = 'list' | 'number' | 'boolean' | 'text';

/** The {@link KeyKind} of a profile key, from its schema entry. */
export function keyKind(key: string): KeyKind {
  const entry = current().entries[key] as { wrapped?: { type?: string } } | undefined;
  const type = entry?.wrapped?.type;
  return type === 'array' ? 'list' : type === 'number' ? 'number' : type === 'boolean' ? 'boolean' : 'text';
}

/** Where a problem is, for {@link validateProfile}. */
export interface ValidationContext {
  /** The config file. */
  file?: string;
  /** Prefix of key paths in messages, e.g. `profiles.rdp.`. */
  keyPrefix?: string;
  /** Finds the line of a key (relative to the profile). */
  lineOf?: (key: string) => number | undefined;
  /**
   * The full key path of a key in messages, when it is not `keyPrefix + key` (a merged profile whose
   * key came from `[defaults]`).
   */
  keyOf?: (key: string) => string | undefined;
  /**
   * Check keys and types only, not the rules that span keys (a shared store needs `store_url`, …).
   * For a table that is merged with another before use (`[defaults]` and `[profiles.NAME]`): the rules
   * are checked once, on the merged profile. Default false.
   */
  shapeOnly?: boolean;
}

/** Edit distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/** The nearest of `candidates` to `word`, when it is close enough to be a likely typo. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * Validates a profile object (from TOML or from library code) and returns it typed. Throws a
 * {@link ConfigError} for the first problem, with file, line and key when known, then (unless
 * `ctx.shapeOnly`) checks the rules that span keys (a shared store needs `store_url`, …).
 */
export function validateProfile(input: unknown, ctx: ValidationContext = {}): Profile {
  const prefix = ctx.keyPrefix ?? '';
  const where = (key: string | undefined) => {
    const w: { file?: string; line?: number; key?: string } = {};
    if (ctx.file !== undefined) w.file = ctx.file;
    if (key !== undefined) {
      w.key = ctx.keyOf?.(key) ?? prefix + key;
      // A path inside a value (`scopes.0`) has no line of its own: the line of its key.
      const line = ctx.lineOf?.(key) ?? ctx.lineOf?.(key.split('.')[0] ?? key);
      if (line !== undefined) w.line = line;
    } else if (prefix !== '') {
      w.key = prefix.replace(/\.$/, '');
      const line = ctx.lineOf?.('');
      if (line !== undefined) w.line = line;
    }
    return w;
  };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError('a profile must be a table of keys and values', where(undefined));
  }
  const rec = input as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    if (!Object.hasOwn(current().entries, key)) {
      const hint = suggest(key, current().keys);
      throw new ConfigError(
        `unknown key "${key}"${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}; see docs/config.md for the profile keys`,
        where(key),
      );
    }
  }
  const result = v.safeParse(current().schema, input);
  if (!result.success) {
    const issue = result.issues[0];
    const path = (issue.path ?? []).map((p) => String(p.key));
    const top = path[0];
    const nested = path.length > 1 ? path.join('.') : top;
    throw new ConfigError(describeIssue(issue), where(nested));
  }
  const p = result.output as Profile;
  if (ctx.shapeOnly === true) return p;
  if ((p.store === 'postgres' || p.store === 'redis') && p.store_url === undefined) {
    throw new ConfigError(
      `store "${p.store}" needs store_url (for example "env:${p.store.toUpperCase()}_URL")`,
      where('store'),
    );
  }
  if (p.store_url !== undefined && (p.store === undefined || p.store === 'file' || p.store === 'memory')) {
    throw new ConfigError('store_url is set but store is not "postgres" or "redis"', where('store_url'));
  }
  if (p.grant === 'password' && p.username === undefined && (p.provider ?? 'oauth2') === 'oauth2') {
    throw new ConfigError('grant "password" needs username and password', where('grant'));
  }
  return p;
}

/** What kind of value was given, for type errors: never the value itself (it may be a secret). */
function kindOf(value: unknown): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return Number.isNaN(value) ? 'nan' : 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  if (value === null || value === undefined) return 'nothing';
  return typeof value === 'object' ? 'a table' : typeof value;
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  const got = kindOf(issue.input);
  if (issue.type === 'boolean') return `expected true or false, got ${got}`;
  if (issue.type === 'number') return `expected a number, got ${got}`;
  if (issue.type === 'string') return `expected a string, got ${got}`;
  if (issue.type === 'array') return `expected a list, got ${got}`;
  if (issue.type === 'record' || issue.type === 'strict_object' || issue.type === 'object')
    return `expected a table, got ${got}`;
  if (issue.type === 'union') return `${issue.message}, got ${got}`;
  return issue.message;
}
