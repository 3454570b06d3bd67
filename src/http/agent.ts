/**
 * undici, loaded lazily (the CLI's warm path never pays for it), and one connection pool per TLS setting.
 * @module
 */

import { rootCertificates } from 'node:tls';
import type { Agent, Dispatcher } from 'undici';

/** The parts of undici the HTTP layer uses. */
export type Undici = typeof import('undici');

let undiciPromise: Promise<Undici> | undefined;

/** Loads undici once. */
export function loadUndici(): Promise<Undici> {
  undiciPromise ??= import('undici');
  return undiciPromise;
}

const agents = new Map<string, Agent>();

/** The TLS settings that select a connection pool. */
export interface TlsSettings {
  /** Extra CA certificates (PEM). */
  ca?: string;
  /** Skip certificate verification. */
  insecureSkipTlsVerify?: boolean;
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
    const connect: { ca?: string[]; rejectUnauthorized: boolean } = { rejectUnauthorized: !insecure };
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
