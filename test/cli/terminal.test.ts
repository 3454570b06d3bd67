/**
 * The CLI on a terminal: every other CLI test runs it with stderr on a pipe, where colours are off
 * anyway, so they cannot tell whether `NO_COLOR` and `--no-color` are honoured. Here the CLI runs under
 * a pseudo-terminal (`script` from util-linux), and the ANSI colour codes must appear, or not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../helpers/process.js';
import { missing } from '../helpers/services.js';
import { CLI, ROOT, type TempHome, tempHome } from './helpers.js';

const ESC = '\x1b[';
const RED_ERROR = '\x1b[31mtokenward: error:\x1b[0m';

let home: TempHome;
before(() => {
  home = tempHome();
});
after(() => home.cleanup());

/** True when `script` (util-linux) can run a command under a pseudo-terminal here. */
function hasScript(): boolean {
  const r = spawnSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** Runs `tokenward ...args` with stdin, stdout and stderr on a pseudo-terminal; returns what it wrote. */
async function onTerminal(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, ...CLI, ...args].map(quote).join(' ');
  const r = await runProcess('script', ['-qec', cmd, '/dev/null'], {
    cwd: ROOT,
    env: { ...home.env, TERM: 'xterm-256color', ...env },
  });
  return { code: r.code, out: r.stdout + r.stderr };
}

describe('colours on a terminal', () => {
  // An unknown command: exit 2 and `tokenward: error: …` on stderr, which is the terminal here.
  const args = ['tokn'];

  it('on a terminal the error prefix is red', async (t) => {
    if (!hasScript()) return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
    const r = await onTerminal(args, {});
    assert.equal(r.code, 2, r.out);
    assert.ok(r.out.includes(RED_ERROR), `a red "tokenward: error:" in ${JSON.stringify(r.out)}`);
    assert.match(r.out, /unknown command "tokn"/);
  });

  it('an empty NO_COLOR does not turn colours off (no-color.org: only a non-empty value does)', async (t) => {
    if (!hasScript()) return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
    const r = await onTerminal(args, { NO_COLOR: '' });
    assert.equal(r.code, 2, r.out);
    assert.ok(r.out.includes(RED_ERROR), JSON.stringify(r.out));
  });

  for (const [name, extraEnv, extraArgs] of [
    ['NO_COLOR=1', { NO_COLOR: '1' }, []],
    ['NO_COLOR=true', { NO_COLOR: 'true' }, []],
    ['--no-color', {}, ['--no-color']],
    ['TERM=dumb', { TERM: 'dumb' }, []],
  ] as const) {
    it(`${name}: no colour codes at all`, async (t) => {
      if (!hasScript()) return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
      const r = await onTerminal([...extraArgs, ...args], extraEnv);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /tokenward: error: unknown command "tokn"/);
      assert.ok(!r.out.includes(ESC), `no ANSI escape in ${JSON.stringify(r.out)}`);
    });
  }
});
