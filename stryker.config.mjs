// Mutation testing of the core modules with StrykerJS (`npm run mutate`; not part of `npm test`).
// See docs/testing.md for the scope, how to read the report and the last recorded score.
//
// Tests are TypeScript run through tsx: the TAP runner starts one `node --import tsx` process per test
// file, with Stryker's hook preloaded. Coverage is recorded per test file, so each mutant runs only the
// listed files that reach its code, and a killed mutant stops at the first failing file.
//
// The modules are split into groups, each with the test files that exercise it. `npm run mutate` runs
// every group; `TOKENWARD_MUTATE=redact,manager npm run mutate` runs only those (one report per run).
// CLI tests are never listed: they run dist/, not the mutated src/.
//
// A group may mutate only some functions of a file (`flight`, `lock`): they are named, not numbered, and
// their line ranges are computed from the source (with the TypeScript parser) each time the config loads,
// so they follow the code as it is edited. A name that is no longer in the file stops the run.

import { readFileSync } from 'node:fs';
import ts from 'typescript';

/**
 * The Stryker mutate ranges (`file:startLine-endLine`, 1-based, inclusive) of the named functions of
 * `file`: class members (`getToken`, `#acquire`; a name may be `Class.member` when several classes have
 * it) and top-level functions. Each range starts at the member's first line (its TSDoc excluded) and
 * ends at its closing brace.
 * @param {string} file
 * @param {string[]} names
 * @returns {string[]}
 */
function functionsOf(file, names) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  /** @type {Map<string, ts.Node[]>} */
  const found = new Map();
  const add = (name, node) => found.set(name, [...(found.get(name) ?? []), node]);
  for (const stmt of source.statements) {
    if (ts.isFunctionDeclaration(stmt) && stmt.name !== undefined) add(stmt.name.text, stmt);
    if (ts.isClassDeclaration(stmt) && stmt.name !== undefined) {
      for (const member of stmt.members) {
        if (member.name === undefined || !('body' in member) || member.body === undefined) continue;
        const name = member.name.getText(source);
        add(name, member);
        add(`${stmt.name.text}.${name}`, member);
      }
    }
  }
  return names.map((name) => {
    const nodes = found.get(name) ?? [];
    if (nodes.length !== 1) {
      throw new Error(
        `stryker.config.mjs: ${file} has ${nodes.length === 0 ? 'no' : nodes.length} function named "${name}"; update the group`,
      );
    }
    const node = nodes[0];
    const line = (pos) => source.getLineAndCharacterOfPosition(pos).line + 1;
    return `${file}:${line(node.getStart(source))}-${line(node.getEnd())}`;
  });
}

/**
 * The Stryker mutate ranges of `file` outside `ranges` (`file:start-end` ranges of that file): the rest
 * of the file, as the line ranges between them.
 * @param {string} file
 * @param {string[]} ranges
 * @returns {string[]}
 */
function outside(file, ranges) {
  const lines = readFileSync(file, 'utf8').split('\n').length;
  const taken = ranges
    .filter((r) => r.startsWith(`${file}:`))
    .map((r) => r.slice(file.length + 1).split('-').map(Number))
    .sort((x, y) => x[0] - y[0]);
  const out = [];
  let next = 1;
  for (const [start, end] of taken) {
    if (start > next) out.push(`${file}:${next}-${start - 1}`);
    next = Math.max(next, end + 1);
  }
  if (next <= lines) out.push(`${file}:${next}-${lines}`);
  return out;
}

/** @type {Record<string, { mutate: string[]; tests: string[] }>} */
const GROUPS = {
  // Redaction: the secret registry and scrubbing (the focused tests; secret-leak.test.ts is end to end).
  redact: {
    mutate: ['src/redact.ts'],
    tests: ['test/redact.test.ts', 'test/errors.test.ts', 'test/mutation/redact*.test.ts'],
  },
  // The redaction of a logged/thrown HTTP exchange.
  exchange: {
    mutate: ['src/http/redact-exchange.ts'],
    tests: [
      'test/redact.test.ts',
      'test/http/http.test.ts',
      'test/reliability/secret-leak.test.ts',
      'test/mutation/redact*.test.ts',
    ],
  },
  // The token manager outside single flight (its mutate ranges are set below: the rest of the file):
  // options, invalidate, logout, close, obtaining (refresh, rejected refresh, primary grant), what is
  // written to the store, and the failure record. The focused files only: the manager's other test
  // files take 7-37 s each under load (see docs/testing.md for the ones that reach this code); mutants
  // only they would kill count as survivors here.
  manager: {
    mutate: ['src/manager/token-manager.ts'],
    tests: ['test/mutation/manager*.test.ts'],
  },
  // Single flight (the `manager` group is the rest of the file): getToken(), the
  // one shared flight (#join, #fly, #acquire) and what it decides with (#usable, #fits, #servable,
  // #plan, #settle), the background refresh (#startEager).
  flight: {
    mutate: functionsOf('src/manager/token-manager.ts', [
      'getToken',
      '#get',
      '#getForeground',
      '#eagerDue',
      '#loadClient',
      '#join',
      '#startEager',
      '#fits',
      '#usable',
      '#servable',
      '#plan',
      '#fly',
      '#settle',
      '#acquire',
    ]),
    // The focused files first: a mutant stops at the first file that fails. `mutation/flight*` pins each
    // branch of these functions (the survivors of the 05107a2 run).
    tests: [
      'test/mutation/flight*.test.ts',
      'test/mutation/manager*.test.ts',
      'test/manager/token-manager.test.ts',
      'test/manager/*.test.ts',
      'test/front-door.test.ts',
      'test/stores/file-store.test.ts',
      // #acquire's re-read of a woken lock waiter (LockOptions.satisfied), across the stores.
      'test/stores/lock-waiters.test.ts',
    ],
  },
  // Token response parsing.
  token: {
    mutate: ['src/token.ts', 'src/token-state.ts'],
    tests: ['test/token.test.ts', 'test/front-door.test.ts', 'test/mutation/token*.test.ts'],
  },
  // Client authentication.
  auth: {
    mutate: ['src/auth/*.ts'],
    // The focused files first: a mutant stops at the first file that fails.
    tests: [
      'test/mutation/auth*.test.ts',
      'test/auth/client-auth.test.ts',
      'test/reliability/secret-leak.test.ts',
      'test/providers/oidc-provider.test.ts',
    ],
  },
  // The file store's lock only.
  lock: {
    mutate: functionsOf('src/stores/file.ts', [
      'lock',
      '#tryCreate',
      '#inspect',
      '#breakStale',
      '#underBreaker',
      '#handle',
      'pidAlive',
    ]),
    // The focused file only. The other lock tests are slow to run once per mutant on a shared machine:
    // file-lock-break runs 8 processes x 50 lock cycles (minutes under load), conformance and
    // lock-wakeups start PostgreSQL and Redis clients too, file-store takes 20 s. Mutants they would
    // kill and the focused file does not count as survivors here: the score is a lower bound.
    tests: ['test/mutation/lock*.test.ts'],
  },
  // The HTTP layer's reading and deciding (redact-exchange.ts is in `exchange`): option bounds, answers
  // and their errors, back-off and Retry-After, URL checks, how a transport failure is described and
  // whether it is retried. Pure code: the focused files kill most mutants in a second or two.
  http: {
    mutate: [
      'src/http/budget.ts',
      'src/http/response.ts',
      'src/http/retry.ts',
      'src/http/url.ts',
      ...functionsOf('src/http/token-endpoint.ts', ['classifyNetworkError', 'errorCode']),
    ],
    // The focused files only: http-layer and http run loopback servers with real retries, a minute
    // and more per mutant under a load of 30. Mutants only they would kill count as survivors here.
    tests: ['test/mutation/http*.test.ts'],
  },
  // The HTTP layer's sending (the rest of token-endpoint.ts, set below, and the connection pools):
  // requests, retries, size and time limits, proxies, TLS settings, the exchange hook. Every test of it
  // runs loopback servers (1 180 mutants with `http` at first: more than a session's time on the
  // shared machine; split off so each part can finish).
  'http-send': {
    mutate: ['src/http/agent.ts', 'src/http/token-endpoint.ts'],
    // The focused files only (`mutation/http-send*` pin this code): with the module's other files
    // (reliability/http-layer, http/http, http/proxy, discovery, reliability/secret-leak) the first run
    // did 225 of 678 mutants in 17 minutes under a load of 10-30, on course for two and a half hours.
    // Mutants only those files would kill count as survivors here.
    tests: ['test/mutation/http*.test.ts'],
  },
};

// The manager's group is the rest of its file: the functions of `flight` are measured there.
GROUPS.manager.mutate = outside('src/manager/token-manager.ts', GROUPS.flight.mutate);
// `http-send` takes the rest of token-endpoint.ts: the functions of `http` are measured there.
GROUPS['http-send'].mutate = [
  'src/http/agent.ts',
  ...outside('src/http/token-endpoint.ts', GROUPS.http.mutate),
];

const wanted = (process.env['TOKENWARD_MUTATE'] ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '');
for (const g of wanted) {
  if (!(g in GROUPS)) throw new Error(`TOKENWARD_MUTATE: unknown group "${g}" (${Object.keys(GROUPS).join(', ')})`);
}
const groups = wanted.length > 0 ? wanted : Object.keys(GROUPS);
const name = wanted.length > 0 ? groups.join('+') : 'all';
const uniq = (xs) => [...new Set(xs)];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
const config = {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  tap: {
    testFiles: uniq(groups.flatMap((g) => GROUPS[g].tests)),
    nodeArgs: ['--import', 'tsx', '--test-reporter=tap', '-r', '{{hookFile}}', '{{testFile}}'],
    forceBail: true,
  },
  mutate: uniq(groups.flatMap((g) => GROUPS[g].mutate)),
  ignorePatterns: ['dist', 'bench', 'coverage', 'reports', '.tmp', '.stryker-tmp*', 'examples', 'docs'],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // The machine may be shared and loaded: be generous before calling a mutant a timeout. Under a load
  // average of 20-30 on two cores, starting one test file through tsx alone can take 10-20 s, and a
  // 10 s limit reported a fifth of the `auth` mutants as timed out; TOKENWARD_MUTATE_TIMEOUT_MS sets it.
  timeoutMS: Number(process.env['TOKENWARD_MUTATE_TIMEOUT_MS'] ?? 10_000),
  timeoutFactor: 2,
  // Instrumented sources are run by tsx, which does not type-check; Stryker adds @ts-nocheck anyway.
  disableTypeChecks: 'src/**/*.ts',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  // Keep results between runs of the same scope: only mutants whose code or covering tests changed
  // are run again.
  incremental: true,
  incrementalFile: `reports/stryker-incremental-${name}.json`,
};

export default config;
