/** Shared by the `tokenward secret` tests: a config of `secret:`/`keyring:` profiles, and runs of the command. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TokenServer } from '../helpers/token-server.js';
import { type RunResult, type TempHome, tw } from './helpers.js';

/**
 * Writes the temporary home's config: one client-credentials profile per entry of `secrets` (profile
 * name → the client_secret reference), all as `clientId` against the token server.
 */
export function writeSecretProfiles(
  home: TempHome,
  ts: TokenServer,
  clientId: string,
  secrets: Record<string, string>,
): void {
  mkdirSync(dirname(home.config), { recursive: true, mode: 0o700 });
  const tables = Object.entries(secrets).map(
    ([name, ref]) =>
      `[profiles.${name}]\ntoken_url = "${ts.tokenUrl}"\nclient_id = "${clientId}"\nclient_secret = "${ref}"\n`,
  );
  writeFileSync(home.config, tables.join('\n'), { mode: 0o600 });
}

/** Runs `tokenward secret ...args` with `env` (and `extra`), `input` on stdin. */
export function secretCli(
  env: NodeJS.ProcessEnv,
  args: string[],
  input?: string,
  extra: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  return tw(['secret', ...args], { env: { ...env, ...extra }, ...(input === undefined ? {} : { input }) });
}

/** Asserts that `value` is in neither output of a run. */
export function assertNoValue(r: RunResult, value: string): void {
  assert.ok(!r.stdout.includes(value) && !r.stderr.includes(value), `value leaked: ${r.stdout}${r.stderr}`);
}
