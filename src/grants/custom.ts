/**
 * Any other form-based grant: vendor extension grants (e.g. Cisco MSX
 * `urn:cisco:nfv:oauth:grant-type:switch-tenant`) and standard ones without a module of their own.
 * @module
 */

import { ConfigError } from '../errors.js';
import type { Token } from '../token.js';
import { type GrantRequestExtras, grantRequest } from './request.js';
import type { GrantContext } from './types.js';

/**
 * Runs `grant_type=<grantType>` with `params` as the other form fields. The HTTP layer registers for
 * redaction every field whose name the catalogue (`src/secret-fields.ts`) calls secret; register a
 * secret sent under another name yourself with `registerSecret`.
 */
export function customGrant(
  ctx: GrantContext,
  grantType: string,
  params: Record<string, string | undefined> = {},
  extras?: GrantRequestExtras,
): Promise<Token> {
  if (!grantType) throw new ConfigError('is required', { key: 'grant_type' });
  return grantRequest(ctx, { ...params, grant_type: grantType }, extras);
}
