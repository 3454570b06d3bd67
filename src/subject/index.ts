/**
 * Subject (and actor) tokens of the delegated grants: where a profile's subject token comes from, how
 * it is read, and what of it goes into the cache identity.
 *
 * Sources, in the order a profile is read (exactly one per role):
 * - `subject_token`: a literal, or a secret reference (`env:`, `file:`, `cmd:`, `keyring:`, `secret:`)
 *   resolved again for every exchange;
 * - `subject_token_file`: a file, re-read only when it changed (inode, size or mtime: Kubernetes swaps
 *   projected tokens in by renaming a symlink);
 * - `subject_profile`: another profile's current access token (its manager, its cache);
 * - `subject_source`: `github-actions` (GET `$ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with
 *   `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`), `gitlab` (`$CI_JOB_JWT_V2` or the variable
 *   `subject_env` names), `kubernetes` (the service-account token file, or `subject_token_file`).
 *
 * Every token read is registered for redaction at once. The identity facts ({@link subjectFacts}) are
 * the source, and for a token that can be read cheaply (a file, a variable, a literal, a profile's
 * cached token) its `iss`/`sub` (when it is a JWT) and a domain-separated SHA-256 prefix — never the
 * token itself — so a new subject token means a new cache key.
 *
 * Import-light: node built-ins and the config readers; the HTTP layer and jose are imported on use.
 * @module
 */

import { createHash } from 'node:crypto';
// `fs.promises`, read on first use: a CLI call that never reads a token file does not load it.
import { promises as fsp, type Stats } from 'node:fs';
import { LocalReadError, readLocalFile } from '../config/local-file.js';
import { parseSecretReference, resolveSecretReference } from '../config/secrets.js';
import { ConfigError } from '../errors.js';
import type { Profile } from '../profile.js';
import { registerSecret } from '../redact.js';
import type { SubjectSourceName } from './keys.js';
import { MAX_SUBJECT_BYTES, type SubjectContext } from './types.js';

export { MAX_SUBJECT_BYTES, type SubjectContext } from './types.js';

/** Which token: the subject, or the actor (RFC 8693 delegation). */
export type SubjectRole = 'subject' | 'actor';

/** The default service-account token of a Kubernetes pod. */
export const KUBERNETES_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** GitLab's default ID token variable. */
export const GITLAB_DEFAULT_VARIABLE = 'CI_JOB_JWT_V2';
/** Token type URI of a JWT (the default subject type). */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/** Token type URI of an access token (the default type of a `subject_profile` subject). */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** Where a profile's subject or actor token comes from. `key` is the profile key that says so. */
export type SubjectSpec =
  | { kind: 'value'; key: 'subject_token' | 'actor_token'; value: string }
  | { kind: 'file'; key: string; path: string }
  | { kind: 'profile'; key: 'subject_profile'; name: string }
  | { kind: 'github-actions'; key: 'subject_source'; audience: string | undefined }
  | { kind: 'gitlab'; key: 'subject_source' | 'subject_env'; variable: string };

/**
 * The source of a role's token in a profile, or `undefined` when it has none. For the subject, more
 * than one source is a {@link ConfigError} naming the second key.
 */
export function subjectSpec(
  profile: Profile,
  role: SubjectRole,
  where?: SubjectContext['where'],
): SubjectSpec | undefined {
  const found: SubjectSpec[] = [];
  if (role === 'actor') {
    if (profile.actor_token !== undefined)
      found.push({ kind: 'value', key: 'actor_token', value: profile.actor_token });
    if (profile.actor_token_file !== undefined)
      found.push({ kind: 'file', key: 'actor_token_file', path: profile.actor_token_file });
  } else {
    if (profile.subject_token !== undefined)
      found.push({ kind: 'value', key: 'subject_token', value: profile.subject_token });
    if (profile.subject_token_file !== undefined && profile.subject_source !== 'kubernetes')
      found.push({ kind: 'file', key: 'subject_token_file', path: profile.subject_token_file });
    if (profile.subject_profile !== undefined)
      found.push({ kind: 'profile', key: 'subject_profile', name: profile.subject_profile });
    if (profile.subject_source !== undefined) found.push(sourceSpec(profile, profile.subject_source));
  }
  const [first, second] = found;
  if (second !== undefined) {
    throw new ConfigError(
      `${first?.key} and ${second.key} both name the ${role} token; keep one`,
      where?.(second.key) ?? { key: second.key },
    );
  }
  return first;
}

function sourceSpec(profile: Profile, source: SubjectSourceName): SubjectSpec {
  switch (source) {
    case 'github-actions':
      return { kind: 'github-actions', key: 'subject_source', audience: profile.subject_audience };
    case 'gitlab':
      return {
        kind: 'gitlab',
        key: profile.subject_env !== undefined ? 'subject_env' : 'subject_source',
        variable: profile.subject_env ?? GITLAB_DEFAULT_VARIABLE,
      };
    case 'kubernetes':
      return {
        kind: 'file',
        key: profile.subject_token_file !== undefined ? 'subject_token_file' : 'subject_source',
        path: profile.subject_token_file ?? KUBERNETES_TOKEN_PATH,
      };
  }
}

/** The token type a role is sent as: `<role>_token_type`, else access_token for a profile subject, else jwt. */
export function subjectTokenType(profile: Profile, role: SubjectRole): string {
  if (role === 'actor') return profile.actor_token_type ?? JWT_TOKEN_TYPE;
  if (profile.subject_token_type !== undefined) return profile.subject_token_type;
  return profile.subject_profile !== undefined ? ACCESS_TOKEN_TYPE : JWT_TOKEN_TYPE;
}

/**
 * The profiles a profile's token depends on: its `subject_profile` and the msx `parent_profile`.
 * Pure; used for the chain and its cycle check.
 */
export function linkedProfiles(
  profile: Profile,
): Array<{ key: 'subject_profile' | 'parent_profile'; name: string }> {
  const out: Array<{ key: 'subject_profile' | 'parent_profile'; name: string }> = [];
  if (profile.subject_profile !== undefined)
    out.push({ key: 'subject_profile', name: profile.subject_profile });
  if (profile.parent_profile !== undefined) out.push({ key: 'parent_profile', name: profile.parent_profile });
  return out;
}

function whereOf(ctx: SubjectContext, key: string): { file?: string; line?: number; key: string } {
  return ctx.where?.(key) ?? { key };
}

/** A file's last known state and content, to read it again only when it changed. */
interface FileState {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  value: string;
}
const files = new Map<string, FileState>();

/** How many times subject files were actually read (not served from the unchanged-file memo). For tests. */
export const fileReads = { count: 0 };

/**
 * Reads a token file: `stat` first, and the content only when the inode, size, mtime or ctime differ
 * from the last read (so a warm call costs a stat). Bounded in size and time; trimmed; never empty.
 * @throws ConfigError naming `key` for a missing, unreadable, oversized or empty file.
 */
export async function readTokenFile(path: string, key: string, ctx: SubjectContext = {}): Promise<string> {
  const at = whereOf(ctx, key);
  const full = ctx.baseDir !== undefined && !path.startsWith('/') ? `${ctx.baseDir}/${path}` : path;
  let st: Stats;
  try {
    st = await fsp.stat(full);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new ConfigError(
      `the token file ${full} cannot be read (${typeof code === 'string' ? code : 'stat failed'})`,
      at,
    );
  }
  const known = files.get(full);
  if (
    known !== undefined &&
    known.dev === st.dev &&
    known.ino === st.ino &&
    known.size === st.size &&
    known.mtimeMs === st.mtimeMs &&
    known.ctimeMs === st.ctimeMs
  ) {
    return known.value;
  }
  let text: string;
  try {
    fileReads.count++;
    text = (await readLocalFile(full, { maxBytes: MAX_SUBJECT_BYTES })).toString('utf8');
  } catch (err) {
    files.delete(full);
    const reason = err instanceof LocalReadError ? err.reason : 'cannot be read';
    throw new ConfigError(`the token file ${full} ${reason}`, at);
  }
  const value = text.trim();
  if (value === '') throw new ConfigError(`the token file ${full} is empty`, at);
  registerSecret(value);
  files.set(full, {
    dev: st.dev,
    ino: st.ino,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    value,
  });
  return value;
}

function fromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  key: string,
  ctx: SubjectContext,
  hint: string,
): string {
  const v = Object.hasOwn(env, name) ? env[name] : undefined;
  if (typeof v !== 'string' || v.trim() === '') {
    throw new ConfigError(`environment variable ${name} is not set (${hint})`, whereOf(ctx, key));
  }
  const value = v.trim();
  if (Buffer.byteLength(value) > MAX_SUBJECT_BYTES) {
    throw new ConfigError(
      `environment variable ${name} holds more than ${MAX_SUBJECT_BYTES} bytes`,
      whereOf(ctx, key),
    );
  }
  registerSecret(value);
  return value;
}

/**
 * Reads a role's token now (every exchange calls this: a rotated file, variable or profile token is
 * picked up). The value is registered for redaction before it is returned.
 * @throws ConfigError naming the profile key when the source cannot give a token.
 */
export async function readSubject(spec: SubjectSpec, ctx: SubjectContext = {}): Promise<string> {
  const env = ctx.env ?? process.env;
  switch (spec.kind) {
    case 'value': {
      const opts: Parameters<typeof resolveSecretReference>[2] = { env };
      if (ctx.baseDir !== undefined) opts.baseDir = ctx.baseDir;
      const v = await resolveSecretReference(spec.value, whereOf(ctx, spec.key), opts);
      registerSecret(v);
      return v;
    }
    case 'file':
      return readTokenFile(spec.path, spec.key, ctx);
    case 'gitlab':
      return fromEnv(
        env,
        spec.variable,
        spec.key,
        ctx,
        'GitLab sets it for jobs with id_tokens; name yours with subject_env',
      );
    case 'profile': {
      if (ctx.profileToken === undefined) {
        throw new ConfigError(
          `names profile "${spec.name}", which only a manager opened from the config file can reach (createTokenManager, openProfile)`,
          whereOf(ctx, spec.key),
        );
      }
      const v = await ctx.profileToken(spec.name, ctx.signal);
      registerSecret(v);
      return v;
    }
    case 'github-actions': {
      const { githubActionsToken } = await import('./github-actions.js');
      return githubActionsToken(spec.audience, { ...ctx, env });
    }
  }
}

/** The identity facts of a token: `iss`/`sub` when it is a JWT, and a hash. Never the token. */
export async function tokenFacts(
  role: SubjectRole,
  token: string,
): Promise<Record<string, string | undefined>> {
  const h = createHash('sha256').update(`tokenward ${role} token\0`).update(token).digest('hex').slice(0, 16);
  let iss: string | undefined;
  let sub: string | undefined;
  if (/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) {
    try {
      const { decodeJwt } = await import('jose/jwt/decode');
      const claims = decodeJwt(token);
      if (typeof claims.iss === 'string') iss = claims.iss;
      if (typeof claims.sub === 'string') sub = claims.sub;
    } catch {
      // not a JWT after all: the hash alone
    }
  }
  return { [`${role}_iss`]: iss, [`${role}_sub`]: sub, [`${role}_hash`]: `sha256:${h}` };
}

/** The facts {@link tokenFacts} adds, by role: what changes when the token does. */
const TOKEN_FACT_KEYS: ReadonlySet<string> = new Set(
  (['subject', 'actor'] as const).flatMap((role) => [`${role}_iss`, `${role}_sub`, `${role}_hash`]),
);

/**
 * An identity without the facts of its subject and actor tokens (their sources kept): what stays the
 * same while the subject token rotates (the DPoP key pair of a delegated profile is keyed by it).
 */
export function withoutTokenFacts<T extends Record<string, string | undefined>>(identity: T): T {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(identity)) if (!TOKEN_FACT_KEYS.has(k)) out[k] = v;
  return out as T;
}

/** How a source is named in the identity (a path, a variable, a profile; never a value). */
function sourceLabel(spec: SubjectSpec): string {
  switch (spec.kind) {
    case 'value': {
      const ref = parseSecretReference(spec.value);
      if (ref === undefined) return 'literal';
      // A command line may hold anything: only its kind and a hash of it.
      return ref.kind === 'env' || ref.kind === 'file'
        ? `${ref.kind}:${ref.target}`
        : `${ref.kind}:${hashOf(ref.target)}`;
    }
    case 'file':
      return `file:${spec.path}`;
    case 'profile':
      return `profile:${spec.name}`;
    case 'gitlab':
      return `env:${spec.variable}`;
    case 'github-actions':
      return 'github-actions';
  }
}

function hashOf(s: string): string {
  return `sha256:${createHash('sha256').update('tokenward subject source\0').update(s).digest('hex').slice(0, 16)}`;
}

/**
 * The identity facts of a role's token, computed when a manager is opened: the source, and for a
 * token that is cheap to read (a literal, `env:` and `file:` references, a file, a CI variable, another
 * profile's cached token) its facts from {@link tokenFacts}. A `cmd:`, `keyring:` or `secret:` reference
 * is not run for this (a warm call runs no command), nor is the GitHub Actions endpoint asked: those are
 * keyed by their source (and GitHub's by its request URL's hash and the audience), and read again at
 * every exchange.
 */
export async function subjectFacts(
  spec: SubjectSpec,
  role: SubjectRole,
  ctx: SubjectContext = {},
): Promise<Record<string, string | undefined>> {
  const label = { [role]: sourceLabel(spec) };
  if (spec.kind === 'github-actions') {
    const url = (ctx.env ?? process.env)['ACTIONS_ID_TOKEN_REQUEST_URL'];
    return { ...label, [`${role}_audience`]: spec.audience, [`${role}_hash`]: url ? hashOf(url) : undefined };
  }
  if (spec.kind === 'value') {
    const ref = parseSecretReference(spec.value);
    if (ref !== undefined && ref.kind !== 'env' && ref.kind !== 'file') return label;
  }
  return { ...label, ...(await tokenFacts(role, await readSubject(spec, ctx))) };
}

/**
 * The identity facts of a delegated-grant profile's subject and actor ({@link subjectFacts} of each).
 * @throws ConfigError when the profile names no subject, or its source cannot give a token.
 */
export async function delegationFacts(
  profile: Profile,
  ctx: SubjectContext = {},
): Promise<Record<string, string | undefined>> {
  const subject = subjectSpec(profile, 'subject', ctx.where);
  if (subject === undefined) {
    throw new ConfigError(
      `grant "${profile.grant ?? ''}" needs a subject token: set subject_token, subject_token_file, subject_profile or subject_source`,
      ctx.where?.('grant') ?? { key: 'grant' },
    );
  }
  const actor = subjectSpec(profile, 'actor', ctx.where);
  const [s, a] = await Promise.all([
    subjectFacts(subject, 'subject', ctx),
    actor === undefined ? {} : subjectFacts(actor, 'actor', ctx),
  ]);
  return { ...s, ...a };
}
