/**
 * The naive client of seed 004 (`rdpToken.py`), in TypeScript: read the token file; if it holds an
 * unexpired token (`expiry_tm`, with 10 s taken off the lifetime), use it; otherwise POST the grant and
 * write the answer, timestamped, back to the file (truncate-and-write, as `open(TOKEN_FILE, "w")` does).
 * No lock, no single flight: every caller that finds the file stale makes its own request.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import pg from 'pg';

/** Where the naive client keeps its token JSON. */
export interface NaiveStorage {
  read(): Promise<string | undefined>;
  write(text: string): Promise<void>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** The client of the naive flow. */
export interface NaiveClient {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
}

/** A JSON file, as in the seed. */
export function naiveFile(path: string): NaiveStorage {
  return {
    read: async () => {
      try {
        return await readFile(path, 'utf8');
      } catch {
        return undefined;
      }
    },
    write: (text) => writeFile(path, text),
    clear: () => unlink(path).catch(() => {}),
    close: async () => {},
  };
}

/** The same flow with one Redis key (GET / SET), connected before use. */
export async function naiveRedis(url: string, key: string): Promise<NaiveStorage> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  await r.connect();
  return {
    read: async () => (await r.get(key)) ?? undefined,
    write: async (text) => {
      await r.set(key, text);
    },
    clear: async () => {
      await r.del(key);
    },
    close: async () => {
      r.disconnect();
    },
  };
}

/**
 * The same flow with one PostgreSQL row (`SELECT`, then an upsert), in a table the caller created:
 * `(key text PRIMARY KEY, value text NOT NULL)`. Connected before use.
 */
export async function naivePostgres(url: string, table: string, key: string): Promise<NaiveStorage> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 30_000 });
  c.on('error', () => {});
  await c.connect();
  return {
    read: async () =>
      (await c.query<{ value: string }>(`SELECT value FROM ${table} WHERE key = $1`, [key])).rows[0]?.value,
    write: async (text) => {
      await c.query(
        `INSERT INTO ${table} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
        [key, text],
      );
    },
    clear: async () => {
      await c.query(`DELETE FROM ${table} WHERE key = $1`, [key]);
    },
    close: () => c.end(),
  };
}

/** The seed's `getToken()`: cached token if unexpired, else a new one (written back). */
export async function naiveGetToken(
  client: NaiveClient,
  storage: NaiveStorage,
  onRequest?: () => void,
): Promise<string> {
  const text = await storage.read();
  if (text !== undefined) {
    try {
      const t = JSON.parse(text) as { access_token?: string; expiry_tm?: number };
      if (
        typeof t.access_token === 'string' &&
        typeof t.expiry_tm === 'number' &&
        t.expiry_tm > Date.now() / 1000
      ) {
        return t.access_token;
      }
    } catch {
      // a half-written file reads as no token (the seed would crash; a request is kinder)
    }
  }
  onRequest?.();
  const res = await fetch(client.tokenUrl, {
    method: 'POST',
    headers: {
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
  });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`);
  const t = (await res.json()) as { access_token: string; expires_in: number; expiry_tm?: number };
  t.expiry_tm = Date.now() / 1000 + Number(t.expires_in) - 10;
  await storage.write(JSON.stringify(t, null, 4));
  return t.access_token;
}
