/** Herd of 16 OS processes on the file store (the key file itself is created by the racing processes). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HERD_SIZE, HERD_TEST_OPTIONS, herdScenario } from './herd.js';

test(
  `file store: ${HERD_SIZE} processes, cold cache -> 1 grant; each expiry -> 1 refresh (rotating, kept, rotating)`,
  HERD_TEST_OPTIONS,
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-herd-'));
    try {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        TOKENWARD_CONFIG_DIR: join(dir, 'config'),
        TOKENWARD_CACHE_DIR: join(dir, 'cache'),
      };
      delete env['TOKENWARD_CACHE_KEY'];
      await herdScenario(t, { name: 'herd', store: 'file' }, { env, withKey: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
