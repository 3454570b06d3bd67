/**
 * What the example programs share: choosing where to run, and a clean exit.
 *
 * Each example runs against, first match wins:
 * 1. a profile of the tokenward config file, named as the first argument
 *    (`node --import tsx examples/rdp-session.ts my-rdp`; `TOKENWARD_CONFIG` picks the file);
 * 2. the real service, when the example's environment variables are set (listed in each example);
 * 3. otherwise a sandbox it starts itself on 127.0.0.1, with the sandbox's demo credentials.
 *
 * With 1 and 2, tokens are kept where the profile says — by default tokenward's encrypted file store
 * (`TOKENWARD_CACHE_DIR`, key from `TOKENWARD_CACHE_KEY` or the key file), so a second run reuses them.
 * With 3, they go to a temporary file store that is removed at the end.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CreateTokenManagerOptions,
  createTokenManager,
  getProfile,
  type Profile,
  type TokenManager,
} from 'tokenward';
import {
  type Sandbox,
  sandboxProfiles,
  startSandbox,
  type VendorName,
  type VendorSettings,
} from 'tokenward/sandbox';

/** Where an example runs, and how to open managers there. */
export interface Target {
  /** The profile to use. */
  profile: Profile;
  /** `sandbox at http://…`, `profile "x"` or `environment`. */
  where: string;
  /** The sandbox, when the example started one. */
  sandbox?: Sandbox;
  /** Opens a manager for the profile (several managers share the profile's store, as processes would). */
  manager(): Promise<TokenManager>;
  /** Closes the managers and the sandbox (idle HTTP connections do not keep the process alive). */
  close(): Promise<void>;
}

/** Options of {@link openTarget}. */
export interface OpenTargetOptions {
  /** The profile built from environment variables, or undefined when they are not set. */
  fromEnv(env: NodeJS.ProcessEnv): Profile | undefined;
  /** Settings of the example's own sandbox for this vendor (e.g. a short token lifetime). */
  sandboxSettings?: VendorSettings;
  /** Keys laid over the sandbox profile (e.g. `skew_seconds`). */
  sandboxProfile?: Partial<Profile>;
}

/** Decides where the example runs (see the module comment) and prepares it. */
export async function openTarget(vendor: VendorName, options: OpenTargetOptions): Promise<Target> {
  const managers: TokenManager[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  const name = process.argv[2];
  let profile: Profile;
  let where: string;
  let sandbox: Sandbox | undefined;
  const managerOptions: CreateTokenManagerOptions = {};

  const fromEnv = name === undefined ? options.fromEnv(process.env) : undefined;
  if (name !== undefined) {
    profile = await getProfile(name);
    where = `profile "${name}"`;
  } else if (fromEnv !== undefined) {
    profile = fromEnv;
    where = 'settings from the environment';
  } else {
    sandbox = await startSandbox(
      options.sandboxSettings ? { vendors: { [vendor]: options.sandboxSettings } } : {},
    );
    const s = sandbox;
    cleanups.push(() => s.close());
    // Tokens of the sandbox go to a temporary, encrypted file store that is removed at the end.
    const dir = await mkdtemp(join(tmpdir(), 'tokenward-example-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    profile = {
      ...sandboxProfiles(sandbox)[vendor],
      store: 'file',
      cache_dir: dir,
      ...options.sandboxProfile,
    };
    managerOptions.encryptionKey = randomBytes(32);
    where = `sandbox at ${sandbox.url}`;
  }

  const target: Target = {
    profile,
    where,
    async manager() {
      const m = await createTokenManager(profile, managerOptions);
      managers.push(m);
      return m;
    },
    async close() {
      await Promise.allSettled(managers.map((m) => m.close()));
      for (const c of cleanups.reverse()) await c();
    },
  };
  if (sandbox !== undefined) target.sandbox = sandbox;
  return target;
}

/** Runs an example's main function: errors are printed with their code, and the exit code is 1. */
export function run(main: () => Promise<void>): void {
  main().then(
    () => {
      process.exitCode = 0;
    },
    (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`error: ${typeof code === 'string' ? `${code}: ` : ''}${message}\n`);
      process.exitCode = 1;
    },
  );
}
