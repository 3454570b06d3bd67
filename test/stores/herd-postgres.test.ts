/** Herd of 16 OS processes on the PostgreSQL store (each creates the table if missing, concurrently). */
import { test } from 'node:test';
import { dropTable, requireService, uniqueName } from '../helpers/services.js';
import { HERD_SIZE, HERD_TEST_OPTIONS, herdScenario, patientStoreUrl } from './herd.js';

test(
  `postgres store: ${HERD_SIZE} processes, cold cache -> 1 grant; each expiry -> 1 refresh (rotating, kept, rotating)`,
  HERD_TEST_OPTIONS,
  async (t) => {
    const url = await requireService(t, 'postgres');
    if (url === undefined) return;
    const table = uniqueName();
    try {
      await herdScenario(
        t,
        { name: 'herd', store: 'postgres', store_url: patientStoreUrl(url), store_prefix: table },
        { withKey: true },
      );
    } finally {
      await dropTable(url, table);
    }
  },
);
