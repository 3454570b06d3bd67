/**
 * `tokenward secret` on a terminal (a pseudo-terminal from `script`, util-linux): `set` prompts and
 * reads the value with echo off — what is typed never appears on the terminal — and `get` does not
 * print a value to a terminal unless `--show` is given.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../helpers/process.js';
import { missing } from '../helpers/services.js';
import { CLI, ROOT, type TempHome, tempHome, tw } from './helpers.js';

const VALUE = 'tty-Secret-8c1f42';

let home: TempHome;
let env: NodeJS.ProcessEnv;
before(() => {
  home = tempHome();
  env = { ...home.env, TERM: 'xterm', TOKENWARD_CONFIG_DIR: join(home.dir, 'config', 'tokenward') };
});
after(() => home.cleanup());

function hasScript(): boolean {
  const r = spawnSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
const command = (args: string[]): string => [process.execPath, ...CLI, ...args].map(quote).join(' ');

/**
 * Runs the CLI on a pseudo-terminal; once `prompt` has appeared in what the terminal shows, types
 * `typed`. Resolves to the exit code and everything the terminal showed.
 */
function typeAtPrompt(
  args: string[],
  prompt: string,
  typed: string,
): Promise<{ code: number | null; shown: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command(args), '/dev/null'], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let shown = '';
    let sent = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const onOutput = (c: string) => {
      shown += c;
      if (!sent && shown.includes(prompt)) {
        sent = true;
        child.stdin.write(typed);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onOutput);
    child.stderr.setEncoding('utf8').on('data', onOutput);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, shown });
    });
  });
}

describe('tokenward secret on a terminal', () => {
  it('set prompts and does not echo what is typed; the value is stored', async (t) => {
    if (!hasScript()) return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
    const r = await typeAtPrompt(
      ['secret', 'set', 'tty-one', '--backend', 'local'],
      '(not shown): ',
      `${VALUE}\r`,
    );
    assert.equal(r.code, 0, r.shown);
    assert.match(r.shown, /Value for secret "tty-one" \(not shown\): /);
    assert.match(r.shown, /stored secret "tty-one" in the local secret store/);
    assert.ok(!r.shown.includes(VALUE), `echoed: ${JSON.stringify(r.shown)}`);
    const get = await tw(['secret', 'get', 'tty-one', '--backend', 'local'], { env });
    assert.equal(get.stdout, VALUE);
  });

  it('Ctrl-C at the prompt stores nothing', async (t) => {
    if (!hasScript()) return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
    const r = await typeAtPrompt(
      ['secret', 'set', 'tty-two', '--backend', 'local'],
      '(not shown): ',
      'abc\u0003',
    );
    assert.equal(r.code, 2, r.shown);
    assert.match(r.shown, /cancelled; nothing was stored/);
    const list = await tw(['secret', 'list', '--backend', 'local'], { env });
    assert.equal(list.stdout, 'tty-one\n');
  });

  it('get prints nothing to a terminal without --show, the value with it', async (t) => {
    if (!hasScript()) return missing(t, 'script (util-linux)', 'apt-get install bsdutils');
    const hidden = await runProcess(
      'script',
      ['-qec', command(['secret', 'get', 'tty-one', '--backend', 'local']), '/dev/null'],
      { cwd: ROOT, env },
    );
    assert.equal(hidden.code, 0, hidden.stdout + hidden.stderr);
    assert.ok(!(hidden.stdout + hidden.stderr).includes(VALUE));
    assert.match(hidden.stdout + hidden.stderr, /not printed to a terminal \(add --show/);
    const shown = await runProcess(
      'script',
      ['-qec', command(['secret', 'get', 'tty-one', '--backend', 'local', '--show']), '/dev/null'],
      { cwd: ROOT, env },
    );
    assert.equal(shown.code, 0);
    assert.match(shown.stdout + shown.stderr, new RegExp(`${VALUE}\\r?\\n`));
  });
});
