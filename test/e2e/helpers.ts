/**
 * Shared pieces of the end-to-end tests: a sandbox with a movable clock shared with the managers,
 * managers built through the front door, and cleanup.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenManager, TokenwardWarning } from '../../src/manager/token-manager.js';
import type { Profile } from '../../src/profile.js';
import {
  type Sandbox,
  type SandboxOptions,
  sandboxProfiles,
  startSandbox,
  type VendorName,
} from '../../src/sandbox/index.js';
import { createTokenManager } from '../../src/tokenward.js';

/** A sandbox, a clock both it and the managers read, and what to close afterwards. */
export interface World {
  sandbox: Sandbox;
  /** Milliseconds added to the real time, for both the sandbox and the managers. */
  offset: number;
  clock: () => number;
  warnings: TokenwardWarning[];
  /** A profile of the sandbox with the overrides applied (store `memory` unless given). */
  profile(vendor: VendorName, overrides?: Partial<Profile>): Profile;
  /** A manager through `createTokenManager`, with the shared clock; closed by `close()`. */
  manager(vendor: VendorName, overrides?: Partial<Profile>): Promise<TokenManager>;
  /** A temporary directory for file stores; removed by `close()`. */
  tempDir(): Promise<string>;
  /** The 32-byte key the file stores of this world share. */
  cacheKey: Buffer;
  close(): Promise<void>;
}

/** Starts a sandbox whose clock is the real time plus `world.offset`. */
export async function startWorld(options: Omit<SandboxOptions, 'clock'> = {}): Promise<World> {
  const managers: TokenManager[] = [];
  const dirs: string[] = [];
  const world: World = {
    sandbox: undefined as unknown as Sandbox,
    offset: 0,
    clock: () => Date.now() + world.offset,
    warnings: [],
    cacheKey: randomBytes(32),
    profile(vendor, overrides = {}) {
      const p = sandboxProfiles(world.sandbox)[vendor];
      return { ...p, store: 'memory', ...overrides };
    },
    async manager(vendor, overrides = {}) {
      const m = await createTokenManager(world.profile(vendor, overrides), {
        clock: world.clock,
        cacheKey: world.cacheKey,
        env: {},
        onWarning: (w) => world.warnings.push(w),
      });
      managers.push(m);
      return m;
    },
    async tempDir() {
      const d = await mkdtemp(join(tmpdir(), 'tokenward-e2e-'));
      dirs.push(d);
      return d;
    },
    async close() {
      await Promise.allSettled(managers.map((m) => m.close()));
      await world.sandbox.close();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
  world.sandbox = await startSandbox({ ...options, port: 0, clock: world.clock });
  return world;
}

/** Asserts nothing secret of the sandbox's credentials is in a string (message, stack, JSON). */
export function secretsIn(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => s.length >= 4 && text.includes(s));
}
