/**
 * The CLI's reference in three places kept in step with the code: the options each command parses
 * (src/cli/options.ts, which `completion` also reads), its `--help`, and its section of docs/cli.md; and
 * the exit codes of src/cli/exit.ts in `--help`, docs/cli.md and README.md.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GLOBAL_OPTIONS } from '../../src/cli/args.js';
import { EXIT } from '../../src/cli/exit.js';
import { HELP, OVERVIEW } from '../../src/cli/help.js';
import { COMMAND_OPTIONS } from '../../src/cli/options.js';
import { ROOT } from '../cli/helpers.js';

const CLI_MD = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The `--name`s of an "Options:" block of a help text. */
function helpOptions(text: string): string[] {
  const block = /\nOptions:\n((?: {2}.*\n?)+)/.exec(text)?.[1] ?? '';
  return [...block.matchAll(/^ {2}(?:-\w, )?--([\w-]+)/gm)].map((m) => m[1] ?? '');
}

/** The section of docs/cli.md about one command (`## \`name\` …` up to the next `## `). */
function docSection(command: string): string {
  const start = CLI_MD.indexOf(`## \`${command}\``);
  assert.notEqual(start, -1, `docs/cli.md has no section "## \`${command}\`"`);
  const end = CLI_MD.indexOf('\n## ', start + 1);
  return CLI_MD.slice(start, end === -1 ? undefined : end);
}

/** The exit codes listed in a Markdown table whose first column is the code (`| 3 |`, `| 126 / 127 |`, `| 126, 127 |`). */
function tableCodes(markdown: string): number[] {
  const rows = [...markdown.matchAll(/^\| ([\d /,]+) \|/gm)].map((m) => m[1] ?? '');
  return rows.flatMap((r) => r.split(/[/,]/).map((x) => Number(x.trim())));
}

const exitCodes = [...new Set(Object.values(EXIT))].sort((a, b) => a - b);

describe('CLI reference', () => {
  for (const [command, options] of Object.entries(COMMAND_OPTIONS)) {
    test(`${command}: --help lists exactly the options it parses, and docs/cli.md describes each`, () => {
      const parsed = Object.keys(options).sort();
      const help = HELP[command];
      assert.ok(help !== undefined, `no --help for ${command}`);
      assert.deepEqual(helpOptions(help).sort(), parsed, `tokenward ${command} --help`);
      const section = docSection(command);
      for (const name of parsed)
        assert.match(section, new RegExp(`--${name}\\b`), `docs/cli.md, ${command}: --${name}`);
      // An option that a table row of the section names must exist.
      const known = new Set([...parsed, ...Object.keys(GLOBAL_OPTIONS), 'version']);
      for (const m of section.matchAll(/^\| `(?:-\w`, `)?--([\w-]+)/gm)) {
        assert.ok(known.has(m[1] ?? ''), `docs/cli.md, ${command}: --${m[1]} is not an option of ${command}`);
      }
    });
  }

  test('every command has a help text and a section, and none is documented that does not exist', () => {
    assert.deepEqual(Object.keys(HELP).sort(), Object.keys(COMMAND_OPTIONS).sort());
    const documented = [...CLI_MD.matchAll(/^## `([\w-]+)`/gm)].map((m) => m[1]).sort();
    assert.deepEqual(documented, Object.keys(COMMAND_OPTIONS).sort());
  });

  test('global options: the same in the parser, the overview and docs/cli.md', () => {
    for (const name of [...Object.keys(GLOBAL_OPTIONS), 'version']) {
      assert.match(OVERVIEW, new RegExp(`--${name}\\b`), `tokenward --help: --${name}`);
      assert.match(
        CLI_MD.slice(0, CLI_MD.indexOf('\n## ')),
        new RegExp(`\`--${name}`),
        `docs/cli.md: --${name}`,
      );
    }
  });

  test('exit codes: src/cli/exit.ts, --help, docs/cli.md and README.md list the same codes', () => {
    // Each line starts with its code; exec's line names its own as "127: …, 126: …".
    const block = /Exit codes:\n((?: {2}.*\n?)+)/.exec(OVERVIEW)?.[1] ?? '';
    const help = [...block.matchAll(/^ {2}(\d+) |\b(\d+):/gm)].map((m) => Number(m[1] ?? m[2]));
    assert.deepEqual(
      [...new Set(help)].sort((a, b) => a - b),
      exitCodes,
      'tokenward --help',
    );
    const cliSection = CLI_MD.slice(CLI_MD.indexOf('## Exit codes'));
    assert.deepEqual(
      [...new Set(tableCodes(cliSection))].sort((a, b) => a - b),
      exitCodes,
      'docs/cli.md',
    );
    const readmeTable = README.slice(README.indexOf('| exit code |'));
    assert.deepEqual(
      [...new Set(tableCodes(readmeTable.slice(0, readmeTable.indexOf('\n\n'))))].sort((a, b) => a - b),
      exitCodes,
      'README.md',
    );
  });
});
