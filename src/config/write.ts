/**
 * Writing the config file for `tokenward profiles add|remove`. Edits are made to the text, so comments
 * and the layout of other profiles survive; the file is replaced atomically (temp file, fsync, rename)
 * with mode 0600, in a directory created with mode 0700.
 * @module
 */

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, realpath, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse, stringify } from 'smol-toml';
import { ConfigError } from '../errors.js';
import type { Profile } from '../profile.js';
import { type LoadConfigOptions, parseConfigText, profileFromConfig, readConfig } from './load.js';
import { ensureConfigDir, isTokenwardConfigDir } from './paths.js';
import { validateProfile } from './schema.js';
import { tableRanges } from './toml-lines.js';

/** Profile names `profiles add` accepts: letters, digits, `_` and `-`. */
export const PROFILE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Writes a file atomically with mode 0600: temp file in the same directory, fsync, rename. When `path`
 * is a symlink, the file it points to is replaced (the link stays). The temp file is removed on every
 * failure path (it may hold a secret).
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  if (isTokenwardConfigDir(dirname(path))) await ensureConfigDir(dirname(path));
  else await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const target = await realpath(path).catch((err: unknown) => {
    if ((err as { code?: string }).code === 'ENOENT') return path;
    throw err;
  });
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(tmp, 0o600);
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Options of {@link addProfile}. */
export interface AddProfileOptions extends LoadConfigOptions {
  /** Replace a profile of the same name. Default false (then an existing profile is an error). */
  replace?: boolean;
}

/** The TOML text of one profile table (without `name`). */
export function profileToToml(name: string, profile: Profile): string {
  const { name: _ignored, ...rest } = profile;
  return stringify({ profiles: { [name]: rest } });
}

function removeRanges(text: string, ranges: Array<[number, number]>): string {
  const lines = text.split(/\r?\n/);
  const drop = new Set<number>();
  for (const [a, b] of ranges) for (let i = a; i < b; i++) drop.add(i);
  const kept = lines.filter((_, i) => !drop.has(i));
  return kept
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/\s+$/, '\n');
}

/** Adds (or with `replace`, replaces) a profile in the config file. Returns the file's path. */
export async function addProfile(
  name: string,
  profile: Profile,
  options: AddProfileOptions = {},
): Promise<string> {
  if (!PROFILE_NAME.test(name)) {
    throw new ConfigError(`profile name "${name}" must be 1-64 letters, digits, "_" or "-"`, { key: 'name' });
  }
  const config = await readConfig(options);
  // Keys and types here; the rules that span keys are checked on the merged profile below (a store may
  // come from [defaults]).
  validateProfile(
    { ...profile, name },
    { file: config.path, keyPrefix: `profiles.${name}.`, shapeOnly: true },
  );
  let text = config.text;
  if (config.profileNames.includes(name)) {
    if (options.replace !== true) {
      throw new ConfigError(`profile "${name}" already exists (use --force to replace it)`, {
        file: config.path,
      });
    }
    text = withoutProfile(config.text, config.data, name, true);
  }
  const section = profileToToml(name, profile);
  const sep = text === '' ? '' : text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
  const next = `${text}${sep}${section}`;
  // What we write must load.
  const check = { ...config, text: next, ...parseConfigText(next, config.path), exists: true };
  profileFromConfig(check, name, { onWarning: () => {} });
  // Nothing but this profile may change: every other profile, [defaults] and default_profile.
  if (
    !isDeepStrictEqual(
      plainData(exceptProfile(check.data, name)),
      plainData(exceptProfile(config.data, name)),
    )
  ) {
    throw new ConfigError(
      `writing profile "${name}" would change the rest of the file; nothing was written`,
      {
        file: config.path,
      },
    );
  }
  await writeFileAtomic(config.path, next);
  return config.path;
}

/** Removes a profile from the config file. Returns the file's path; a missing profile is a ConfigError. */
export async function removeProfile(name: string, options: LoadConfigOptions = {}): Promise<string> {
  const config = await readConfig(options);
  if (!config.profileNames.includes(name)) {
    throw new ConfigError(`no profile "${name}"`, { file: config.path });
  }
  const next = withoutProfile(config.text, config.data, name);
  parseConfigText(next, config.path);
  await writeFileAtomic(config.path, next);
  return config.path;
}

/**
 * The text without the profile's tables (and, unless `keepDefault`, without a `default_profile` naming
 * it). Every other table and key is checked to be unchanged after the edit.
 */
function withoutProfile(
  text: string,
  data: Record<string, unknown>,
  name: string,
  keepDefault = false,
): string {
  const dropDefault = !keepDefault && data['default_profile'] === name;
  const base = dropDefault ? dropDefaultProfileLine(text, name) : text;
  const next = removeRanges(base, tableRanges(base, ['profiles', name]));
  if (isExactlyWithout(next, data, name, dropDefault)) return next;
  // Defined inline or with dotted keys, or the edit touched something else: rewrite the whole file
  // from the parsed data (comments are lost, but no other profile is).
  const profiles = { ...(data['profiles'] as Record<string, unknown>) };
  delete profiles[name];
  const rest: Record<string, unknown> = { ...data, profiles };
  if (dropDefault) delete rest['default_profile'];
  const rewritten = stringify(rest);
  if (!isExactlyWithout(rewritten, data, name, dropDefault)) {
    throw new ConfigError(`cannot remove profile "${name}" without changing the rest of the file`, {
      key: `profiles.${name}`,
    });
  }
  return rewritten;
}

/**
 * True when `next` parses to `before` minus profile `name` (and, with `dropDefault`, minus
 * `default_profile`), with every other profile, `[defaults]` and `default_profile` unchanged.
 */
function isExactlyWithout(
  next: string,
  before: Record<string, unknown>,
  name: string,
  dropDefault: boolean,
): boolean {
  let after: Record<string, unknown>;
  try {
    after = parse(next) as Record<string, unknown>;
  } catch {
    return false;
  }
  const want = exceptProfile(before, name);
  if (dropDefault) delete want['default_profile'];
  const got: Record<string, unknown> = { ...after, profiles: after['profiles'] ?? {} };
  return isDeepStrictEqual(plainData(got), plainData(want));
}

/** The parsed file without profile `name`. */
function exceptProfile(data: Record<string, unknown>, name: string): Record<string, unknown> {
  const profiles = { ...((data['profiles'] ?? {}) as Record<string, unknown>) };
  delete profiles[name];
  return { ...data, profiles };
}

/** Parsed TOML as JSON-like data, so that tables compare equal whatever their prototype. */
function plainData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainData);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainData(v);
    return out;
  }
  return value;
}

/** Removes a `default_profile = "name"` line. */
function dropDefaultProfileLine(text: string, name: string): string {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^[ \\t]*default_profile[ \\t]*=[ \\t]*["']${escaped}["'][ \\t]*(#.*)?\\r?\\n?`, 'm');
  return text.replace(re, '');
}
