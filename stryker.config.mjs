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

/** @type {Record<string, { mutate: string[]; tests: string[] }>} */
const GROUPS = {
  // Redaction: the secret registry and scrubbing (the focused tests; secret-leak.test.ts is end to end).
  redact: {
    mutate: ['src/redact.ts'],
    tests: ['test/core/redact.test.ts', 'test/core/errors.test.ts', 'test/mutation/redact*.test.ts'],
  },
  // The redaction of a logged/thrown HTTP exchange.
  exchange: {
    mutate: ['src/http/redact-exchange.ts'],
    tests: [
      'test/core/redact.test.ts',
      'test/core/http.test.ts',
      'test/core/secret-leak.test.ts',
      'test/mutation/redact*.test.ts',
    ],
  },
  // The token manager: cache, single flight, refresh, back-off, failure record.
  manager: {
    mutate: ['src/manager/token-manager.ts'],
    tests: [
      'test/manager/*.test.ts',
      'test/front-door.test.ts',
      'test/stores/file-store.test.ts',
      'test/mutation/manager*.test.ts',
    ],
  },
  // Single flight only: getToken() through #acquire() of the manager (a part of `manager`, for a quick
  // run; not in the default set). Update the line range when the file changes.
  flight: {
    mutate: ['src/manager/token-manager.ts:271-563'],
    tests: [
      'test/manager/*.test.ts',
      'test/front-door.test.ts',
      'test/stores/file-store.test.ts',
      'test/mutation/manager*.test.ts',
    ],
  },
  // Token response parsing.
  token: {
    mutate: ['src/token.ts'],
    tests: ['test/core/token.test.ts', 'test/front-door.test.ts', 'test/mutation/token*.test.ts'],
  },
  // Client authentication.
  auth: {
    mutate: ['src/auth/*.ts'],
    tests: [
      'test/core/client-auth.test.ts',
      'test/core/secret-leak.test.ts',
      'test/core/oidc-provider.test.ts',
      'test/mutation/auth*.test.ts',
    ],
  },
  // The file store's lock only: lock(), #tryCreate, #inspect, #breakStale, #underBreaker, #handle and
  // pidAlive. Update these line ranges when src/stores/file.ts changes (docs/testing.md says how).
  lock: {
    mutate: ['src/stores/file.ts:437-697', 'src/stores/file.ts:701-709'],
    tests: [
      'test/stores/file-store.test.ts',
      'test/stores/file-lock-break.test.ts',
      'test/stores/lease-unit.test.ts',
      'test/mutation/lock*.test.ts',
    ],
  },
  // The HTTP layer (redact-exchange.ts is in `exchange`).
  http: {
    mutate: [
      'src/http/agent.ts',
      'src/http/response.ts',
      'src/http/retry.ts',
      'src/http/token-endpoint.ts',
      'src/http/url.ts',
    ],
    tests: [
      'test/core/http.test.ts',
      'test/core/discovery.test.ts',
      'test/core/secret-leak.test.ts',
      'test/core/oidc-provider.test.ts',
      'test/mutation/http*.test.ts',
    ],
  },
};

const wanted = (process.env['TOKENWARD_MUTATE'] ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '');
for (const g of wanted) {
  if (!(g in GROUPS)) throw new Error(`TOKENWARD_MUTATE: unknown group "${g}" (${Object.keys(GROUPS).join(', ')})`);
}
/** Groups that are part of another one, run only when named. */
const PARTS = new Set(['flight']);
const groups = wanted.length > 0 ? wanted : Object.keys(GROUPS).filter((g) => !PARTS.has(g));
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
  // The machine may be shared and loaded: be generous before calling a mutant a timeout.
  timeoutMS: 10_000,
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
