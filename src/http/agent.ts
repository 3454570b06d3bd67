/**
 * undici, loaded lazily (the CLI's warm path never pays for it), and one connection pool per TLS setting.
 * @module
 */

import { X509Certificate } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import { rootCertificates } from 'node:tls';
import type { Agent, Dispatcher } from 'undici';
import { LOCAL_FILE_LIMITS, LocalReadError, readLocalFile } from '../config/local-file.js';
import { ConfigError, printWarningOnce, type WarningHandler } from '../errors.js';

/** The parts of undici the HTTP layer uses. */
export type Undici = typeof import('undici');

let undiciPromise: Promise<Undici> | undefined;

/** Loads undici once. */
export function loadUndici(): Promise<Undici> {
  undiciPromise ??= import('undici');
  return undiciPromise;
}

const agents = new Map<string, Agent>();

/** Origins already warned about, per warning hook. */
const tlsWarned = new WeakMap<WarningHandler, Set<string>>();

/**
 * Gives the TLS-verification-off warning (code `TLS_VERIFY_DISABLED`) once per origin and warning hook:
 * a long-lived manager warns once per origin, not on every request. Without a hook it is printed once
 * to stderr ({@link printWarningOnce}).
 */
export function warnInsecureTlsOnce(origin: string, message: string, onWarning?: WarningHandler): void {
  const hook = onWarning ?? printWarningOnce;
  let seen = tlsWarned.get(hook);
  if (seen === undefined) {
    seen = new Set();
    tlsWarned.set(hook, seen);
  }
  if (seen.has(origin)) return;
  seen.add(origin);
  try {
    hook({ code: 'TLS_VERIFY_DISABLED', message });
  } catch {
    // A throwing warning hook must not break the request.
  }
}

/** The TLS settings that select a connection pool. */
export interface TlsSettings {
  /** Extra CA certificates (PEM). */
  ca?: string;
  /** Skip certificate verification. */
  insecureSkipTlsVerify?: boolean;
}

/** The addresses `localhost` stands for. */
const LOCALHOST: readonly LookupAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

/**
 * The `lookup` of every connection: `localhost` (any case, with or without a trailing dot) is answered
 * with 127.0.0.1 and ::1 without asking any resolver, so the plain-`http://` exemption for `localhost`
 * cannot be turned into a request elsewhere by `/etc/hosts`, NSS or DNS; every other name goes to
 * `dns.lookup` as usual.
 */
export function pinnedLookup(
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  if (/^localhost\.?$/i.test(hostname)) {
    const f = options.family;
    const family = f === 4 || f === 'IPv4' ? 4 : f === 6 || f === 'IPv6' ? 6 : 0;
    const found = LOCALHOST.filter((a) => family === 0 || a.family === family);
    const first = found[0] ?? { address: '127.0.0.1', family: 4 };
    if (options.all === true) process.nextTick(callback, null, found.length > 0 ? found : [first]);
    else process.nextTick(callback, null, first.address, first.family);
    return;
  }
  if (options.all === true) {
    dnsLookup(hostname, options as LookupAllOptions, (err, addresses) => callback(err, addresses));
  } else {
    dnsLookup(hostname, options, (err, address, family) => callback(err, address, family));
  }
}

/**
 * The dispatcher for these TLS settings: one cached undici `Agent` per (ca, insecure) combination, so
 * connections are reused across requests.
 */
export async function dispatcherFor(tls: TlsSettings): Promise<Dispatcher> {
  const undici = await loadUndici();
  const insecure = tls.insecureSkipTlsVerify === true;
  const key = `${insecure ? 'insecure' : 'verify'}\n${tls.ca ?? ''}`;
  let agent = agents.get(key);
  if (agent === undefined) {
    const connect: { ca?: string[]; rejectUnauthorized: boolean; lookup: typeof pinnedLookup } = {
      rejectUnauthorized: !insecure,
      lookup: pinnedLookup,
    };
    // Node replaces its default CAs when `ca` is given: keep them and add the extra ones.
    if (tls.ca !== undefined) connect.ca = [...rootCertificates, tls.ca];
    agent = new undici.Agent({ connect, keepAliveTimeout: 4_000 });
    agents.set(key, agent);
  }
  return agent;
}

/** Closes every cached agent (for tests and clean shutdown). */
export async function closeAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close().catch(() => undefined)));
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Reads a `ca_file`: a regular file of at most 1 MiB, read within 10 s, holding at least one PEM
 * certificate, every one of which must parse. Returns the certificates as PEM text.
 *
 * @throws ConfigError (key `ca_file`) when the file cannot be read, is not a regular file, is too large,
 * or holds no certificate (for example a private key or a DER file) or a broken one.
 */
export async function loadCaFile(path: string, key = 'ca_file'): Promise<string> {
  let text: string;
  try {
    text = (await readLocalFile(path, { maxBytes: LOCAL_FILE_LIMITS.caFileBytes })).toString('latin1');
  } catch (err) {
    const reason = err instanceof LocalReadError ? err.reason : 'cannot be read';
    throw new ConfigError(`${path} ${reason}`, { key });
  }
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    throw new ConfigError(
      `${path} holds no PEM certificate ("-----BEGIN CERTIFICATE-----"); give the CA certificate(s) that sign the server's certificate, in PEM`,
      { key },
    );
  }
  for (const [i, pem] of blocks.entries()) {
    try {
      new X509Certificate(pem);
    } catch {
      throw new ConfigError(`certificate ${i + 1} of ${blocks.length} in ${path} does not parse`, { key });
    }
  }
  return blocks.join('\n');
}
