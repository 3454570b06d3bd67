/**
 * `tokenward inspect [TOKEN|-|profile]`: decodes a JWT without verifying it, or shows a profile's
 * cached token. Nothing is fetched and no secret of the profile is resolved.
 * @module
 */

import { decodeProtectedHeader } from 'jose/decode/protected_header';
import { decodeJwt } from 'jose/jwt/decode';
import type { StoredEntry } from '../../stores/types.js';
import { parseCommand, withGlobals } from '../args.js';
import { entriesOf, loadProfile, openProfileStore } from '../context.js';
import { describeExpiry, localTime, relative } from '../duration.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import { type Io, paint } from '../output.js';

const OPTIONS = COMMAND_OPTIONS.inspect;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

async function readStdin(io: Io): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** A decoded JWT, or undefined when the text is not one. */
export function decode(
  token: string,
): { header: Record<string, unknown>; claims: Record<string, unknown> } | undefined {
  const t = token.replace(/^Bearer\s+/i, '').trim();
  if (!JWT_SHAPE.test(t)) return undefined;
  try {
    return {
      header: decodeProtectedHeader(t) as Record<string, unknown>,
      claims: decodeJwt(t) as Record<string, unknown>,
    };
  } catch {
    return undefined;
  }
}

/** Runs `tokenward inspect`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, OPTIONS);
  const io = withGlobals(baseIo, values);
  if (values.help === true) {
    const { HELP } = await import('../help.js');
    io.stdout.write(`${HELP['inspect']}\n`);
    return EXIT.OK;
  }
  if (positionals.length > 1) throw new UsageError('inspect takes one token, "-" or a profile name');
  const arg = positionals[0];
  let token: string;
  let entry: StoredEntry | undefined;
  let profileName: string | undefined;
  if (arg === undefined || arg === '-') {
    if (arg === undefined && io.stdin.isTTY === true) {
      throw new UsageError('give a token, "-" to read one from stdin, or a profile name');
    }
    token = await readStdin(io);
    if (token === '') throw new UsageError('no token on stdin');
  } else if (JWT_SHAPE.test(arg.replace(/^Bearer\s+/i, ''))) {
    token = arg;
  } else {
    // The cache is read as `status` reads it, by profile name: no secret is resolved (a `cmd:` or
    // `keyring:` lookup would run for nothing) and nothing is fetched.
    const profile = await loadProfile(io, arg, values.config);
    profileName = profile.name;
    const store = await openProfileStore(io, profile);
    try {
      entry = entriesOf(await store.list(), profile.name ?? arg).find((e) => e.token !== undefined);
    } finally {
      await store.close();
    }
    if (entry?.token === undefined) {
      io.stderr.write(`tokenward: no cached token for profile "${arg}"; run: tokenward token ${arg}\n`);
      return EXIT.FAILURE;
    }
    token = entry.token.accessToken;
  }

  const decoded = decode(token);
  if (decoded === undefined && entry === undefined) {
    throw new UsageError(
      `not a JWT (${token.length} characters, not three base64url parts); nothing to decode`,
    );
  }
  const now = Date.now();
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v * 1000 : undefined);
  const iat = num(decoded?.claims['iat']);
  const nbf = num(decoded?.claims['nbf']);
  const exp = num(decoded?.claims['exp']);
  const cached = entry?.token;

  if (values.json === true) {
    const out: Record<string, unknown> = {
      jwt: decoded !== undefined,
      verified: false,
      header: decoded?.header ?? null,
      claims: decoded?.claims ?? null,
      issued_at: iat === undefined ? null : new Date(iat).toISOString(),
      not_before: nbf === undefined ? null : new Date(nbf).toISOString(),
      expires_at: exp === undefined ? null : new Date(exp).toISOString(),
      expires_in: exp === undefined ? null : Math.floor((exp - now) / 1000),
    };
    if (cached !== undefined) {
      out['cached'] = {
        profile: profileName,
        token_type: cached.tokenType,
        obtained_at: new Date(cached.obtainedAt).toISOString(),
        expires_at: new Date(cached.expiresAt).toISOString(),
        expires_in: Math.floor((cached.expiresAt - now) / 1000),
        expiry_source: cached.expirySource,
        scope: cached.scope ?? null,
        has_refresh_token: cached.refreshToken !== undefined,
      };
    }
    io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return EXIT.OK;
  }

  const c = io.colorOut;
  const label = (s: string) => paint(c, 'bold', s.padEnd(11));
  const lines: string[] = [];
  if (decoded !== undefined) {
    lines.push(`${label('header')}${JSON.stringify(decoded.header)}`);
    lines.push(
      `${label('claims')}${JSON.stringify(decoded.claims, null, 2).replace(/\n/g, `\n${' '.repeat(11)}`)}`,
    );
    if (iat !== undefined) lines.push(`${label('issued')}${localTime(iat)} (${relative(iat, now)})`);
    if (nbf !== undefined) lines.push(`${label('not before')}${localTime(nbf)} (${relative(nbf, now)})`);
    if (exp !== undefined) {
      const text = `${localTime(exp)} (${describeExpiry(exp, now)})`;
      lines.push(`${label('expires')}${exp < now ? paint(c, 'red', text) : text}`);
    }
    lines.push(
      `${label('signature')}${paint(c, 'yellow', 'NOT verified: decoded only, the signature was not checked')}`,
    );
  } else {
    lines.push(`${label('token')}not a JWT (opaque, ${token.length} characters)`);
  }
  if (cached !== undefined) {
    lines.push(`${label('profile')}${profileName ?? ''}`);
    lines.push(`${label('obtained')}${localTime(cached.obtainedAt)} (${relative(cached.obtainedAt, now)})`);
    lines.push(
      `${label('cache')}${localTime(cached.expiresAt)} (${describeExpiry(cached.expiresAt, now)}; from ${cached.expirySource})`,
    );
    if (cached.scope !== undefined) lines.push(`${label('scope')}${cached.scope}`);
    lines.push(`${label('refresh')}${cached.refreshToken !== undefined ? 'yes' : 'no'}`);
  }
  io.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.OK;
}
