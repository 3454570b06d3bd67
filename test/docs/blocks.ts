/**
 * Fenced code blocks of the documentation (README.md, docs/*.md, bench/README.md), for the tests that
 * make the documentation executable.
 *
 * A block may carry a directive: an HTML comment on the line just before its fence (invisible on the
 * rendered page), `<!-- doc-test: KIND — reason -->`, where KIND is
 * - `skip`: not checked at all (a deliberately partial snippet);
 * - `no-run`: `ts`: type-checked but not run; `sh`: not run (it needs something that is not here
 *   offline, such as a vendor account, a terminal or another program);
 * - `run`: `ts`: also run, with a sandbox's config as `TOKENWARD_CONFIG`.
 * Every `skip` and `no-run` must give its reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../cli/helpers.js';

/** What a directive asks. */
export type DirectiveKind = 'skip' | 'no-run' | 'run';

/** One fenced block. */
export interface DocBlock {
  /** Path relative to the repository root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string (`ts`, `sh`, `toml`, or empty). */
  lang: string;
  /** The block's text, without the fences. */
  code: string;
  /** The directive before the fence, if any. */
  directive?: { kind: DirectiveKind; reason: string };
}

const DIRECTIVE = /^<!--\s*doc-test:\s*(skip|no-run|run)\b\s*(?:[—:-]\s*)?(.*?)\s*-->\s*$/;

/** The Markdown files whose examples are tested. */
export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(ROOT, 'docs', f));
  return [join(ROOT, 'README.md'), ...docs, join(ROOT, 'bench', 'README.md')];
}

/** Parses the fenced blocks of one Markdown text. */
export function parseBlocks(text: string, file: string): DocBlock[] {
  const lines = text.split('\n');
  const out: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([\w-]*)\s*$/.exec(lines[i] ?? '');
    if (open === null) continue;
    const fence = open[1] ?? '```';
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] ?? '').startsWith(fence); i++) body.push(lines[i] ?? '');
    const block: DocBlock = { file, line: start + 1, lang: open[2] ?? '', code: body.join('\n') };
    const d = DIRECTIVE.exec((lines[start - 1] ?? '').trim());
    if (d !== null) block.directive = { kind: d[1] as DirectiveKind, reason: d[2] ?? '' };
    out.push(block);
  }
  return out;
}

/** Every fenced block of the documentation, optionally of one language. */
export function docBlocks(lang?: string): DocBlock[] {
  return docFiles()
    .flatMap((f) => parseBlocks(readFileSync(f, 'utf8'), relative(ROOT, f)))
    .filter((b) => lang === undefined || b.lang === lang);
}

/** `file:line` of a block, for messages and test names. */
export function where(b: DocBlock): string {
  return `${b.file}:${b.line}`;
}
