/**
 * Property-based tests (fast-check) of config values and secret references. For every input:
 * - a profile object (any keys, any TOML-like values) is either a valid Profile or a ConfigError naming
 *   one of its keys — never another exception;
 * - the same values written as TOML and read back through the config loader: a Profile, or a
 *   ConfigError naming `profiles.p.<key>` (with its line) or the file (invalid TOML);
 * - a secret reference (`env:`, `file:`, `cmd:`, `keyring:`, or a literal) resolves to its value or
 *   gives a ConfigError naming the key, and the secret never appears in the error (message, JSON, stack).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'smol-toml';
import { type ConfigFile, parseConfigText, profileFromConfig } from '../../src/config/load.js';
import { MAX_RETRIES, MAX_TIMEOUT_SECONDS, PROFILE_KEYS, validateProfile } from '../../src/config/schema.js';
import { resolveProfileSecrets, resolveSecretReference } from '../../src/config/secrets.js';
import { ConfigError } from '../../src/errors.js';
import type { Profile } from '../../src/profile.js';

const dir = mkdtempSync(join(tmpdir(), 'tokenward-props-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A value TOML can hold (and a few it cannot, from code: null, undefined, NaN, ±Infinity, -0). */
const scalar = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom(
    'https://idp.example.test/token',
    'http://127.0.0.1:8080/t',
    'http://a.localhost/t',
    'ftp://x/y',
    'env:X',
    'file:/dev/zero',
    'cmd:',
    'keyring:',
    'rdp',
    'memory',
    'redis',
    'postgres',
    'client_credentials',
    'password',
    'private_key_jwt',
    'list',
    'api2',
  ),
  fc.double(),
  fc.integer({ min: -20, max: 400 }),
  fc.constantFrom(0, -0, 1, 10, 11, 300, 301, 1800, 1801, 0.5, Number.NaN, Number.POSITIVE_INFINITY),
  fc.boolean(),
  fc.date({ noInvalidDate: true }),
);
const tomlValue = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 3 }) },
);
/** Mostly real profile keys, sometimes a typo or anything at all. */
const key = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PROFILE_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom('clinet_secret', 'tokenurl', 'retry', 'Timeout', '__proto__x') },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
);
const profileObject = fc.dictionary(key, tomlValue, { maxKeys: 6 });
const codeOnly = fc.dictionary(
  key,
  fc.oneof(tomlValue, fc.constantFrom(null, undefined, Number.NEGATIVE_INFINITY)),
  { maxKeys: 6 },
);

/** The invariants of a profile the schema accepted. */
function checkValid(p: Profile): void {
  for (const [k, v] of Object.entries(p)) {
    assert.ok(PROFILE_KEYS.includes(k as keyof Profile), `unknown key ${k} accepted`);
    if (typeof v === 'number') assert.ok(Number.isFinite(v), `${k} is not finite`);
  }
  if (p.timeout !== undefined) assert.ok(p.timeout > 0 && p.timeout <= MAX_TIMEOUT_SECONDS);
  if (p.retries !== undefined) {
    assert.ok(Number.isInteger(p.retries) && p.retries >= 0 && p.retries <= MAX_RETRIES);
  }
  if (p.eager_refresh !== undefined) assert.ok(p.eager_refresh > 0 && p.eager_refresh <= 1);
}

/** True when `k` (an error's key) is `prefix` + one of `keys`, or a path below one (`params.x`). */
function namesKey(k: string | undefined, keys: object, prefix = ''): boolean {
  if (k === undefined || !k.startsWith(prefix)) return false;
  const rest = k.slice(prefix.length);
  return Object.keys(keys).some((g) => rest === g || rest.startsWith(`${g}.`));
}

describe('profile values (property)', () => {
  it('validateProfile: a valid Profile or a ConfigError naming one of the given keys', () => {
    fc.assert(
      fc.property(fc.oneof(profileObject, codeOnly), (input) => {
        let out: Profile;
        try {
          out = validateProfile(input);
        } catch (e) {
          assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
          assert.ok(namesKey(e.key, input), `key ${e.key} not among ${Object.keys(input)}`);
          return;
        }
        checkValid(out);
      }),
      { numRuns: 2000 },
    );
  });

  it('TOML text: a Profile, or a ConfigError naming profiles.p.<key> and its line, or the file', () => {
    const file = join(dir, 'config.toml');
    fc.assert(
      fc.property(profileObject, fc.option(profileObject, { nil: undefined }), (table, defaults) => {
        const data: Record<string, unknown> = { profiles: { p: table } };
        if (defaults !== undefined) data['defaults'] = defaults;
        let text: string;
        try {
          text = stringify(data);
        } catch {
          return; // not representable in TOML (e.g. a list mixing tables and values)
        }
        let profile: Profile;
        try {
          const parsed = parseConfigText(text, file);
          const config: ConfigFile = { path: file, source: 'option', exists: true, text, ...parsed };
          profile = profileFromConfig(config, 'p', { onWarning: () => {} });
        } catch (e) {
          assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
          assert.equal(e.file, file);
          assert.ok(e.line !== undefined && e.line >= 1, `no line for ${e.key}: ${e.message}`);
          // smol-toml writes some dates (years < 0 or > 9999) that it cannot read back.
          if (e.key === undefined && /: invalid TOML: /.test(e.message)) return;
          assert.ok(
            namesKey(e.key, table, 'profiles.p.') ||
              (defaults !== undefined && namesKey(e.key, defaults, 'defaults.')),
            `key ${e.key} names none of the given keys`,
          );
          return;
        }
        checkValid(profile);
        assert.equal(profile.name, 'p');
      }),
      { numRuns: 1000 },
    );
  });

  it('any text as a value: a Profile or a ConfigError (invalid TOML names the file and line)', () => {
    const file = join(dir, 'raw.toml');
    fc.assert(
      fc.property(fc.constantFrom(...PROFILE_KEYS), fc.string({ maxLength: 30 }), (k, raw) => {
        const text = `[profiles.p]\n${k} = ${raw}\n`;
        try {
          const parsed = parseConfigText(text, file);
          profileFromConfig({ path: file, source: 'option', exists: true, text, ...parsed }, 'p', {
            onWarning: () => {},
          });
        } catch (e) {
          assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
          assert.equal(e.file, file);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a wrongly typed literal in a secret key never shows its value in the error', () => {
    const canary = fc.integer({ min: 10_000_000, max: 99_999_999 });
    fc.assert(
      fc.property(
        fc.constantFrom('client_secret', 'password', 'app_secret', 'private_key', 'refresh_token'),
        canary,
        fc.constantFrom('number', 'list', 'table'),
        (k, n, shape) => {
          const value = shape === 'number' ? n : shape === 'list' ? [n] : { v: n };
          try {
            validateProfile({ token_url: 'https://idp.example.test/t', [k]: value, params: { api_key: n } });
            assert.fail('accepted');
          } catch (e) {
            assert.ok(e instanceof ConfigError);
            assert.ok(!JSON.stringify(e.toJSON()).includes(String(n)), e.message);
            assert.ok(!(e.stack ?? '').includes(String(n)));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

/** A fresh secret that appears nowhere else (not in a name, path or command). */
const canary = fc
  .uint8Array({ minLength: 8, maxLength: 8 })
  .map((b) => `cnry${Buffer.from(b).toString('hex')}`);

function assertNoCanary(e: unknown, secret: string): void {
  assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
  for (const text of [e.message, e.stack ?? '', JSON.stringify(e.toJSON()), String(e.cause ?? '')]) {
    assert.ok(!text.includes(secret), `the secret appears in: ${text}`);
  }
}

let fileNo = 0;
/** A `file:` target: holds the secret (maybe padded), is empty, missing, a directory, or a device. */
const fileTarget = fc.oneof(
  fc.record({
    kind: fc.constant('secret' as const),
    pad: fc.constantFrom('', '\n', '  \n\n', '\r\n'),
  }),
  fc.constantFrom(
    { kind: 'empty' as const },
    { kind: 'blank' as const },
    { kind: 'missing' as const },
    { kind: 'dir' as const },
    { kind: 'device' as const },
  ),
);

function makeFile(t: { kind: string; pad?: string }, secret: string): string {
  const p = join(dir, `secret-${fileNo++}`);
  switch (t.kind) {
    case 'secret':
      writeFileSync(p, `${t.pad ?? ''}${secret}${t.pad ?? ''}`);
      return p;
    case 'empty':
      writeFileSync(p, '');
      return p;
    case 'blank':
      writeFileSync(p, ' \n\t\n');
      return p;
    case 'dir':
      mkdirSync(p);
      return p;
    case 'device':
      return process.platform === 'win32' ? p : '/dev/zero';
    default:
      return p;
  }
}

const hasShell = (() => {
  try {
    execFileSync('sh', ['-c', 'exit 0']);
    return true;
  } catch {
    return false;
  }
})();

describe('secret references (property)', () => {
  it('env: and literals: the value, or a ConfigError naming the key without the secret', async () => {
    await fc.assert(
      fc.asyncProperty(
        canary,
        fc.oneof(
          fc.constantFrom('TW_SECRET', 'PATH_X', 'a b', '', ' ', 'x=y', 'é'),
          fc.string({ maxLength: 12 }),
        ),
        fc.constantFrom('set', 'empty', 'unset'),
        fc.constantFrom('env:', 'literal', 'env: '),
        async (secret, name, state, form) => {
          const env: NodeJS.ProcessEnv = {};
          if (state === 'set') env[name.trim()] = secret;
          if (state === 'empty') env[name.trim()] = '';
          const value = form === 'literal' ? secret : `${form}${name}`;
          try {
            const v = await resolveSecretReference(value, { key: 'client_secret' }, { env });
            assert.equal(v, secret);
          } catch (e) {
            assertNoCanary(e, secret);
            assert.equal((e as ConfigError).key, 'client_secret');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('file:: the trimmed content, or a ConfigError naming the key without the secret', async () => {
    await fc.assert(
      fc.asyncProperty(canary, fileTarget, fc.boolean(), async (secret, target, relative) => {
        const path = makeFile(target, secret);
        const ref = relative && path.startsWith(dir) ? `file:${path.slice(dir.length + 1)}` : `file:${path}`;
        try {
          const v = await resolveSecretReference(
            ref,
            { key: 'password', file: 'c.toml', line: 3 },
            { baseDir: dir },
          );
          assert.equal(target.kind, 'secret');
          assert.equal(v, secret);
        } catch (e) {
          assertNoCanary(e, secret);
          assert.notEqual(target.kind, 'secret', (e as Error).message);
          assert.equal((e as ConfigError).key, 'password');
          assert.equal((e as ConfigError).line, 3);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('cmd: and keyring:: the output, or a ConfigError naming the key; output never in the error', {
    skip: hasShell ? false : 'no sh',
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        canary,
        fc.constantFrom(
          'printf %s SECRET',
          'printf "  SECRET\\n"',
          'printf %s SECRET; exit 3',
          'printf %s SECRET >&2; exit 1',
          'printf %s SECRET >&2',
          'exit 0',
          'kill -9 $$',
          'no-such-command-tokenward SECRET',
          'sleep 5; printf SECRET',
          'keyring',
        ),
        async (secret, template) => {
          const value =
            template === 'keyring' ? `keyring:tokenward-test-${secret.slice(4, 8)}` : `cmd:${template}`;
          // The secret reaches the command through the environment, so it is in neither the reference
          // nor the command line.
          const cmd = value.replaceAll('SECRET', '"$TW_CANARY"');
          try {
            const v = await resolveSecretReference(
              cmd,
              { key: 'app_secret' },
              {
                env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TW_CANARY: secret },
                commandTimeoutMs: 1500,
              },
            );
            assert.equal(v, secret);
            assert.ok(
              template.startsWith('printf') && !template.includes('exit') && !template.includes('>&2'),
            );
          } catch (e) {
            assertNoCanary(e, secret);
            assert.equal((e as ConfigError).key, 'app_secret');
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('resolveProfileSecrets: every key resolved, or a ConfigError naming profiles.<name>.<key>', async () => {
    await fc.assert(
      fc.asyncProperty(
        canary,
        fc.dictionary(
          fc.constantFrom('client_secret', 'password', 'client_id', 'username', 'refresh_token', 'scope'),
          fc.constantFrom('env:TW_S', 'env:TW_UNSET', 'literal', 'file:missing', 'file:present', 'env:'),
          { minKeys: 1, maxKeys: 5 },
        ),
        async (secret, refs) => {
          const present = join(dir, `present-${fileNo++}`);
          writeFileSync(present, secret);
          const profile: Record<string, string> = { name: 'p' };
          for (const [k, r] of Object.entries(refs)) {
            profile[k] =
              r === 'literal'
                ? secret
                : r === 'file:present'
                  ? `file:${present}`
                  : r === 'file:missing'
                    ? `file:${present}.missing`
                    : r;
          }
          try {
            const out = await resolveProfileSecrets(profile as Profile, { env: { TW_S: secret } });
            for (const k of Object.keys(refs)) assert.equal(out[k as keyof Profile], secret);
          } catch (e) {
            assertNoCanary(e, secret);
            const k = ((e as ConfigError).key ?? '').replace(/^profiles\.p\./, '');
            assert.ok(Object.hasOwn(refs, k), `key ${(e as ConfigError).key}`);
            assert.ok(['env:TW_UNSET', 'file:missing', 'env:'].includes(refs[k] as string));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
