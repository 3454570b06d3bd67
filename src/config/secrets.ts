/**
 * Secret references. A profile value may name where a secret lives instead of holding it:
 *
 * - `env:NAME` — the environment variable `NAME`;
 * - `file:/path` — the file's content, trimmed (`~` expands to the home directory; a relative path is
 *   taken from the config file's directory when the profile came from one); a regular file of at most
 *   1 MiB, read within 10 s (a device, FIFO or directory is a {@link ConfigError});
 * - `cmd:some command` — the standard output of a shell command, trimmed (a password manager, `pass`,
 *   `op read …`); a non-zero exit or a timeout is a {@link ConfigError} that does not quote the output;
 * - `keyring:NAME` — the OS keyring (`secret-tool` on Linux, `security` on macOS), service `tokenward`,
 *   account `NAME`;
 * - `secret:NAME` — what `tokenward secret set NAME` stored: the OS keyring when it answers, else the
 *   local encrypted secret store (see `src/secrets/index.ts`; `TOKENWARD_SECRET_BACKEND` chooses).
 *
 * Any top-level string value of a profile (and any value in `params`) may be a reference. Every value
 * of a secret-bearing key ({@link SECRET_KEYS}, and `params` entries the catalogue in
 * `src/secret-fields.ts` names secret), literal or resolved, is registered for redaction, and so is the
 * password of every URL-valued key. This, with the HTTP layer, is where secrets are registered.
 * @module
 */

import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Profile } from '../profile.js';
import { registerSecret, registerUrlPassword } from '../redact.js';
import {
  isSecretField,
  isSecretProfileKey,
  SECRET_PROFILE_KEYS,
  type SecretProfileKey,
} from '../secret-fields.js';
import { LOCAL_FILE_LIMITS, LocalReadError, readLocalFile } from './local-file.js';
import { originOf } from './origin.js';

/**
 * Profile keys whose values are secrets (from the one catalogue, `src/secret-fields.ts`). `store_url`,
 * and any other URL-valued key, counts for its password part only.
 */
export const SECRET_KEYS: readonly SecretProfileKey[] = SECRET_PROFILE_KEYS;

/** A profile key that holds a secret. */
export type SecretKey = SecretProfileKey;

/**
 * True when a profile key (or, with `inParams`, a `params` entry) holds a secret. Both answers come from
 * the catalogue in `src/secret-fields.ts`: {@link isSecretProfileKey} and, for `params`,
 * {@link isSecretField} (the same rule as the token request's form fields).
 */
export function isSecretKey(key: string, inParams = false): boolean {
  return inParams ? isSecretField(key) : isSecretProfileKey(key);
}

/** Registers one plain (resolved or literal) value: a secret key's value, or a URL's password. */
function registerValue(key: string, value: string, inParams: boolean): void {
  if (isSecretKey(key, inParams)) registerSecret(value);
  if (value.includes('@') && value.includes('://')) registerUrlPassword(value);
}

/**
 * Registers for redaction every secret a profile holds as a plain value: the values of secret keys and
 * secret `params`, and the password of every URL-valued string (`store_url`, a `token_url` with
 * `user:pw@`…). References (`env:…`) are not secrets and are skipped. {@link resolveProfileSecrets}
 * calls this on the resolved profile; call it yourself only for a profile built without it.
 */
export function registerProfileSecrets(profile: Profile): void {
  const visit = (key: string, value: unknown, inParams: boolean): void => {
    if (Array.isArray(value)) {
      for (const v of value) visit(key, v, inParams);
      return;
    }
    if (typeof value === 'string' && !isSecretReference(value)) registerValue(key, value, inParams);
  };
  for (const [k, v] of Object.entries(profile)) {
    if (k === 'params' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [pk, pv] of Object.entries(v)) visit(pk, pv, true);
    } else visit(k, v, false);
  }
}

/** The kinds of secret reference. */
export type SecretReferenceKind = 'env' | 'file' | 'cmd' | 'keyring' | 'secret';

/** A parsed secret reference. */
export interface SecretReference {
  kind: SecretReferenceKind;
  /** The variable name, path, command, keyring account or secret name. */
  target: string;
}

const REF = /^(env|file|cmd|keyring|secret):/;

/** Parses `env:NAME`, `file:/path`, `cmd:…`, `keyring:NAME` or `secret:NAME`; undefined for a literal value. */
export function parseSecretReference(value: string): SecretReference | undefined {
  const m = REF.exec(value);
  if (m === null) return undefined;
  return { kind: m[1] as SecretReferenceKind, target: value.slice(m[0].length).trim() };
}

/** True when a value is a secret reference rather than a literal. */
export function isSecretReference(value: unknown): boolean {
  return typeof value === 'string' && REF.test(value);
}

/** Options of {@link resolveProfileSecrets} and {@link resolveSecretReference}. */
export interface ResolveSecretsOptions {
  /** Environment for `env:` references and `cmd:` commands. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Time limit of one `cmd:` (and `keyring:` / `secret:` keyring) command, ms. Default 30,000. */
  commandTimeoutMs?: number;
  /** Base directory for relative `file:` paths. Default: the config file's directory, else the cwd. */
  baseDir?: string;
  /** The config file, for error messages. Default: where the profile was loaded from, if known. */
  file?: string;
  /**
   * Top-level keys whose references {@link resolveProfileSecrets} leaves as they are, to be resolved by
   * a later call (`createTokenManager` defers {@link SECRET_KEYS} to the first token request).
   */
  defer?: readonly string[];
}

/** Where a value sits, for error messages. */
interface Where {
  file?: string;
  line?: number;
  key: string;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
const MAX_OUTPUT_BYTES = 1 << 20;

/**
 * Resolves one reference (or returns a literal unchanged). Errors are {@link ConfigError}s naming the
 * key and, when known, the file and line; they never contain the secret or a command's output.
 */
export async function resolveSecretReference(
  value: string,
  where: Where,
  options: ResolveSecretsOptions = {},
): Promise<string> {
  const ref = parseSecretReference(value);
  if (ref === undefined) return value;
  const env = options.env ?? process.env;
  const at = { ...where };
  if (ref.target === '') throw new ConfigError(`the ${ref.kind}: reference names nothing`, at);
  switch (ref.kind) {
    case 'env': {
      const v = Object.hasOwn(env, ref.target) ? env[ref.target] : undefined; // not `__proto__`'s
      if (typeof v !== 'string' || v === '') {
        throw new ConfigError(
          `environment variable ${ref.target} is not set (referenced as env:${ref.target})`,
          at,
        );
      }
      return v;
    }
    case 'file': {
      const path = expandPath(ref.target, options.baseDir);
      let text: string;
      try {
        text = (await readLocalFile(path, { maxBytes: LOCAL_FILE_LIMITS.secretBytes })).toString('utf8');
      } catch (err) {
        const reason = err instanceof LocalReadError ? err.reason : 'cannot be read';
        throw new ConfigError(`the secret file ${path} ${reason}`, at);
      }
      const v = text.trim();
      if (v === '') throw new ConfigError(`the secret file ${path} is empty`, at);
      return v;
    }
    case 'cmd': {
      const v = (await runCommand(ref.target, env, options.commandTimeoutMs, at)).trim();
      if (v === '') throw new ConfigError('the secret command printed nothing', at);
      return v;
    }
    case 'keyring':
      return readKeyring(ref.target, env, options.commandTimeoutMs, at);
    case 'secret':
      return readSecret(ref.target, env, options.commandTimeoutMs, at);
  }
}

/**
 * Returns a copy of the profile with every secret reference resolved (top-level strings and `params`
 * values) but those of the `defer` keys, and registers every secret value for redaction. The input is
 * not changed.
 */
export async function resolveProfileSecrets(
  profile: Profile,
  options: ResolveSecretsOptions = {},
): Promise<Profile> {
  const origin = originOf(profile);
  const file = options.file ?? origin?.file;
  const baseDir = options.baseDir ?? (file !== undefined ? dirname(file) : undefined);
  const opts: ResolveSecretsOptions = { ...options };
  if (baseDir !== undefined) opts.baseDir = baseDir;
  const prefix = profile.name !== undefined ? `profiles.${profile.name}.` : '';
  const whereOf = (key: string): Where => {
    const w: Where = { key: prefix + key };
    if (file !== undefined) w.file = file;
    const line = origin?.lines[key];
    if (line !== undefined) w.line = line;
    return w;
  };

  const out: Record<string, unknown> = { ...profile };
  const jobs: Promise<void>[] = [];
  for (const [key, value] of Object.entries(profile)) {
    if (typeof value !== 'string' || !isSecretReference(value) || options.defer?.includes(key)) continue;
    jobs.push(
      resolveSecretReference(value, whereOf(key), opts).then((v) => {
        registerValue(key, v, false);
        out[key] = v;
      }),
    );
  }
  if (profile.params !== undefined) {
    const params: Record<string, string> = { ...profile.params };
    out['params'] = params;
    for (const [k, v] of Object.entries(profile.params)) {
      if (typeof v !== 'string' || !isSecretReference(v)) continue;
      jobs.push(
        resolveSecretReference(v, whereOf(`params.${k}`), opts).then((r) => {
          registerValue(k, r, true);
          params[k] = r;
        }),
      );
    }
  }
  // Literal values now; each resolved value as soon as it arrives (also when another one fails).
  registerProfileSecrets(profile);
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return out as Profile;
}

export { registerUrlPassword } from '../redact.js';

/** `~/x` → home; relative → against `baseDir` (or the cwd). */
export function expandPath(path: string, baseDir?: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return resolvePath(homedir(), path.slice(2));
  if (isAbsolute(path)) return path;
  return resolvePath(baseDir ?? process.cwd(), path);
}

/** Runs a shell command and returns its stdout. Neither stdout nor stderr ever appears in an error. */
async function runCommand(
  command: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number | undefined,
  where: Where,
): Promise<string> {
  const limit = timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  // Imported here: node:child_process is only loaded when a `cmd:` secret runs (not on a warm CLI call).
  const { runTool } = await import('../secrets/run.js');
  const r = await runTool(command, [], { env, timeoutMs: limit, maxBytes: MAX_OUTPUT_BYTES, shell: true });
  switch (r.kind) {
    case 'timeout':
      throw new ConfigError(`the secret command did not finish within ${limit} ms`, where);
    case 'too-big':
      throw new ConfigError(`the secret command printed more than ${MAX_OUTPUT_BYTES} bytes`, where);
    case 'spawn-error':
      throw new ConfigError(`could not run the secret command (${r.errno})`, where);
    case 'exit': {
      if (r.code !== 0) {
        const how = r.signal !== null ? `was killed by ${r.signal}` : `exited with status ${r.code}`;
        throw new ConfigError(`the secret command ${how} (its output is not shown)`, where);
      }
      return r.stdout.toString('utf8');
    }
  }
}

/** Reads `tokenward`/`account` from the OS keyring through the platform's command-line tool. */
async function readKeyring(
  account: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number | undefined,
  where: Where,
): Promise<string> {
  const { keyringGet } = await import('../secrets/keyring.js');
  const platform = process.platform;
  const a = await keyringGet(account, timeoutMs === undefined ? { env } : { env, timeoutMs });
  const hint =
    platform === 'darwin'
      ? `security add-generic-password -s tokenward -a ${account} -w`
      : `tokenward secret set --backend keyring ${account}`;
  if (!a.answered) {
    throw new ConfigError(
      `the OS keyring did not answer for account "${account}" (${a.why}); on a machine without one, store it with tokenward secret set ${account} and use a secret: reference`,
      where,
    );
  }
  if (a.value === undefined) {
    throw new ConfigError(
      `no keyring entry for service "tokenward", account "${account}" (store it with: ${hint})`,
      where,
    );
  }
  if (a.value === '') throw new ConfigError(`the keyring entry "${account}" is empty`, where);
  registerSecret(a.value);
  return a.value;
}

/** Reads `secret:NAME`: the OS keyring or the local secret store (see `src/secrets/index.ts`). */
async function readSecret(
  name: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number | undefined,
  where: Where,
): Promise<string> {
  const { getSecret } = await import('../secrets/index.js');
  let found: Awaited<ReturnType<typeof getSecret>>;
  try {
    found = await getSecret(name, timeoutMs === undefined ? { env } : { env, timeoutMs });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`the secret "${name}": ${why}`, where, { cause: err });
  }
  if (found.value === undefined) {
    const looked = [
      ...(found.backends.includes('keyring') ? ['the OS keyring'] : []),
      ...(found.localDir !== undefined ? [`the local secret store (${found.localDir})`] : []),
    ].join(' and ');
    throw new ConfigError(
      `no secret "${name}" in ${looked} (store it with: tokenward secret set ${name})`,
      where,
    );
  }
  return found.value;
}
