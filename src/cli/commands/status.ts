/**
 * `tokenward status [--json] [--watch [--interval D]]`: the configured profiles and their cached
 * tokens. It reads the stores only: no secret is resolved (except a `store_url` reference) and nothing
 * is fetched. `--watch` reads them again every interval (the stores stay open) until Ctrl-C: a table
 * redrawn in place on a terminal, plain repeated output (JSON Lines with `--json`) otherwise.
 * @module
 */

import type { Profile } from '../../profile.js';
import { providerOf } from '../../providers/index.js';
import { type SignedInUser, signedInUser } from '../../signin/claims.js';
import type { StoredEntry, TokenStore } from '../../stores/types.js';
import { parseCommand, withGlobals } from '../args.js';
import { entriesOf, openProfileStore } from '../context.js';
import { describeExpiry, formatDuration, parseDuration, relative } from '../duration.js';
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
  /** When the cached token was obtained: the last successful renewal. */
  last_renewal: string | null;
  /**
   * Renewals and failed renewals of this entry, counted by every process that shares the store (null
   * for an entry written before tokenward counted them). Cache hits are per process: see `manager.counts`
   * and `tokenward/otel`.
   */
  counts: { renewals: number; failures: number } | null;
  last_error: { code: string; message: string; at: string } | null;
  /** Who is signed in (interactive profiles): the ID token's `sub`, `email`, `name`, when present. */
  user: SignedInUser | null;
  /**
   * When the sign-in ends (interactive profiles): the refresh token's expiry when the server said,
   * else the access token's when there is no refresh token; null while a refresh token of unknown
   * lifetime keeps it going.
   */
  session_ends_at: string | null;
  /** A problem with the profile or its store. */
  error: string | null;
}

/** Default, least and greatest `--interval` of `--watch`, ms. */
export const WATCH_INTERVAL = { defaultMs: 2_000, minMs: 100, maxMs: 3_600_000 } as const;

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
  if (values.interval !== undefined && values.watch !== true)
    throw new UsageError('--interval needs --watch');
  const intervalMs = watchInterval(values.interval);
  const { readConfig, profileFromConfig } = await import('../../config/load.js');
  const opts: Parameters<typeof readConfig>[0] = { env: io.env };
  if (values.config !== undefined) opts.path = values.config;
  const config = await readConfig(opts);
  const profiles = new Map<string, Profile | Error>();
  for (const name of config.profileNames) {
    try {
      profiles.set(name, profileFromConfig(config, name, { onWarning: (w) => warn(io, w.message) }));
    } catch (err) {
      profiles.set(name, err instanceof Error ? err : new Error(String(err)));
    }
  }
  const stores = new Map<string, Promise<{ store?: TokenStore; error?: string }>>();
  try {
    if (values.watch !== true) {
      const now = Date.now();
      const rows = await collect(io, profiles, stores, now);
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
      io.stdout.write(`${table(rows, now, io.colorOut)}\n`);
      return EXIT.OK;
    }
    return await watch(io, intervalMs, values.json === true, async () => {
      const now = Date.now();
      return { now, rows: await collect(io, profiles, stores, now) };
    });
  } finally {
    await Promise.all(
      [...stores.values()].map(async (p) => {
        const { store } = await p;
        await store?.close();
      }),
    );
  }
}

/** The `--interval` of `--watch`, ms: a duration within {@link WATCH_INTERVAL}. */
function watchInterval(text: string | undefined): number {
  if (text === undefined) return WATCH_INTERVAL.defaultMs;
  const ms = parseDuration(text);
  if (ms === undefined || ms < WATCH_INTERVAL.minMs || ms > WATCH_INTERVAL.maxMs) {
    throw new UsageError(
      `--interval takes a duration from ${formatDuration(WATCH_INTERVAL.minMs)} to ${formatDuration(WATCH_INTERVAL.maxMs)} (e.g. 2s, 500ms, 1m), got "${text}"`,
    );
  }
  return ms;
}

/**
 * Shows the status every `intervalMs` until SIGINT or SIGTERM (exit 0). On a terminal the screen is
 * cleared and the table redrawn; otherwise each refresh is appended: a time line and the table, or one
 * JSON array per line with `--json`.
 */
async function watch(
  io: Io,
  intervalMs: number,
  json: boolean,
  read: () => Promise<{ now: number; rows: StatusRow[] }>,
): Promise<number> {
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let running = true;
  const onSignal = (): void => {
    running = false;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const redraw = io.stdout.isTTY === true && io.env['TERM'] !== 'dumb' && !json;
  try {
    while (running) {
      const { now, rows } = await read();
      if (!running) break;
      let out: string;
      if (json) out = `${JSON.stringify(rows)}\n`;
      else {
        const title = `tokenward status, every ${formatDuration(intervalMs)}: ${new Date(now).toISOString()} (Ctrl-C to stop)`;
        const body = rows.length === 0 ? 'no profiles' : table(rows, now, io.colorOut);
        // Cursor home and clear the screen, then the table: it refreshes in place.
        out = redraw
          ? `\x1b[H\x1b[2J${paint(io.colorOut, 'bold', title)}\n\n${body}\n`
          : `${title}\n${body}\n\n`;
      }
      // A reader that went away (`status --watch | head`) ends the watch: main.ts turns EPIPE into 141.
      await new Promise<void>((resolve) =>
        io.stdout.write(out, (err) => {
          if (err) running = false;
          resolve();
        }),
      );
      if (!running) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        stopped,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, intervalMs))),
      ]);
      clearTimeout(timer);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return EXIT.OK;
}

/** One row per profile, from its store (stores opened once per distinct store and kept in `stores`). */
async function collect(
  io: Io,
  profiles: ReadonlyMap<string, Profile | Error>,
  stores: Map<string, Promise<{ store?: TokenStore; error?: string }>>,
  now: number,
): Promise<StatusRow[]> {
  const rows: StatusRow[] = [];
  const listed = new Map<string, Promise<{ entries: StoredEntry[]; error?: string }>>();
  for (const [name, profile] of profiles) {
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
      last_renewal: null,
      counts: null,
      last_error: null,
      user: null,
      session_ends_at: null,
      error: null,
    };
    rows.push(row);
    if (profile instanceof Error) {
      row.error = profile.message;
      continue;
    }
    row.provider = providerOf(profile);
    row.store = profile.store ?? 'file';
    const id = storeId(profile);
    let opened = stores.get(id);
    if (opened === undefined) {
      opened = openProfileStore(io, profile).then(
        (store) => ({ store }),
        (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
      );
      stores.set(id, opened);
    }
    let listing = listed.get(id);
    if (listing === undefined) {
      listing = opened.then(async ({ store, error }) => {
        if (store === undefined) {
          stores.delete(id); // tried again at the next refresh of --watch
          return { entries: [], error: error ?? 'no store' };
        }
        try {
          return { entries: await store.list() };
        } catch (err) {
          return { entries: [], error: err instanceof Error ? err.message : String(err) };
        }
      });
      listed.set(id, listing);
    }
    const { entries, error } = await listing;
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
      row.last_renewal = new Date(t.obtainedAt).toISOString();
      if (
        profile.grant === 'authorization_code' ||
        profile.grant === 'device_code' ||
        t.idToken !== undefined
      ) {
        row.user = signedInUser(t.idToken) ?? null;
        const ends = t.refreshToken === undefined ? t.expiresAt : t.refreshExpiresAt;
        if (ends !== undefined) row.session_ends_at = new Date(ends).toISOString();
      }
    }
    const counts = latest?.counts;
    if (
      counts !== undefined &&
      Number.isSafeInteger(counts.renewals) &&
      Number.isSafeInteger(counts.failures)
    ) {
      row.counts = { renewals: counts.renewals, failures: counts.failures };
    }
    if (latest !== undefined) row.updated_at = new Date(latest.updatedAt).toISOString();
    if (latest?.lastError !== undefined) {
      row.last_error = { ...latest.lastError, at: new Date(latest.lastError.at).toISOString() };
    }
  }
  return rows;
}

/** The status table as text (no trailing newline). */
function table(rows: readonly StatusRow[], now: number, c: boolean): string {
  const cells: string[][] = [
    ['PROFILE', 'PROVIDER', 'STORE', 'TOKEN', 'EXPIRES', 'REFRESH', 'RENEWED', 'LAST ERROR'],
  ];
  const people = rows.some((r) => r.user !== null);
  if (people) cells[0]?.splice(7, 0, 'USER', 'SESSION ENDS');
  for (const r of rows) {
    const expires = r.expires_at === null ? '-' : describeExpiry(Date.parse(r.expires_at), now);
    const lastErr =
      r.error !== null
        ? r.error
        : r.last_error !== null
          ? `${r.last_error.code}: ${r.last_error.message} (${relative(Date.parse(r.last_error.at), now)})`
          : '-';
    const row = [
      r.profile,
      r.provider || '-',
      r.store || '-',
      r.cached ? (r.valid ? 'valid' : 'expired') : 'none',
      expires,
      r.cached ? (r.has_refresh_token ? 'yes' : 'no') : '-',
      renewed(r, now),
      lastErr,
    ];
    if (people) {
      const u = r.user;
      const who =
        u === null
          ? '-'
          : (u.name ?? u.email ?? u.sub ?? '-') +
            (u.email !== undefined && u.name !== undefined ? ` <${u.email}>` : '');
      const ends =
        r.session_ends_at === null
          ? r.user === null
            ? '-'
            : 'while refreshed'
          : describeExpiry(Date.parse(r.session_ends_at), now);
      row.splice(7, 0, who, ends);
    }
    cells.push(row);
  }
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length))) ?? [];
  const out = cells.map((row, ri) => {
    const cells = row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)));
    let line = cells.join('  ');
    if (ri === 0) line = paint(c, 'bold', line);
    else if (row[3] === 'valid') line = line.replace(/ valid /, ` ${paint(c, 'green', 'valid')} `);
    else if (row[3] === 'expired') line = line.replace(/ expired /, ` ${paint(c, 'red', 'expired')} `);
    return line.trimEnd();
  });
  return out.join('\n');
}

/** `3m ago (12×, 1 failed)`: the last renewal and the counts. */
function renewed(r: StatusRow, now: number): string {
  const when = r.last_renewal === null ? '-' : relative(Date.parse(r.last_renewal), now);
  if (r.counts === null) return when;
  const failed = r.counts.failures > 0 ? `, ${r.counts.failures} failed` : '';
  return `${when} (${r.counts.renewals}×${failed})`;
}
