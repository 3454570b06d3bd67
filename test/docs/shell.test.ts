/**
 * Every `sh` example of the documentation that runs `tokenward` is run, as a user would type it, against
 * the sandbox: in bash with `set -eo pipefail`, `tokenward` on PATH (the built CLI), a temporary HOME
 * whose default config is a running sandbox's, and the example's vendor hosts pointed at that sandbox.
 * A block must exit 0; some also have the shape of their output checked. Blocks that cannot run here
 * carry a `no-run` directive with the reason (see blocks.ts), and this file lists which those are, so
 * a new one is a decision, not an accident.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Sandbox, sandboxConfigToml, startSandbox } from '../../src/sandbox/index.js';
import { ROOT, type TempHome, tempHome } from '../cli/helpers.js';
import { type Ran, runProcess } from '../helpers/process.js';
import { missing } from '../helpers/services.js';
import { type DocBlock, docBlocks, where } from './blocks.js';

/** The hosts the examples use, all answered by the sandbox. */
const HOSTS = [
  'https://msx.example.com',
  'https://eu2-cloud.acronis.com',
  'https://eu-cloud.acronis.com',
  'https://api.refinitiv.com',
  'https://api.example.com',
];

/** What some blocks must print on stdout, by a command they contain. */
const SHAPES: Array<[command: string, stdout: RegExp]> = [
  ['tokenward token acronis --config sandbox.toml --json', /"access_token": ?"[^"]+"/],
  ['tokenward inspect "$TOKEN" --json', /"verified": ?false/],
  ['tokenward profiles list', /^acme$/m],
  ['tokenward status --json | jq', /^"(rdp|msx|acronis|cylance)"$/m],
];

/** The blocks that do not run here, by their first line; each also says why in the docs. */
const NOT_RUN = [
  'npm ci && npm run demo', // CI itself runs these two
  'npx tokenward demo', // npx would fetch the published package
  'source <(tokenward completion bash)', // writes into the shell's completion directories
  'npm run build', // measurements: the benchmark runs them
  'npm run bench',
  'TOKENWARD_BENCH_ROOT=$PWD node --cpu-prof',
  'tokenward token bound --header --dpop-for', // needs a DPoP-enabled server: test/dpop/cli.test.ts
  'tokenward profiles add me issuer=', // a person's sign-in: test/cli/login.test.ts runs it in Chromium
  'tokenward login me',
  'tokenward introspect corp', // the sandbox has no introspection endpoint: test/cli/introspect.test.ts
];

const blocks = docBlocks('sh').filter((b) => /\btokenward\b/.test(b.code));

/** The script for one block: continuation lines joined; after `cmd > FILE &`, wait for FILE as a person would. */
function script(b: DocBlock, origin: string): string {
  let code = b.code.replace(/\\\n\s*/g, '');
  for (const h of HOSTS) code = code.split(h).join(origin);
  code = code.replace(/--port \d+/g, '--port 0'); // a fixed port of an example may be taken here
  const lines: string[] = ['set -eo pipefail', "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"];
  for (const line of code.split('\n')) {
    lines.push(line);
    const bg = />\s*(\S+)\s*&\s*(#.*)?$/.exec(line);
    if (bg !== null) lines.push(`for i in $(seq 600); do [ -s ${bg[1]} ] && break; sleep 0.05; done`);
  }
  return `${lines.join('\n')}\n`;
}

describe('documentation: sh examples', () => {
  let sandbox: Sandbox;
  let config: string;
  const homes: TempHome[] = [];

  before(async () => {
    sandbox = await startSandbox();
    config = sandboxConfigToml(sandbox);
  });
  after(async () => {
    await sandbox.close();
    for (const h of homes) h.cleanup();
  });

  test('every block that does not run is listed here and says why in the docs', () => {
    const skipped = blocks.filter((b) => b.directive?.kind === 'no-run' || b.directive?.kind === 'skip');
    for (const b of skipped) {
      assert.ok((b.directive?.reason.length ?? 0) > 3, `${where(b)} needs a reason`);
      const first = b.code.split('\n')[0] ?? '';
      assert.ok(
        NOT_RUN.some((n) => first.startsWith(n)),
        `${where(b)} is not run; list it in NOT_RUN: ${first}`,
      );
    }
    assert.ok(blocks.length - skipped.length >= 10, 'most examples run');
  });

  const has = (program: string): boolean => spawnSync(program, ['--version']).status === 0;
  for (const b of blocks) {
    const skip = b.directive?.kind === 'no-run' || b.directive?.kind === 'skip' ? b.directive.reason : false;
    test(`${where(b)} runs`, { skip }, async (t) => {
      for (const program of ['jq', 'curl']) {
        if (new RegExp(`\\b${program}\\b`).test(b.code) && !has(program)) {
          return missing(t, program, `apt-get install ${program}`);
        }
      }
      const home = tempHome();
      homes.push(home);
      const bin = join(home.dir, 'bin');
      mkdirSync(bin);
      writeFileSync(
        join(bin, 'tokenward'),
        `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'dist', 'cli', 'tokenward.cjs')}" "$@"\n`,
      );
      chmodSync(join(bin, 'tokenward'), 0o755);
      // Profiles managed by the example itself start from an empty config; the others find the sandbox's.
      if (!b.code.includes('profiles add')) {
        mkdirSync(join(home.dir, 'config', 'tokenward'), { recursive: true });
        writeFileSync(home.config, config, { mode: 0o600 });
      }
      const work = join(home.dir, 'work');
      mkdirSync(work);
      writeFileSync(join(work, 'tenant.json'), '{"name": "Tenant from the docs"}\n');
      writeFileSync(join(work, 'deploy.sh'), '#!/bin/sh\ntest -n "$MSX_TOKEN"\n', { mode: 0o755 });
      const env: NodeJS.ProcessEnv = {
        ...home.env,
        PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
        CLIENT_ID: sandbox.credentials.acronis.clientId,
        SECRET: 'a-secret-from-stdin',
      };
      const r = await bash(script(b, sandbox.url), work, env);
      assert.equal(
        r.code,
        0,
        `${where(b)} exited ${r.code}\n${b.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
      );
      for (const [command, shape] of SHAPES) {
        if (b.code.includes(command)) assert.match(r.stdout, shape, `${where(b)}: ${command}`);
      }
    });
  }
});

function bash(text: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return runProcess('bash', ['-c', text], { cwd, env });
}
