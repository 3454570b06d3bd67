// A Node test reporter that prints nothing until the run ends, then a short list of the tests that
// failed (file, name, the first lines of the error). scripts/test.mjs runs it after the TAP reporter so
// that the tail of a long CI log names the failures instead of the last passing file.
import { relative } from 'node:path';
import { inspect } from 'node:util';

function firstLines(error, n) {
  const cause = error?.cause ?? error;
  // Not String(cause): a thrown value without a usable toString (an object with a null prototype, as the
  // test runner may hand back a value that crossed from the test's process) makes String() throw, and a
  // throwing reporter ends the run with its own TypeError instead of the list.
  const text =
    cause instanceof Error
      ? `${cause.name}: ${cause.message}`
      : inspect(cause, { depth: 2, breakLength: 100 });
  return text
    .split('\n')
    .slice(0, n)
    .map((l) => `      ${l}`)
    .join('\n');
}

export default async function* failures(source) {
  const failed = [];
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    // A suite whose subtests failed is listed through those subtests.
    if (details?.error?.failureType === 'subtestsFailed') continue;
    failed.push({
      name,
      file: file ? relative(process.cwd(), file) : '(unknown file)',
      error: details?.error,
    });
  }
  if (failed.length === 0) {
    yield '\n# no test failed\n';
    return;
  }
  let out = `\n# ${failed.length} failed:\n`;
  for (const f of failed) out += `#   ${f.file}: ${f.name}\n${firstLines(f.error, 6)}\n`;
  yield out;
}
