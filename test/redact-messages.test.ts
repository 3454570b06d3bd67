/**
 * The project's own text survives redaction: no string literal in src/ contains "Bearer <word>",
 * "Basic <word>" or "DPoP <word>" — redaction's credential pattern would take the word for a
 * credential and garble the message ("missing bearer token" → "missing bearer [REDACTED]").
 * A lint-like scan of every string and template literal (with the TypeScript parser), cheaper to keep
 * true than a list of messages. Exempt: HTTP authentication challenges (`Bearer realm="…"`), which are
 * protocol values sent in headers, not text for people.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { it } from 'node:test';
import ts from 'typescript';
import { redactText } from '../src/redact.js';

const SRC = join(import.meta.dirname, '..', 'src');
/** What the credential pattern of src/redact.ts looks for: a scheme, white space, a word. */
const SCHEME_WORD = /\b(bearer|basic|dpop)\s+[A-Za-z0-9\-._~+/]/i;
/** An RFC 7235 challenge or credential with auth-params (`Bearer realm="x"`, `Basic realm="idp"`). */
const CHALLENGE = /^(Bearer|Basic|DPoP) [A-Za-z_]+="/;

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every string literal and every literal piece of a template literal in `file`, with its line. */
function literals(file: string, text: string): { text: string; line: number }[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: { text: string; line: number }[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      out.push({ text: node.text, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

it('no string in src/ reads as a credential to redaction', async () => {
  const offenders: string[] = [];
  let scanned = 0;
  for (const file of await sourceFiles(SRC)) {
    for (const lit of literals(file, await readFile(file, 'utf8'))) {
      scanned++;
      if (!SCHEME_WORD.test(lit.text) || CHALLENGE.test(lit.text)) continue;
      if (redactText(lit.text) !== lit.text)
        offenders.push(`${relative(SRC, file)}:${lit.line}: ${lit.text}`);
    }
  }
  assert.ok(scanned > 1000, `scanned ${scanned} literals`);
  assert.deepEqual(offenders, [], 'reword these so that no word follows Bearer/Basic/DPoP');
});

it('the scan would catch such a message', () => {
  const text = 'cylance: GET /devices/v2 with the Bearer token';
  assert.ok(SCHEME_WORD.test(text) && !CHALLENGE.test(text));
  assert.notEqual(redactText(text), text);
  assert.ok(CHALLENGE.test('Bearer realm="oauth2-resource"'));
});
