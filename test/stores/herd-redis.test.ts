/** Herd of 16 OS processes on the Redis store. */
import { test } from 'node:test';
import { dropPrefix, requireService, uniqueName } from '../helpers/services.js';
import { HERD_SIZE, HERD_TEST_OPTIONS, herdScenario, patientStoreUrl } from './herd.js';

test(
  `redis store: ${HERD_SIZE} processes, cold cache -> 1 grant; each expiry -> 1 refresh (rotating, kept, rotating)`,
  HERD_TEST_OPTIONS,
  async (t) => {
    const url = await requireService(t, 'redis');
    if (url === undefined) return;
    const prefix = `${uniqueName()}:`;
    try {
      await herdScenario(
        t,
        { name: 'herd', store: 'redis', store_url: patientStoreUrl(url), store_prefix: prefix },
        { withKey: true },
      );
    } finally {
      await dropPrefix(url, prefix);
    }
  },
);
