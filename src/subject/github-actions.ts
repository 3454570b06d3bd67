/**
 * The GitHub Actions OIDC token: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with
 * `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answered with `{"value": "<JWT>"}`. The job
 * needs `permissions: id-token: write`. Through the project's HTTP layer: time- and size-bounded,
 * https only (http to loopback), TLS verified, the request token and the answer redacted.
 * @module
 */

import { ConfigError, InvalidTokenResponseError } from '../errors.js';
import { getJson } from '../http/token-endpoint.js';
import type { HttpExchange } from '../http/types.js';
import { redactText, registerSecret } from '../redact.js';
import { MAX_SUBJECT_BYTES, type SubjectContext } from './types.js';

/** Asks GitHub Actions for an ID token with `audience` (GitHub's default audience when undefined). */
export async function githubActionsToken(
  audience: string | undefined,
  ctx: SubjectContext & { env: NodeJS.ProcessEnv },
): Promise<string> {
  const at = ctx.where?.('subject_source') ?? { key: 'subject_source' };
  const base = ctx.env['ACTIONS_ID_TOKEN_REQUEST_URL'];
  const bearer = ctx.env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'];
  if (!base || !bearer) {
    throw new ConfigError(
      'is "github-actions" but ACTIONS_ID_TOKEN_REQUEST_URL or ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set (give the job `permissions: id-token: write`)',
      at,
    );
  }
  registerSecret(bearer);
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new ConfigError('ACTIONS_ID_TOKEN_REQUEST_URL is not a URL', at);
  }
  if (audience !== undefined) url.searchParams.set('audience', audience);
  const opts: Parameters<typeof getJson>[1] = {
    ...(ctx.http ?? {}),
    what: 'GitHub Actions ID token endpoint',
    headers: { authorization: `bearer ${bearer}` },
    maxResponseBytes: Math.min(ctx.http?.maxResponseBytes ?? MAX_SUBJECT_BYTES, MAX_SUBJECT_BYTES),
  };
  if (ctx.signal !== undefined) opts.signal = ctx.signal;
  // The answer's `value` is no secret field name, and it is known only once parsed: a trace hook gets
  // the exchanges after it is registered, redacted again.
  const hook = ctx.http?.onExchange;
  const held: HttpExchange[] = [];
  if (hook !== undefined) opts.onExchange = (x) => held.push(x);
  const release = () => {
    for (const x of held.splice(0)) {
      if (x.responseBody !== undefined) x.responseBody = redactText(x.responseBody);
      hook?.(x);
    }
  };
  let res: Awaited<ReturnType<typeof getJson>>;
  try {
    res = await getJson(url.href, opts);
  } catch (err) {
    release();
    throw err;
  }
  const value = (res.body as { value?: unknown } | null)?.value;
  if (typeof value === 'string' && value !== '') registerSecret(value);
  release();
  if (typeof value !== 'string' || value === '') {
    throw new InvalidTokenResponseError(
      res.url,
      res.status,
      'the GitHub Actions ID token answer has no "value"',
    );
  }
  return value;
}
