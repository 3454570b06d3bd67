/**
 * Shared pieces of the end-to-end tests: a sandbox with a movable clock shared with the managers,
 * managers built through the front door, cleanup, and the set-up of one vendor's test file
 * ({@link useVendorWorld}: hooks, counters, the clock, calls to the vendor's API).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach } from 'node:test';
import type { TokenwardError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import type { TokenManager, TokenwardWarning } from '../../src/manager/token-manager.js';
import type { Profile } from '../../src/profile.js';
import {
  type Sandbox,
  sandboxProfiles,
  startSandbox,
  type VendorName,
  type VendorSettings,
} from '../../src/sandbox/index.js';
import type { Token } from '../../src/token.js';

/** A sandbox, a clock both it and the managers read, and what to close afterwards. */
export interface World {
  sandbox: Sandbox;
  /** Milliseconds added to the real time, for both the sandbox and the managers. */
  offset: number;
  /** When set, the shared clock stands at this time (epoch ms) instead of following the real time. */
  standing: number | undefined;
  clock: () => number;
  warnings: TokenwardWarning[];
  /** A profile of the sandbox with the overrides applied (store `memory` unless given). */
  profile(vendor: VendorName, overrides?: Partial<Profile>): Profile;
  /** A manager through `createTokenManager`, with the shared clock; closed by `close()`. */
  manager(vendor: VendorName, overrides?: Partial<Profile>): Promise<TokenManager>;
  /** A temporary directory for file stores; removed by `close()`. */
  tempDir(): Promise<string>;
  /** The 32-byte key the file stores of this world share. */
  encryptionKey: Buffer;
  close(): Promise<void>;
}

/** A world whose `sandbox` is still to be started (and assigned): {@link useVendorWorld} does it. */
function newWorld(): World {
  const managers: TokenManager[] = [];
  const dirs: string[] = [];
  const world: World = {
    sandbox: undefined as unknown as Sandbox,
    offset: 0,
    standing: undefined,
    clock: () => world.standing ?? Date.now() + world.offset,
    warnings: [],
    encryptionKey: randomBytes(32),
    profile(vendor, overrides = {}) {
      const p = sandboxProfiles(world.sandbox)[vendor];
      return { ...p, store: 'memory', ...overrides };
    },
    async manager(vendor, overrides = {}) {
      const m = await createTokenManager(world.profile(vendor, overrides), {
        clock: world.clock,
        encryptionKey: world.encryptionKey,
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
  return world;
}

/** The world of one vendor's end-to-end file (see {@link useVendorWorld}). */
export interface VendorWorld extends World {
  /** The sandbox's token-endpoint counters of this vendor, by grant type. */
  stats(): Record<string, number>;
  /** Moves the shared clock to `ms` (epoch milliseconds). */
  jumpTo(ms: number): void;
  /**
   * Stops the shared clock at the current time for the rest of the test: only {@link jumpTo} moves it
   * then, so a token lives exactly as long as the test says however slow the machine is.
   */
  standStill(): void;
  /** A call to the vendor's API (`apiBaseUrl(profile) + path`) with `token` as its Bearer token. */
  api(token: Pick<Token, 'accessToken'>, path: string, init?: RequestInit): Promise<Response>;
}

/**
 * Registers the hooks of a vendor's end-to-end file: the sandbox starts once (`before`) and closes
 * with everything the tests opened (`after`); before each test its state is reset, `settings` are
 * applied again to `vendor`, the clock follows the real time with offset 0 and the recorded warnings are
 * cleared. The returned world is usable inside the tests.
 */
export function useVendorWorld(
  vendor: VendorName,
  options: { apiBaseUrl: (profile: Profile) => string; settings?: VendorSettings },
): VendorWorld {
  const world = Object.assign(newWorld(), {
    stats: () => world.sandbox.stats().token[vendor],
    jumpTo(ms: number) {
      if (world.standing !== undefined) world.standing = ms;
      else world.offset += ms - world.clock();
    },
    standStill() {
      world.standing = world.clock();
    },
    api(token: Pick<Token, 'accessToken'>, path: string, init: RequestInit = {}) {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token.accessToken}`);
      return fetch(`${options.apiBaseUrl(world.profile(vendor))}${path}`, { ...init, headers });
    },
  });
  before(async () => {
    world.sandbox = await startSandbox({ port: 0, clock: world.clock });
  });
  after(() => world.close());
  beforeEach(() => {
    world.sandbox.reset();
    if (options.settings !== undefined) world.sandbox.configure(vendor, options.settings);
    world.offset = 0;
    world.standing = undefined;
    world.warnings.length = 0;
  });
  return world;
}

/** Asserts nothing secret of the sandbox's credentials is in a string (message, stack, JSON). */
export function secretsIn(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => s.length >= 4 && text.includes(s));
}

/** The `secrets` found anywhere in an error: its message, its stack and its JSON form. */
export function secretsInError(err: TokenwardError, secrets: readonly string[]): string[] {
  return secretsIn(JSON.stringify({ m: err.message, s: err.stack, j: err.toJSON() }), secrets);
}
