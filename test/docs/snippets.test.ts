/**
 * Every `ts` snippet of the documentation is type-checked against the built package (`import … from
 * 'tokenward'` resolves to dist/ through package.json's exports, as it does for a user), and the ones
 * marked `run` are run against a sandbox. A snippet that is deliberately partial is marked `skip` with
 * its reason (see blocks.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import ts from 'typescript';
import { type Sandbox, sandboxConfigToml, startSandbox } from '../../src/sandbox/index.js';
import { ROOT, tempHome } from '../cli/helpers.js';
import { type Ran, runProcess } from '../helpers/process.js';
import { type DocBlock, docBlocks, where } from './blocks.js';

const DIR = join(ROOT, '.tmp', 'doc-snippets');
const snippets = docBlocks('ts');

function fileFor(b: DocBlock): string {
  return join(DIR, `${b.file.replace(/[^\w]+/g, '_')}_${b.line}.ts`);
}

describe('documentation: ts snippets', () => {
  const diagnostics = new Map<string, string[]>();

  before(() => {
    assert.ok(
      existsSync(join(ROOT, 'dist', 'index.d.ts')),
      'the package must be built first (npm test builds it)',
    );
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    const files: string[] = [];
    for (const b of snippets) {
      if (b.directive?.kind === 'skip') continue;
      const f = fileFor(b);
      // `export {}` makes each snippet a module of its own (top-level await, no shared names).
      writeFileSync(f, `${b.code}\nexport {};\n`);
      files.push(f);
    }
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2023.d.ts'],
      types: ['node'],
      strict: true,
      exactOptionalPropertyTypes: true, // the strictest setting a user may have: the .d.ts must hold up
      noEmit: true,
      skipLibCheck: true,
      esModuleInterop: true,
      verbatimModuleSyntax: true,
      typeRoots: [join(ROOT, 'node_modules', '@types')],
    });
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const name = d.file?.fileName ?? '(global)';
      const pos =
        d.file !== undefined && d.start !== undefined
          ? d.file.getLineAndCharacterOfPosition(d.start)
          : undefined;
      const msg = `${pos !== undefined ? `line ${pos.line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      const list = diagnostics.get(name) ?? [];
      list.push(msg);
      diagnostics.set(name, list);
    }
  });

  test('there are snippets, and every skip gives its reason', () => {
    assert.ok(snippets.length >= 10, `found ${snippets.length} ts snippets`);
    for (const b of snippets) {
      if (b.directive !== undefined && b.directive.kind !== 'run') {
        assert.ok(b.directive.reason.length > 3, `${where(b)}: ${b.directive.kind} needs a reason`);
      }
    }
  });

  for (const b of snippets) {
    test(`${where(b)} type-checks`, {
      skip: b.directive?.kind === 'skip' ? b.directive.reason : false,
    }, () => {
      const global = diagnostics.get('(global)') ?? [];
      const own = diagnostics.get(fileFor(b)) ?? [];
      assert.deepEqual([...global, ...own], [], `${where(b)}:\n${b.code}`);
    });
  }

  describe('runnable snippets, against a sandbox', () => {
    let sandbox: Sandbox;
    const home = tempHome();
    const configPath = join(home.dir, 'sandbox.toml');
    before(async () => {
      sandbox = await startSandbox();
      writeFileSync(configPath, sandboxConfigToml(sandbox));
    });
    after(async () => {
      await sandbox.close();
      home.cleanup();
    });
    for (const b of snippets.filter((s) => s.directive?.kind === 'run')) {
      test(`${where(b)} runs`, async () => {
        const r = await runNode(fileFor(b), { ...home.env, TOKENWARD_CONFIG: configPath });
        assert.equal(r.code, 0, `${where(b)} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
        // `console.log(…); // X` claims that the line prints X: the printed lines must be those, in order.
        const claimed = [...b.code.matchAll(/^\s*console\.log\(.*\);\s*\/\/\s*(.+?)\s*$/gm)].map((m) => m[1]);
        if (claimed.length > 0) assert.deepEqual(r.stdout.trimEnd().split('\n'), claimed, where(b));
      });
    }
  });
});

function runNode(file: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return runProcess(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, env });
}
