/**
 * Where `tokenward secret` keeps secrets and where `secret:NAME` references are read from: the OS
 * keyring (`keyring.ts`) or the local encrypted secret store (`local.ts`).
 *
 * The backend is chosen by `--backend`, else `TOKENWARD_SECRET_BACKEND`, else `auto`:
 * - `keyring`: the OS keyring only; a keyring that does not answer is a {@link StoreError};
 * - `local`: the local secret store only;
 * - `auto`: the keyring when it answers, else the local store. Reads look in the keyring first, then in
 *   the local store (a secret stored while no keyring answered is still found); `rm` deletes from both;
 *   `list` lists both.
 * @module
 */

import { ConfigError, StoreError } from '../errors.js';
import { registerSecret } from '../redact.js';
import {
  type KeyringAnswer,
  type KeyringOptions,
  keyringDelete,
  keyringGet,
  keyringList,
  keyringSet,
} from './keyring.js';
import { assertSecretName, LocalSecretStore } from './local.js';

/** A place secrets are kept. */
export type SecretBackend = 'keyring' | 'local';

/** A backend, or `auto` (the keyring when it answers, else the local store). */
export type SecretBackendChoice = SecretBackend | 'auto';

/** The environment variable that chooses the backend (`keyring`, `local` or `auto`). */
export const SECRET_BACKEND_ENV = 'TOKENWARD_SECRET_BACKEND';

const CHOICES: readonly SecretBackendChoice[] = ['auto', 'keyring', 'local'];

/**
 * The backend to use: `explicit` (the `--backend` option) when given, else `TOKENWARD_SECRET_BACKEND`,
 * else `auto`.
 * @throws {ConfigError} for any other value, naming where it came from.
 */
export function secretBackendChoice(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): SecretBackendChoice {
  const fromEnv = env[SECRET_BACKEND_ENV]?.trim();
  const [value, where] =
    explicit !== undefined
      ? [explicit, '--backend']
      : [fromEnv === '' ? undefined : fromEnv, SECRET_BACKEND_ENV];
  if (value === undefined) return 'auto';
  if ((CHOICES as readonly string[]).includes(value)) return value as SecretBackendChoice;
  // Not "KEY: value" (the redaction of secret-looking fields would hide the value).
  throw new ConfigError(
    `${where} "${value.slice(0, 32)}" is not a secret backend; use keyring, local or auto`,
  );
}

/** Options of the secret operations. */
export interface SecretsOptions {
  /** The backend. Default: {@link secretBackendChoice} of `env`. */
  backend?: SecretBackendChoice;
  /** Environment (keyring tool, `TOKENWARD_CONFIG_DIR`, `TOKENWARD_CACHE_KEY`…). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Time limit of one keyring command, ms. Default 30,000. */
  timeoutMs?: number;
  /** The local store to use. Default: one over {@link SecretsOptions.env}. */
  local?: LocalSecretStore;
  /** Receives non-fatal problems of the local store. */
  onWarning?: (message: string) => void;
}

/** What a secret operation did, for the command's message. */
export interface SecretOutcome {
  /** The backends used (read, written or deleted from), in order. */
  backends: SecretBackend[];
  /** Why the keyring was not used, when `auto` fell back to the local store. */
  keyringSkipped?: string;
  /** The local store's directory, when it was used. */
  localDir?: string;
}

interface Ctx {
  choice: SecretBackendChoice;
  keyring: KeyringOptions;
  local: () => LocalSecretStore;
}

function contextOf(options: SecretsOptions): Ctx {
  const env = options.env ?? process.env;
  const choice = options.backend ?? secretBackendChoice(undefined, env);
  let local = options.local;
  return {
    choice,
    keyring: options.timeoutMs === undefined ? { env } : { env, timeoutMs: options.timeoutMs },
    local: () => {
      local ??= new LocalSecretStore(
        options.onWarning === undefined ? { env } : { env, onWarning: options.onWarning },
      );
      return local;
    },
  };
}

/**
 * Asks the keyring (unless the choice is `local`). Returns its answer, or `undefined` when the local
 * store should be used instead; throws when the choice is `keyring` and it did not answer.
 */
async function askKeyring<T>(
  ctx: Ctx,
  ask: () => Promise<KeyringAnswer<T>>,
  out: SecretOutcome,
): Promise<T | undefined> {
  if (ctx.choice === 'local') return undefined;
  const a = await ask();
  if (a.answered) return a.value;
  if (ctx.choice === 'keyring') {
    throw new StoreError('keyring', `the OS keyring did not answer: ${a.why}`);
  }
  out.keyringSkipped = a.why;
  return undefined;
}

function usedLocal(ctx: Ctx, out: SecretOutcome): LocalSecretStore {
  const store = ctx.local();
  out.backends.push('local');
  out.localDir = store.dir;
  return store;
}

/**
 * Reads the secret `name` (see the module documentation for where). `value` is `undefined` when it is
 * in none of the backends looked at. A value found is registered for redaction.
 * @throws {StoreError} for a bad name, a keyring that does not answer (choice `keyring`), or a local
 *   file that cannot be used (tampered with, another key, unsafe).
 */
export async function getSecret(
  name: string,
  options: SecretsOptions = {},
): Promise<SecretOutcome & { value: string | undefined }> {
  assertSecretName(name);
  const ctx = contextOf(options);
  const out: SecretOutcome = { backends: [] };
  const fromKeyring = await askKeyring(ctx, () => keyringGet(name, ctx.keyring), out);
  if (ctx.choice !== 'local' && out.keyringSkipped === undefined) out.backends.push('keyring');
  if (fromKeyring !== undefined && fromKeyring !== '') {
    registerSecret(fromKeyring);
    return { ...out, backends: ['keyring'], value: fromKeyring };
  }
  if (ctx.choice === 'keyring') return { ...out, value: undefined };
  const value = await usedLocal(ctx, out).get(name);
  return { ...out, value };
}

/**
 * Stores `value` as the secret `name`: in the keyring, or (choice `local`, or `auto` with no keyring
 * answering) in the local store. The value is registered for redaction.
 * @throws {StoreError} for a bad name, an empty value, a keyring that does not answer (choice
 *   `keyring`), or a failed write.
 */
export async function setSecret(
  name: string,
  value: string,
  options: SecretsOptions = {},
): Promise<SecretOutcome> {
  assertSecretName(name);
  if (value === '') throw new StoreError('secrets', `the secret "${name}" is empty`);
  registerSecret(value);
  const ctx = contextOf(options);
  const out: SecretOutcome = { backends: [] };
  const stored = await askKeyring(ctx, () => keyringSet(name, value, ctx.keyring), out);
  if (stored === true) return { ...out, backends: ['keyring'] };
  await usedLocal(ctx, out).set(name, value);
  return out;
}

/**
 * Deletes the secret `name` from the chosen backend (`auto`: from the keyring if it answers, and from
 * the local store). `backends` lists where it was found and deleted.
 */
export async function deleteSecret(name: string, options: SecretsOptions = {}): Promise<SecretOutcome> {
  assertSecretName(name);
  const ctx = contextOf(options);
  const out: SecretOutcome = { backends: [] };
  const deleted: SecretBackend[] = [];
  if ((await askKeyring(ctx, () => keyringDelete(name, ctx.keyring), out)) === true) deleted.push('keyring');
  if (ctx.choice !== 'keyring' && (await usedLocal(ctx, out).delete(name))) deleted.push('local');
  return { ...out, backends: deleted };
}

/** The names of the stored secrets (`auto`: of both backends), sorted, without duplicates. */
export async function listSecrets(
  options: SecretsOptions = {},
): Promise<SecretOutcome & { names: string[] }> {
  const ctx = contextOf(options);
  const out: SecretOutcome = { backends: [] };
  const names = new Set<string>();
  const fromKeyring = await askKeyring(ctx, () => keyringList(ctx.keyring), out);
  if (fromKeyring !== undefined) {
    out.backends.push('keyring');
    for (const n of fromKeyring) names.add(n);
  }
  if (ctx.choice !== 'keyring') for (const n of await usedLocal(ctx, out).list()) names.add(n);
  return { ...out, names: [...names].sort() };
}
