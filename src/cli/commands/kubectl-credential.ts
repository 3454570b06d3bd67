/**
 * `tokenward kubectl-credential <profile>`: a kubectl (client-go) exec credential plugin. Prints an
 * `ExecCredential` with the profile's token and its expiry, in the API version client-go asked for in
 * `KUBERNETES_EXEC_INFO` (`client.authentication.k8s.io/v1` or `v1beta1`; `v1beta1` when the variable
 * is absent, as when a person runs the command). With `provideClusterInfo: true` the cluster's server
 * is checked against the profile's API origins, when the profile names any.
 * @module
 */

import { parseCommand, withGlobals } from '../args.js';
import { loadProfile, openManager } from '../context.js';
import { EXIT, UsageError } from '../exit.js';
import { helperExpiry } from '../helper-input.js';
import { COMMAND_OPTIONS } from '../options.js';
import type { Io } from '../output.js';

/** The ExecCredential API versions tokenward answers in. */
export const EXEC_API_VERSIONS = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
] as const;

/** One of {@link EXEC_API_VERSIONS}. */
export type ExecApiVersion = (typeof EXEC_API_VERSIONS)[number];

/** What client-go passes in `KUBERNETES_EXEC_INFO` that tokenward uses. */
export interface ExecInfo {
  apiVersion: ExecApiVersion;
  /** `spec.cluster.server`, when the kubeconfig sets `provideClusterInfo: true`. */
  server?: string;
}

/**
 * Reads `KUBERNETES_EXEC_INFO`. Absent or empty: `v1beta1` (client-go always sets it, so this
 * is a person running the command). Not JSON, or an API version other than v1 / v1beta1: a usage error,
 * since client-go would refuse an answer in another version anyway.
 */
export function readExecInfo(env: NodeJS.ProcessEnv): ExecInfo {
  const raw = env['KUBERNETES_EXEC_INFO'];
  if (raw === undefined || raw.trim() === '') return { apiVersion: 'client.authentication.k8s.io/v1beta1' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new UsageError('KUBERNETES_EXEC_INFO is not JSON (client-go sets it to an ExecCredential)');
  }
  const obj = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const version = obj['apiVersion'];
  const known = EXEC_API_VERSIONS.find((v) => v === version);
  if (known === undefined) {
    throw new UsageError(
      `KUBERNETES_EXEC_INFO asks for apiVersion ${JSON.stringify(version ?? null)}; tokenward answers ${EXEC_API_VERSIONS.join(' and ')} (set users[].user.exec.apiVersion to one of them)`,
    );
  }
  const spec = obj['spec'];
  const cluster =
    typeof spec === 'object' && spec !== null ? (spec as Record<string, unknown>)['cluster'] : undefined;
  const server =
    typeof cluster === 'object' && cluster !== null
      ? (cluster as Record<string, unknown>)['server']
      : undefined;
  return typeof server === 'string' && server !== '' ? { apiVersion: known, server } : { apiVersion: known };
}

/** Formats ms since the epoch as RFC 3339 in UTC, whole seconds (what Kubernetes' `metav1.Time` writes). */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Runs `tokenward kubectl-credential`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS['kubectl-credential']);
  const io = withGlobals(baseIo, values);
  if (positionals.length > 1) throw new UsageError('kubectl-credential takes one profile');
  const info = readExecInfo(io.env);
  const profile = await loadProfile(io, positionals[0], values.config);
  if (info.server !== undefined) {
    const { OriginScope, foreignOriginError, profileOrigins } = await import('../../fetch/origins.js');
    const origins = profileOrigins(profile);
    if (origins.length > 0) {
      const scope = new OriginScope(origins);
      if (!scope.allowsUrl(info.server)) throw foreignOriginError(info.server, scope);
    }
  }
  const manager = await openManager(io, profile);
  try {
    const token = await manager.getToken();
    const credential = {
      apiVersion: info.apiVersion,
      kind: 'ExecCredential',
      status: { token: token.accessToken, expirationTimestamp: rfc3339(helperExpiry(token, profile)) },
    };
    io.stdout.write(`${JSON.stringify(credential)}\n`);
    return EXIT.OK;
  } finally {
    await manager.close();
  }
}
