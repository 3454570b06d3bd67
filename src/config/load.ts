/**
 * Loading the config file: read, parse TOML (smol-toml), validate profiles (valibot), merge
 * `[defaults]`, and warn about literal secrets in a file other users can read.
 *
 * ```toml
 * default_profile = "rdp"          # optional: used when a command is given no profile
 *
 * [defaults]                       # optional: keys every profile starts from
 * store = "file"
 *
 * [profiles.rdp]
 * provider  = "rdp"
 * client_id = "env:RDP_APP_KEY"
 * password  = "keyring:rdp"
 * ```
 * @module
 */

import { type Stats, stat } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { ConfigError, printWarningOnce, type WarningHandler } from '../errors.js';
import { isLoopbackHost } from '../http/url.js';
import type { Profile } from '../profile.js';
import { descriptorOf } from '../providers/index.js';
import { providerDescriptors } from '../providers/registry.js';
import { redactText } from '../redact.js';
import { isUrlSecretProfileKey } from '../secret-fields.js';
import { LOCAL_FILE_LIMITS, LocalReadError, readLocalFile } from './local-file.js';
import { setOrigin } from './origin.js';
import { type ConfigPathOptions, type ConfigPathSource, resolveConfigPath } from './paths.js';
import { suggest, validateProfile } from './schema.js';
import { isSecretKey, isSecretReference } from './secrets.js';
import { lazyKeyLines } from './toml-lines.js';

/** Options of {@link readConfig}, {@link loadConfig} and {@link getProfile}. */
export interface LoadConfigOptions extends ConfigPathOptions {
  /**
   * Receives warnings (code `CONFIG_LITERAL_SECRET`: a literal secret in a file other users can read).
   * Default: printed once to stderr.
   */
  onWarning?: WarningHandler;
}

/** A parsed config file whose profiles are validated on demand. */
export interface ConfigFile {
  /** Absolute path. */
  path: string;
  /** How the path was chosen. */
  source: ConfigPathSource;
  /** False when the file does not exist (then it has no profiles). */
  exists: boolean;
  /** The file's text ('' when it does not exist). */
  text: string;
  /** The file's permission bits, when it exists. */
  mode?: number;
  /** `default_profile`, when set. */
  defaultProfile?: string;
  /** The names of the profiles, in file order. */
  profileNames: string[];
  /** The parsed TOML. */
  data: Record<string, unknown>;
  /** Line of each key path (`profiles.rdp.client_id`). */
  lines: Map<string, number>;
}

/** A config file with every profile validated. */
export interface LoadedConfig extends ConfigFile {
  /** Every profile, validated, with `[defaults]` merged and `name` set. */
  profiles: Record<string, Profile>;
}

const TOP_KEYS = ['profiles', 'defaults', 'default_profile'];

function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  if (typeof value === 'object' && value !== null && value.constructor === Object) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Parses config text. Exported for tests and for `profiles add` (which re-checks what it writes). */
export function parseConfigText(
  text: string,
  file: string,
): Pick<ConfigFile, 'data' | 'lines' | 'profileNames' | 'defaultProfile'> {
  let data: Record<string, unknown>;
  try {
    data = plain(parse(text)) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const first = redactText(err.message.split('\n')[0] ?? 'invalid TOML').replace(
        /^Invalid TOML document: /,
        '',
      );
      throw new ConfigError(`invalid TOML: ${first} (column ${err.column})`, { file, line: err.line });
    }
    throw new ConfigError('invalid TOML', { file }, { cause: err });
  }
  // Found when an error or a warning needs a line (see lazyKeyLines).
  const lines = lazyKeyLines(text);
  for (const key of Object.keys(data)) {
    if (!TOP_KEYS.includes(key)) {
      const hint = suggest(key, TOP_KEYS);
      const line = lines.get(key);
      throw new ConfigError(
        `unknown top-level key "${key}"${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}; profiles go in [profiles.NAME] tables`,
        line === undefined ? { file, key } : { file, line, key },
      );
    }
  }
  const at = (key: string) => {
    const line = lines.get(key);
    return line === undefined ? { file, key } : { file, line, key };
  };
  const profiles = data['profiles'];
  if (profiles !== undefined && !isTable(profiles)) throw new ConfigError('must be a table', at('profiles'));
  if (data['defaults'] !== undefined && !isTable(data['defaults'])) {
    throw new ConfigError('must be a table', at('defaults'));
  }
  const def = data['default_profile'];
  if (def !== undefined && typeof def !== 'string')
    throw new ConfigError('must be a string', at('default_profile'));
  const profileNames = profiles === undefined ? [] : Object.keys(profiles);
  if (def !== undefined && !profileNames.includes(def)) {
    throw new ConfigError(`names no profile "${def}"`, at('default_profile'));
  }
  const out: Pick<ConfigFile, 'data' | 'lines' | 'profileNames' | 'defaultProfile'> = {
    data,
    lines,
    profileNames,
  };
  if (def !== undefined) out.defaultProfile = def;
  return out;
}

/** Reads and parses the config file, without validating its profiles. A missing file has no profiles. */
export async function readConfig(options: LoadConfigOptions = {}): Promise<ConfigFile> {
  const { path, source } = resolveConfigPath(options);
  let text: string;
  let mode: number | undefined;
  try {
    const [bytes, st] = await Promise.all([
      readLocalFile(path, { maxBytes: LOCAL_FILE_LIMITS.configBytes }),
      // node:fs's callback API, as readLocalFile (config/local-file.ts).
      new Promise<Stats | undefined>((res) => stat(path, (err, st) => res(err ? undefined : st))),
    ]);
    text = bytes.toString('utf8');
    mode = st?.mode;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') {
      return { path, source, exists: false, text: '', data: {}, lines: new Map(), profileNames: [] };
    }
    const reason = err instanceof LocalReadError ? err.reason : `cannot be read (${code ?? 'error'})`;
    throw new ConfigError(`the config file ${reason}`, { file: path });
  }
  const parsed = parseConfigText(text, path);
  const out: ConfigFile = { path, source, exists: true, text, ...parsed };
  if (mode !== undefined) out.mode = mode;
  return out;
}

/**
 * Validates one profile of a parsed config file: `[defaults]` first, then `[profiles.NAME]`, with
 * `name` set. Errors point at the file, line and key. Warns when a literal secret sits in a file
 * other users can read.
 */
export function profileFromConfig(
  config: ConfigFile,
  name: string,
  options: Pick<LoadConfigOptions, 'onWarning'> = {},
): Profile {
  const profiles = (config.data['profiles'] ?? {}) as Record<string, unknown>;
  if (!Object.hasOwn(profiles, name)) {
    const hint = suggest(name, config.profileNames);
    const known = config.profileNames.length > 0 ? `; profiles: ${config.profileNames.join(', ')}` : '';
    const missing = config.exists
      ? ''
      : ' (the file does not exist; create it with `tokenward profiles add`)';
    throw new ConfigError(
      `no profile "${name}"${hint !== undefined && hint !== name ? ` (did you mean "${hint}"?)` : ''}${known}${missing}`,
      { file: config.path },
    );
  }
  const file = config.path;
  const defaultsRaw = config.data['defaults'];
  let defaults: Profile = {};
  if (defaultsRaw !== undefined) {
    defaults = validateProfile(defaultsRaw, {
      file,
      keyPrefix: 'defaults.',
      lineOf: (k) => config.lines.get(k === '' ? 'defaults' : `defaults.${k}`),
      shapeOnly: true,
    });
  }
  const base = `profiles.${name}`;
  const raw = profiles[name];
  const lineOf = (k: string) => config.lines.get(k === '' ? base : `${base}.${k}`);
  const own = validateProfile(raw, { file, keyPrefix: `${base}.`, lineOf, shapeOnly: true });
  if (own.name !== undefined && own.name !== name) {
    const l = lineOf('name');
    throw new ConfigError(
      `"${own.name}" differs from the table name "${name}"; leave name out (the table name is the profile name)`,
      l === undefined ? { file, key: `${base}.name` } : { file, line: l, key: `${base}.name` },
    );
  }
  const merged: Profile = { ...defaults, ...own, name };
  if (defaults.params !== undefined && own.params !== undefined)
    merged.params = { ...defaults.params, ...own.params };
  // The rules that span keys are checked once, on the merged profile (e.g. a store from [defaults]
  // with store_url in the profile); an error names the table the key came from.
  const fromDefaults = (k: string) =>
    k !== '' && !Object.hasOwn(own, k) && defaults[k as keyof Profile] !== undefined;
  validateProfile(merged, {
    file,
    keyPrefix: `${base}.`,
    lineOf: (k) => (fromDefaults(k) ? config.lines.get(`defaults.${k}`) : lineOf(k)),
    keyOf: (k) => (fromDefaults(k) ? `defaults.${k}` : undefined),
  });

  // The lines of the profile's keys, for errors found later: made when first asked for (they need the
  // file's key lines, which a call without an error never scans).
  const keyLinesOf = (): Record<string, number> => {
    const lines: Record<string, number> = {};
    for (const k of Object.keys(merged)) {
      const l = lineOf(k) ?? config.lines.get(`defaults.${k}`);
      if (l !== undefined) lines[k] = l;
    }
    if (merged.params !== undefined) {
      for (const k of Object.keys(merged.params)) {
        const fromOwn = own.params !== undefined && Object.hasOwn(own.params, k);
        const l = fromOwn
          ? (lineOf(`params.${k}`) ?? lineOf('params'))
          : (config.lines.get(`defaults.params.${k}`) ?? config.lines.get('defaults.params'));
        if (l !== undefined) lines[`params.${k}`] = l;
      }
    }
    return lines;
  };
  let lines: Record<string, number> | undefined;
  setOrigin(merged, {
    file,
    get line() {
      return lineOf('');
    },
    get lines() {
      lines ??= keyLinesOf();
      return lines;
    },
  });

  if (
    config.mode !== undefined &&
    (config.mode & 0o004) !== 0 &&
    process.platform !== 'win32' &&
    !loopbackOnly(merged)
  ) {
    const warn = options.onWarning ?? printWarningOnce;
    for (const [k, value] of literalSecrets(merged)) {
      // Which table the value came from: the profile's, or [defaults]; a params entry of an inline
      // `params = {…}` table is found on the line of `params`.
      const param = k.startsWith('params.') ? k.slice('params.'.length) : undefined;
      const inOwn =
        param !== undefined
          ? own.params !== undefined && Object.hasOwn(own.params, param)
          : Object.hasOwn(own, k);
      const table = inOwn ? base : 'defaults';
      const src = `${table}.${k}`;
      const l =
        config.lines.get(src) ?? (param !== undefined ? config.lines.get(`${table}.params`) : undefined);
      warn({
        code: 'CONFIG_LITERAL_SECRET',
        message: `${file}${l !== undefined ? `:${l}` : ''}: ${src} holds a literal ${value} in a file other users can read (mode ${(config.mode & 0o777).toString(8)}); use a reference (env:, file:, cmd:, keyring:) or run: chmod 600 ${file}`,
      });
    }
  }
  return merged;
}

/** The keys of a profile that hold a literal (non-reference) secret, with what kind it is. */
export function literalSecrets(profile: Profile): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(profile)) {
    if (typeof v !== 'string' || isSecretReference(v)) continue;
    if (isSecretKey(k)) out.push([k, 'secret']);
    else if (isUrlSecretProfileKey(k) && urlHasPassword(v)) out.push([k, `password in ${k}`]);
  }
  for (const [k, v] of Object.entries(profile.params ?? {})) {
    if (isSecretKey(k, true) && !isSecretReference(v)) out.push([`params.${k}`, 'secret']);
  }
  return out;
}

/** The endpoint URL keys every provider may read; the providers' own come from their descriptors. */
const COMMON_ENDPOINT_KEYS: readonly string[] = [
  'token_url',
  'issuer',
  'revocation_url',
  'introspection_url',
  'api_base_url',
];

/** Every profile key that holds an endpoint URL: the common ones and those the providers declare. */
export function endpointKeys(): string[] {
  const out = new Set(COMMON_ENDPOINT_KEYS);
  for (const d of providerDescriptors()) {
    for (const [key, spec] of Object.entries(d.keys)) if (spec.endpoint === true) out.add(key);
  }
  return [...out];
}

/**
 * True when every endpoint of a profile is on this machine (127.0.0.0/8, ::1, localhost; see
 * {@link isLoopbackHost}): its endpoint keys, and where its provider sends the token (a preset's
 * default host, such as a vendor's regional one, is not loopback). Such profiles hold test credentials
 * (the sandbox prints them), so their literal secrets are not warned about.
 */
export function loopbackOnly(profile: Profile): boolean {
  const urls: unknown[] = endpointKeys().map((k) => (profile as Record<string, unknown>)[k]);
  try {
    for (const [, url] of descriptorOf(profile).apiOrigins(profile)) urls.push(url);
  } catch {
    return false; // an unknown provider or an unreadable value: not known to stay on this machine
  }
  const present = urls.filter((u) => u !== undefined);
  return (
    present.length > 0 &&
    present.every((u) => {
      try {
        return typeof u === 'string' && isLoopbackHost(new URL(u).hostname);
      } catch {
        return false;
      }
    })
  );
}

/** True when a URL has a password (`redis://:pw@host`); false for anything that is not a URL. */
export function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

/** Reads the config file and validates every profile. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const config = await readConfig(options);
  const profiles: Record<string, Profile> = {};
  const warn = options.onWarning === undefined ? {} : { onWarning: options.onWarning };
  for (const name of config.profileNames) profiles[name] = profileFromConfig(config, name, warn);
  return { ...config, profiles };
}

/**
 * Loads one profile by name from the config file (`--config`, `TOKENWARD_CONFIG`, or the default
 * path). Without a name: `TOKENWARD_PROFILE`, then `default_profile`, then the only profile.
 * Only that profile is validated.
 */
export async function getProfile(name?: string, options: LoadConfigOptions = {}): Promise<Profile> {
  const config = await readConfig(options);
  const chosen = name ?? chooseDefaultProfile(config, options.env ?? process.env);
  return profileFromConfig(
    config,
    chosen,
    options.onWarning === undefined ? {} : { onWarning: options.onWarning },
  );
}

/** The profile to use when none is named: `TOKENWARD_PROFILE`, `default_profile`, or the only profile. */
export function chooseDefaultProfile(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['TOKENWARD_PROFILE'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (config.defaultProfile !== undefined) return config.defaultProfile;
  if (config.profileNames.length === 1 && config.profileNames[0] !== undefined) return config.profileNames[0];
  throw new ConfigError(
    config.profileNames.length === 0
      ? 'no profiles are configured; add one with `tokenward profiles add NAME key=value…`'
      : `name a profile (one of ${config.profileNames.join(', ')}), or set default_profile or TOKENWARD_PROFILE`,
    { file: config.path },
  );
}
