/**
 * `node:diagnostics_channel` is loaded on first use (src/observe/channels.ts): publishing to nobody
 * does not load it, and a subscriber who loads it and subscribes at any time before a publish — by name,
 * or on the channel object, across a garbage collection — gets the events. Each case runs in a fresh
 * process over the built module (dist/), since the test runner and tsx load the module themselves.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../cli/helpers.js';

const BUILT = join(ROOT, 'dist', 'observe', 'channels.js');
const SOURCE = join(ROOT, 'src', 'observe', 'channels.ts');

function fresh(): boolean {
  try {
    return statSync(BUILT).mtimeMs >= statSync(SOURCE).mtimeMs;
  } catch {
    return false;
  }
}

/** Runs `body` as an ES module in a new `node --expose-gc` with `ch` (the built module) and `m` (a manager) in scope. */
function run(body: string, prelude = ''): void {
  // `assert` only after the checks of the module list in the first case: node:assert builds
  // process.stderr (for its colours), which on a pipe loads node:net, which loads diagnostics_channel.
  const script = `${prelude}
const ch = await import(${JSON.stringify(pathToFileURL(BUILT).href)});
const m = { profile: 'p', key: 'v1-k', identity: { provider: 'oauth2' } };
const token = { accessToken: 'secret-token', tokenType: 'Bearer', expiresAt: 2, obtainedAt: 1 };
const dcLoaded = () => process.moduleLoadList.includes('NativeModule diagnostics_channel');
const lazyAssert = async () => (await import('node:assert/strict')).default;
${body}
`;
  // A clean environment: the test runner's NODE_TEST_CONTEXT makes a child set up a reporter (which loads the module).
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '' },
  });
  assert.equal(r.status, 0, r.stderr);
}

describe('diagnostics channels loaded on first use', () => {
  it('publishing to nobody does not load node:diagnostics_channel', (t) => {
    if (!fresh()) return t.skip('dist/ is older than src/: run npm run build');
    run(`
const afterImport = dcLoaded();
ch.publishServed(m, 'memory', token, 1);
ch.publishFlight(m, false, { eager: false, force: false });
ch.publishRefresh(m, false, token);
ch.publishRenewalFailed(m, new Error('x'), false);
ch.publishServedStale(m, token, new Error('x'));
ch.publishLockWait({ ...m, store: { kind: 'file' } }, 0, true);
ch.publishRetry401(m, token);
const started = ch.publishRequestStart('token', 'POST', 'https://x/t', 'client_credentials', 1);
ch.publishRequestEnd(started, { status: 200 });
const inFlight = await ch.inFlight(m, async () => 7);
const afterPublish = dcLoaded();
const assert = await lazyAssert();
assert.equal(afterImport, false, 'loaded by the import');
assert.equal(afterPublish, false, 'loaded by a publish');
assert.equal(started, undefined);
assert.equal(inFlight, 7);
`);
  });

  it('a subscriber who comes after publishes to nobody, before the next one, gets it', (t) => {
    if (!fresh()) return t.skip('dist/ is older than src/: run npm run build');
    run(`
const assert = await lazyAssert();
ch.publishServed(m, 'memory', token, 1);
const dc = await import('node:diagnostics_channel');
const byName = [];
const onChannel = [];
dc.subscribe(ch.CHANNELS.served, (msg) => byName.push(msg));
dc.channel(ch.CHANNELS.flight).subscribe((msg) => onChannel.push(msg));
globalThis.gc();
ch.publishServed(m, 'store', token, 3);
ch.publishFlight(m, true, { eager: false, force: true });
assert.deepEqual(byName, [{ profile: 'p', key: 'v1-k', provider: 'oauth2', source: 'store', expiresAt: 2, at: 3 }]);
assert.equal(onChannel.length, 1);
assert.equal(onChannel[0].coalesced, true);
assert.equal(ch.channels.served, dc.channel(ch.CHANNELS.served), 'the same channel objects');
assert.equal(ch.channels.flight.hasSubscribers, true);
assert.equal(ch.channels.refresh.hasSubscribers, false);
`);
  });

  it('a subscriber through channels (which loads the module) gets the events', (t) => {
    if (!fresh()) return t.skip('dist/ is older than src/: run npm run build');
    run(`
const assert = await lazyAssert();
const got = [];
ch.channels.requestStart.subscribe((msg) => got.push(['start', msg.attempt]));
ch.channels.requestEnd.subscribe((msg) => got.push(['end', msg.status]));
assert.equal(dcLoaded(), true);
assert.deepEqual(Object.keys(ch.channels), Object.keys(ch.CHANNELS));
globalThis.gc();
ch.publishRequestEnd(ch.publishRequestStart('token', 'POST', 'https://x/t', 'client_credentials', 2), { status: 201 });
assert.deepEqual(got, [['start', 2], ['end', 201]]);
`);
  });

  it('where Node names its module list otherwise (a later Node), the module is loaded at once: no subscriber missed', (t) => {
    if (!fresh()) return t.skip('dist/ is older than src/: run npm run build');
    run(
      `
const assert = await lazyAssert();
const dc = await import('node:diagnostics_channel');
const got = [];
dc.subscribe(ch.CHANNELS.served, (msg) => got.push(msg.source));
ch.publishServed(m, 'memory', token, 1);
assert.deepEqual(got, ['memory']);
`,
      // Before the module is imported: a list without Node 20's "NativeModule <name>" entries.
      "Object.defineProperty(process, 'moduleLoadList', { value: ['Builtin path', 'Builtin diagnostics_channel'] });",
    );
  });
});
