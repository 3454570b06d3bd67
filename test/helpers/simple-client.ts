/** A minimal TokenClient over a loopback token endpoint, for testing the manager on its own. */
import type { TokenClient } from '../../src/client.js';
import { TokenEndpointError } from '../../src/errors.js';
import { parseTokenResponse, type Token } from '../../src/token.js';

export function simpleClient(
  tokenUrl: string,
  grant: 'client_credentials' | 'password' = 'client_credentials',
): TokenClient {
  const post = async (form: Record<string, string>, now: number, previous?: Token): Promise<Token> => {
    const res = await fetch(tokenUrl, { method: 'POST', body: new URLSearchParams(form) });
    const text = await res.text();
    if (!res.ok) {
      let body: { error?: string; error_description?: string } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {}
      throw new TokenEndpointError(tokenUrl, res.status, {
        ...(body.error === undefined ? {} : { error: body.error }),
        ...(body.error_description === undefined ? {} : { errorDescription: body.error_description }),
      });
    }
    const opts: Parameters<typeof parseTokenResponse>[1] = { url: tokenUrl, now };
    if (previous?.refreshToken !== undefined) opts.previousRefreshToken = previous.refreshToken;
    return parseTokenResponse(JSON.parse(text) as unknown, opts);
  };
  return {
    identity: { token_url: tokenUrl, grant },
    fetchToken: (ctx) => post({ grant_type: grant, username: 'u', password: 'p' }, ctx.now()),
    refresh: (token, ctx) =>
      post({ grant_type: 'refresh_token', refresh_token: token.refreshToken ?? '' }, ctx.now(), token),
  };
}
