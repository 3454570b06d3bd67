/**
 * `tokenward profiles list|show|add|remove`. `show` redacts literal secrets (references are shown:
 * they are not secrets); `add` takes secrets as references only, or one literal from stdin.
 * @module
 */

import type { LoadConfigOptions } from '../../config/load.js';
import type { Profile } from '../../profile.js';
import { providerOf } from '../../providers/index.js';
import { parseCommand, withGlobals } from '../args.js';
import { EXIT, UsageError } from '../exit.js';
import { COMMAND_OPTIONS } from '../options.js';
import { type Io, say, warn } from '../output.js';

const OPTIONS = COMMAND_OPTIONS.profiles;

/**
 * A copy of a profile with literal secrets replaced by `[REDACTED]`: the values of secret keys and secret
 * `params` (the catalogue in `src/secret-fields.ts`), and the credentials embedded in any URL-valued
 * string (`https://user:pw@…` in `token_url`, `store_url`, `allowed_origins`, a param…). References
 * (`env:NAME`…) are shown: they are not secrets.
 */
export async function redactProfile(profile: Profile): Promise<Record<string, unknown>> {
  const { isSecretKey, isSecretReference } = await import('../../config/secrets.js');
  const { REDACTED } = await import('../../redact.js');
  const shown = (key: string, v: unknown, inParams: boolean): unknown => {
    if (Array.isArray(v)) return v.map((x) => shown(key, x, inParams));
    if (typeof v !== 'string' || isSecretReference(v)) return v;
    if (isSecretKey(key, inParams)) return REDACTED;
    return redactUrlCredentials(v, REDACTED);
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(profile)) {
    if (k === 'params' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const params: Record<string, unknown> = {};
      for (const [pk, pv] of Object.entries(v as Record<string, string>)) params[pk] = shown(pk, pv, true);
      out[k] = params;
    } else out[k] = shown(k, v, false);
  }
  return out;
}

/**
 * Replaces the credentials of a URL with `mark`: the password (`scheme://user:[REDACTED]@host`), or, for
 * an http(s) URL with a user name and no password, the user name (it is then usually a token:
 * `https://[REDACTED]@host`). Text that is not a URL with credentials is returned unchanged.
 */
export function redactUrlCredentials(text: string, mark: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (scheme === null) return text;
  const start = scheme[0].length;
  const rest = text.slice(start);
  const stop = rest.search(/[?#]/);
  // The userinfo ends at the last "@" before the query (a raw "@" or "/" in a password included).
  const at = text.lastIndexOf('@', start + (stop < 0 ? rest.length : stop) - 1);
  if (at < start) return text;
  let parsed: URL | undefined;
  try {
    parsed = new URL(text);
  } catch {
    parsed = undefined;
  }
  // A URL that parses with no credentials has its "@" in the path: nothing to hide.
  if (parsed !== undefined && parsed.username === '' && parsed.password === '') return text;
  const userinfo = text.slice(start, at);
  const colon = userinfo.indexOf(':');
  if (colon >= 0) return `${text.slice(0, start)}${userinfo.slice(0, colon)}:${mark}${text.slice(at)}`;
  const web = /^https?$/i.test(scheme[1] ?? '');
  return web || parsed === undefined ? `${text.slice(0, start)}${mark}${text.slice(at)}` : text;
}

function passwordOf(url: string): string | undefined {
  try {
    const pw = decodeURIComponent(new URL(url).password);
    return pw === '' ? undefined : pw;
  } catch {
    return undefined;
  }
}

async function readStdinLine(io: Io): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Turns `key=value` pairs into a profile, typed by key (numbers, booleans, comma-separated lists). */
export async function profileFromPairs(pairs: string[]): Promise<Profile> {
  const { keyKind, profileKeys, suggest } = await import('../../config/schema.js');
  const keys = profileKeys();
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`expected key=value, got "${pair}"`);
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1);
    if (key.startsWith('params.')) {
      const params = (out['params'] ?? {}) as Record<string, string>;
      params[key.slice('params.'.length)] = value;
      out['params'] = params;
      continue;
    }
    if (!(keys as readonly string[]).includes(key)) {
      const hint = suggest(key, keys);
      throw new UsageError(`unknown key "${key}"${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}`);
    }
    const kind = keyKind(key);
    if (kind === 'number') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n))
        throw new UsageError(`${key} takes a number, got "${value}"`);
      out[key] = n;
    } else if (kind === 'boolean') {
      if (value !== 'true' && value !== 'false')
        throw new UsageError(`${key} takes true or false, got "${value}"`);
      out[key] = value === 'true';
    } else if ((key === 'dpop' || key === 'refresh_params') && (value === 'true' || value === 'false')) {
      out[key] = value === 'true'; // dpop: true/false or an algorithm; refresh_params: true/false or a list
    } else if (
      kind === 'list' ||
      key === 'refresh_params' ||
      // One resource, or several (RFC 8707): `resource=https://a/,https://b/` is a list of two.
      (key === 'resource' && value.includes(','))
    ) {
      out[key] = value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    } else {
      out[key] = value;
    }
  }
  return out as Profile;
}

/** Runs `tokenward profiles`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, OPTIONS);
  const io = withGlobals(baseIo, values);
  const [sub, ...rest] = positionals;
  if (values.help === true || sub === undefined) {
    const { HELP } = await import('../help.js');
    if (values.help === true) {
      io.stdout.write(`${HELP['profiles']}\n`);
      return EXIT.OK;
    }
    say(io, HELP['profiles'] ?? '');
    return EXIT.USAGE;
  }
  const load = await import('../../config/load.js');
  const base: LoadConfigOptions = {
    env: io.env,
    onWarning: (w) => warn(io, w.message),
  };
  if (values.config !== undefined) base.path = values.config;

  switch (sub) {
    case 'list':
    case 'ls': {
      if (rest.length > 0) throw new UsageError('profiles list takes no arguments');
      const config = await load.readConfig(base);
      if (values.json === true || values.long === true) {
        const rows = config.profileNames.map((name) => {
          try {
            const p = load.profileFromConfig(config, name, base);
            return {
              name,
              provider: providerOf(p),
              store: p.store ?? 'file',
              default: name === config.defaultProfile,
              error: null,
            };
          } catch (err) {
            return {
              name,
              provider: null,
              store: null,
              default: name === config.defaultProfile,
              error: err instanceof Error ? err.message : String(err),
            };
          }
        });
        if (values.json === true) io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        else {
          const w = Math.max(4, ...rows.map((r) => r.name.length));
          for (const r of rows) {
            const text = `${r.name.padEnd(w)}  ${(r.provider ?? '-').padEnd(8)}  ${(r.store ?? '-').padEnd(8)}${r.default ? '  (default)' : ''}${r.error !== null ? `  error: ${r.error}` : ''}`;
            io.stdout.write(`${text.trimEnd()}\n`);
          }
        }
      } else {
        for (const name of config.profileNames) io.stdout.write(`${name}\n`);
      }
      if (!config.exists)
        say(
          io,
          `tokenward: ${config.path} does not exist yet; add a profile with: tokenward profiles add NAME key=value...`,
        );
      return EXIT.OK;
    }
    case 'show': {
      if (rest.length > 1) throw new UsageError('profiles show takes one profile');
      const config = await load.readConfig(base);
      const name = rest[0] ?? load.chooseDefaultProfile(config, io.env);
      const profile = load.profileFromConfig(config, name, base);
      const shown = await redactProfile(profile);
      if (values.json === true) {
        io.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      } else {
        const { stringify } = await import('smol-toml');
        const { name: _n, ...body } = shown;
        io.stdout.write(stringify({ profiles: { [name]: body } }).trimEnd() + '\n');
      }
      say(io, `# from ${config.path}`);
      return EXIT.OK;
    }
    case 'add': {
      const [name, ...pairs] = rest;
      if (name === undefined) throw new UsageError('profiles add NAME key=value...');
      const profile = (await profileFromPairs(pairs)) as Record<string, unknown>;
      const { isSecretKey, isSecretReference } = await import('../../config/secrets.js');
      const { urlHasPassword } = await import('../../config/load.js');
      const { isUrlSecretProfileKey } = await import('../../secret-fields.js');
      const stdinKey = values['secret-stdin'];
      if (stdinKey !== undefined) {
        const param = stdinKey.startsWith('params.') ? stdinKey.slice('params.'.length) : undefined;
        const ok =
          param !== undefined
            ? param !== '' && isSecretKey(param, true)
            : isSecretKey(stdinKey) || isUrlSecretProfileKey(stdinKey);
        if (!ok)
          throw new UsageError(
            `--secret-stdin takes a secret key (client_secret, password, store_url, proxy, params.client_assertion, …), not "${stdinKey}"`,
          );
        if (io.stdin.isTTY === true) say(io, `Enter ${stdinKey}, then Ctrl-D:`);
        const secret = await readStdinLine(io);
        if (secret === '') throw new UsageError('nothing was read from stdin');
        const { registerSecret } = await import('../../redact.js');
        registerSecret(secret);
        if (param !== undefined) {
          profile['params'] = { ...((profile['params'] ?? {}) as Record<string, string>), [param]: secret };
        } else {
          if (isUrlSecretProfileKey(stdinKey)) {
            const pw = passwordOf(secret);
            if (pw !== undefined) registerSecret(pw);
          }
          profile[stdinKey] = secret;
        }
      }
      const fromArgv = (k: string) =>
        `${k} must be a reference (env:NAME, file:/path, cmd:..., keyring:NAME, secret:NAME) — secrets are not taken from the command line; or pass it on stdin with --secret-stdin ${k}`;
      for (const [k, v] of Object.entries(profile)) {
        if (k === stdinKey || typeof v !== 'string' || isSecretReference(v)) continue;
        if (isSecretKey(k)) throw new UsageError(fromArgv(k));
        if (isUrlSecretProfileKey(k) && urlHasPassword(v))
          throw new UsageError(
            `${k} holds a password — ${fromArgv(k)} (or leave the password out of the URL)`,
          );
      }
      for (const [k, v] of Object.entries((profile['params'] ?? {}) as Record<string, string>)) {
        if (`params.${k}` === stdinKey || isSecretReference(v)) continue;
        if (isSecretKey(k, true)) throw new UsageError(fromArgv(`params.${k}`));
      }
      const { addProfile } = await import('../../config/write.js');
      const path = await addProfile(name, profile as Profile, { ...base, replace: values.force === true });
      say(io, `tokenward: ${values.force === true ? 'wrote' : 'added'} profile "${name}" in ${path}`);
      return EXIT.OK;
    }
    case 'remove':
    case 'rm': {
      if (rest.length !== 1 || rest[0] === undefined) throw new UsageError('profiles remove NAME');
      const { removeProfile } = await import('../../config/write.js');
      const path = await removeProfile(rest[0], base);
      say(
        io,
        `tokenward: removed profile "${rest[0]}" from ${path} (a cached token stays in the store until it expires; run "tokenward logout" before removing to revoke and delete it)`,
      );
      return EXIT.OK;
    }
    default:
      throw new UsageError(`unknown profiles subcommand "${sub}"; expected list, show, add or remove`);
  }
}
