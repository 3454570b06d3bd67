/**
 * The CLI's argument parsing: plain arguments (positionals and boolean `--name` options) are parsed
 * without node:util `parseArgs` (src/cli/args.ts `parsePlain`, so a warm `tokenward token` does not load
 * it), with the same result as `parseArgs` for every command's options; anything else goes to
 * `parseArgs`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from 'node:util';
import { GLOBAL_OPTIONS, type OptionsConfig, parseCommand, parsePlain } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/exit.js';
import { COMMAND_OPTIONS } from '../../src/cli/options.js';

function viaParseArgs(argv: string[], options: OptionsConfig): unknown {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: { ...values }, positionals };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Argument lists built from a command's options: positionals, each option in its forms, odd ones. */
function samples(options: OptionsConfig): string[][] {
  const atoms = ['p', '-', '--', '-x', '--nope', 'x y', '--=', '---', ''];
  for (const [name, o] of Object.entries(options)) {
    atoms.push(`--${name}`, `--${name}=v`, `--${name}=`);
    if (o.short !== undefined) atoms.push(`-${o.short}`, `-${o.short}v`);
  }
  const out: string[][] = [[]];
  for (const a of atoms) {
    out.push([a]);
    for (const b of atoms) out.push([a, b], [b, 'prof', a]);
  }
  return out;
}

describe('plain arguments without parseArgs', () => {
  it('give what parseArgs gives, for every command, or are left to it', () => {
    let plain = 0;
    for (const [command, own] of Object.entries(COMMAND_OPTIONS)) {
      const options: OptionsConfig = { ...GLOBAL_OPTIONS, ...own };
      for (const argv of samples(options)) {
        const fast = parsePlain(argv, options);
        if (fast === undefined) continue;
        plain++;
        assert.equal(
          Object.getPrototypeOf(fast.values),
          null,
          'values have no prototype, as parseArgs makes them',
        );
        assert.deepEqual(
          { values: { ...fast.values }, positionals: fast.positionals },
          viaParseArgs(argv, options),
          `${command} ${JSON.stringify(argv)}`,
        );
      }
    }
    assert.ok(plain > 1000, `only ${plain} argument lists were plain`);
  });

  it('the common warm calls are plain; values, `--`, short options and unknown ones are not', () => {
    const token = { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS.token };
    for (const argv of [
      ['w'],
      [],
      ['w', '--json'],
      ['--header', 'w'],
      ['w', '--force', '--verbose', '--no-color'],
    ])
      assert.notEqual(parsePlain(argv, token), undefined, JSON.stringify(argv));
    for (const argv of [
      ['w', '--'],
      ['w', '-v'],
      ['w', '--json=1'],
      ['w', '--min-ttl', '5m'],
      ['w', '--config', 'x.toml'],
      ['w', '--nope'],
      ['w', '--constructor'],
      ['w', '--__proto__'],
    ])
      assert.equal(parsePlain(argv, token), undefined, JSON.stringify(argv));
    const request = { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS.request };
    assert.equal(parsePlain(['p', '--header'], request), undefined, 'a multiple option');
    assert.equal(
      parsePlain(['p'], { ...token, x: { type: 'boolean', default: false } }),
      undefined,
      'an option with a default',
    );
  });

  it('parseCommand still reports parseArgs errors as usage errors', () => {
    assert.throws(() => parseCommand(['w', '--nope'], COMMAND_OPTIONS.token), UsageError);
    assert.throws(() => parseCommand(['w', '--json=1'], COMMAND_OPTIONS.token), UsageError);
    assert.deepEqual(parseCommand(['w', '--min-ttl', '5m', '--json'], COMMAND_OPTIONS.token).values, {
      __proto__: null,
      'min-ttl': '5m',
      json: true,
    });
    const r = parseCommand(['w', '--json', '--verbose'], COMMAND_OPTIONS.token);
    assert.deepEqual({ ...r.values }, { json: true, verbose: true });
    assert.deepEqual(r.positionals, ['w']);
  });
});
