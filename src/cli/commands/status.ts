/**
 * `tokenward status [--json]`: the configured profiles and their cached tokens. It reads the stores
 * only: no secret is resolved (except a `store_url` reference) and nothing is fetched.
 * @module
 */

import type { Profile } from '../../profile.js';
import { providerOf } from '../../providers/index.js';
import type { StoredEntry, TokenStore } from '../../stores/types.js';
import { parseCommand, withGlobals } from '../args.js';
import { entriesOf, openProfileStore } from '../context.js';
import { describeExpiry, relative } from '../duration.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import { type Io, paint, warn } from '../output.js';

/** One row of the status table. */
export interface StatusRow {
  profile: string;
  provider: string;
  store: string;
  cached: boolean;
  valid: boolean;
  expires_at: string | null;
  expires_in: number | null;
  has_refresh_token: boolean;
  scope: string | null;
  updated_at: string | null;
  last_error: { code: string; message: string; at: string } | null;
  /** A problem with the profile or its store. */
  error: string | null;
}

function storeId(p: Profile): string {
  return JSON.stringify([p.store ?? 'file', p.store_url ?? '', p.cache_dir ?? '', p.store_prefix ?? '']);
}

/** Runs `tokenward status`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS.status);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['status']}\n`);
    return EXIT.OK;
  }
  if (positionals.length > 0) throw new UsageError('status takes no arguments');
  const { readConfig, profileFromConfig } = await import('../../config/load.js');
  const opts: Parameters<typeof readConfig>[0] = { env: io.env };
  if (values.config !== undefined) opts.path = values.config;
  const config = await readConfig(opts);

  const rows: StatusRow[] = [];
  const stores = new Map<string, Promise<{ store?: TokenStore; entries: StoredEntry[]; error?: string }>>();
  const now = Date.now();
  for (const name of config.profileNames) {
    const row: StatusRow = {
      profile: name,
      provider: '',
      store: '',
      cached: false,
      valid: false,
      expires_at: null,
      expires_in: null,
      has_refresh_token: false,
      scope: null,
      updated_at: null,
      last_error: null,
      error: null,
    };
    rows.push(row);
    let profile: Profile;
    try {
      profile = profileFromConfig(config, name, { onWarning: (w) => warn(io, w.message) });
    } catch (err) {
      row.error = err instanceof Error ? err.message : String(err);
      continue;
    }
    row.provider = providerOf(profile);
    row.store = profile.store ?? 'file';
    const id = storeId(profile);
    let opened = stores.get(id);
    if (opened === undefined) {
      opened = (async () => {
        try {
          const store = await openProfileStore(io, profile);
          try {
            return { store, entries: await store.list() };
          } catch (err) {
            return { store, entries: [], error: err instanceof Error ? err.message : String(err) };
          }
        } catch (err) {
          return { entries: [], error: err instanceof Error ? err.message : String(err) };
        }
      })();
      stores.set(id, opened);
    }
    const { entries, error } = await opened;
    if (error !== undefined) {
      row.error = error;
      continue;
    }
    const mine = entriesOf(entries, name);
    const withToken = mine.find((e) => e.token !== undefined);
    const latest = mine[0];
    if (withToken?.token !== undefined) {
      const t = withToken.token;
      row.cached = true;
      row.valid = t.expiresAt > now;
      row.expires_at = new Date(t.expiresAt).toISOString();
      row.expires_in = Math.floor((t.expiresAt - now) / 1000);
      row.has_refresh_token = t.refreshToken !== undefined;
      row.scope = t.scope ?? null;
    }
    if (latest !== undefined) row.updated_at = new Date(latest.updatedAt).toISOString();
    if (latest?.lastError !== undefined) {
      row.last_error = { ...latest.lastError, at: new Date(latest.lastError.at).toISOString() };
    }
  }
  await Promise.all(
    [...stores.values()].map(async (p) => {
      const { store } = await p;
      await store?.close();
    }),
  );

  if (values.json === true) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return EXIT.OK;
  }
  if (rows.length === 0) {
    io.stderr.write(
      `tokenward: no profiles in ${config.path}${config.exists ? '' : ' (the file does not exist)'}\n`,
    );
    return EXIT.OK;
  }
  const c = io.colorOut;
  const table: string[][] = [['PROFILE', 'PROVIDER', 'STORE', 'TOKEN', 'EXPIRES', 'REFRESH', 'LAST ERROR']];
  for (const r of rows) {
    const expires = r.expires_at === null ? '-' : describeExpiry(Date.parse(r.expires_at), now);
    const lastErr =
      r.error !== null
        ? r.error
        : r.last_error !== null
          ? `${r.last_error.code}: ${r.last_error.message} (${relative(Date.parse(r.last_error.at), now)})`
          : '-';
    table.push([
      r.profile,
      r.provider || '-',
      r.store || '-',
      r.cached ? (r.valid ? 'valid' : 'expired') : 'none',
      expires,
      r.cached ? (r.has_refresh_token ? 'yes' : 'no') : '-',
      lastErr,
    ]);
  }
  const widths = table[0]?.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length))) ?? [];
  const out = table.map((row, ri) => {
    const cells = row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)));
    let line = cells.join('  ');
    if (ri === 0) line = paint(c, 'bold', line);
    else if (row[3] === 'valid') line = line.replace(/ valid /, ` ${paint(c, 'green', 'valid')} `);
    else if (row[3] === 'expired') line = line.replace(/ expired /, ` ${paint(c, 'red', 'expired')} `);
    return line.trimEnd();
  });
  io.stdout.write(`${out.join('\n')}\n`);
  return EXIT.OK;
}
