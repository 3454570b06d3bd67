/**
 * The built-in subject sources: GitHub Actions (a loopback stand-in for its ID token endpoint), GitLab
 * (an id_tokens variable), Kubernetes (a service-account token file; the real path is never touched),
 * each exchanged end to end against oidc-provider; and which key names the source, pure.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { ConfigError, InvalidTokenResponseError, TokenEndpointError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import type { HttpExchange } from '../../src/http/types.js';
import type { TokenManager } from '../../src/manager/token-manager.js';
import type { Profile } from '../../src/profile.js';
import {
  ACCESS_TOKEN_TYPE,
  GITLAB_DEFAULT_VARIABLE,
  JWT_TOKEN_TYPE,
  KUBERNETES_TOKEN_PATH,
  readSubject,
  subjectSpec,
  subjectTokenType,
} from '../../src/subject/index.js';
import {
  CI_AUDIENCE,
  type ExchangeProvider,
  JWT_BEARER,
  startExchangeProvider,
  TOKEN_EXCHANGE,
} from '../grants/exchange-provider.js';
import { json, type Loopback, startLoopback } from '../helpers/loopback.js';

let op: ExchangeProvider;
let gh: Loopback;
let dir: string;
const managers: TokenManager[] = [];
const traces: HttpExchange[] = [];
const GH_BEARER = `ghs_${randomBytes(16).toString('hex')}`;
let ghValue = '';

before(async () => {
  op = await startExchangeProvider();
  gh = await startLoopback((_req, res) => json(res, 200, { count: 1, value: ghValue }));
});
after(async () => {
  await op.close();
  await gh.close();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokenward-subject-'));
  op.reset();
  gh.requests.length = 0;
  gh.handler = (_req, res) => json(res, 200, { count: 1, value: ghValue });
  traces.length = 0;
});
afterEach(async () => {
  await Promise.allSettled(managers.splice(0).map((m) => m.close()));
  rmSync(dir, { recursive: true, force: true });
});

const base = (extra: Partial<Profile>): Profile => ({
  name: 'ci',
  token_url: op.tokenUrl,
  client_id: op.client.id,
  client_secret: op.client.secret,
  store: 'memory',
  ...extra,
});

async function open(profile: Profile, env: NodeJS.ProcessEnv): Promise<TokenManager> {
  const m = await createTokenManager(profile, {
    env,
    onWarning: () => {},
    http: { retries: 0, onExchange: (x) => traces.push(x) },
  });
  managers.push(m);
  return m;
}

const ghEnv = (): NodeJS.ProcessEnv => ({
  ACTIONS_ID_TOKEN_REQUEST_URL: `${gh.url}/_apis/idtoken?api-version=2.0`,
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: GH_BEARER,
});

describe('subject_source = "github-actions"', () => {
  it('asks the ID token endpoint with the audience and the bearer token, then exchanges its value', async () => {
    ghValue = await op.subjectJwt('repo:octo/app:ref:refs/heads/main');
    const m = await open(
      base({ grant: 'jwt_bearer', subject_source: 'github-actions', subject_audience: CI_AUDIENCE }),
      ghEnv(),
    );
    assert.equal(m.identity['subject'], 'github-actions');
    assert.equal(m.identity['subject_audience'], CI_AUDIENCE);
    assert.equal(gh.requests.length, 0, 'opening the profile asks GitHub nothing');
    await m.getToken();
    await m.getToken();
    assert.equal(gh.requests.length, 1);
    const req = gh.requests[0]!;
    assert.equal(req.method, 'GET');
    const url = new URL(req.url, gh.url);
    assert.equal(url.pathname, '/_apis/idtoken');
    assert.equal(url.searchParams.get('api-version'), '2.0');
    assert.equal(url.searchParams.get('audience'), CI_AUDIENCE);
    assert.equal(req.headers.authorization, `bearer ${GH_BEARER}`);
    assert.deepEqual(op.counts, { [JWT_BEARER]: 1 });
    assert.equal(op.seen[0]?.sub, 'repo:octo/app:ref:refs/heads/main');
    const shown = JSON.stringify(traces);
    assert.equal(traces.length, 2, 'the GitHub request and the exchange');
    assert.ok(!shown.includes(GH_BEARER) && !shown.includes(ghValue), 'neither token in a trace');
  });

  it('without the job variables: ConfigError naming subject_source, nothing sent', async () => {
    const m = await open(base({ grant: 'jwt_bearer', subject_source: 'github-actions' }), {});
    await assert.rejects(
      m.getToken(),
      (e: unknown) => e instanceof ConfigError && e.key === 'profiles.ci.subject_source',
    );
    assert.equal(gh.requests.length, 0);
    assert.deepEqual(op.counts, {});
  });

  it('a refusal (403) or an answer without value is a typed error without the bearer token', async () => {
    const p = base({ grant: 'jwt_bearer', subject_source: 'github-actions' });
    gh.handler = (_req, res) => json(res, 403, { message: 'no id-token permission' });
    const m = await open(p, ghEnv());
    await assert.rejects(m.getToken(), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError && e.status === 403);
      assert.ok(!`${e.message}${JSON.stringify(e)}`.includes(GH_BEARER));
      return true;
    });
    gh.handler = (_req, res) => json(res, 200, { count: 0 });
    await assert.rejects(m.getToken(), (e: unknown) => e instanceof InvalidTokenResponseError);
    gh.handler = (_req, res) => json(res, 200, { value: 'x'.repeat(70 * 1024) });
    await assert.rejects(m.getToken(), (e: unknown) => e instanceof InvalidTokenResponseError);
    assert.deepEqual(op.counts, {});
  });
});

describe('subject_source = "gitlab"', () => {
  it('reads CI_JOB_JWT_V2 by default, or the variable subject_env names', async () => {
    const jwt = await op.subjectJwt('project_path:group/app');
    const m1 = await open(base({ grant: 'token_exchange', subject_source: 'gitlab' }), {
      CI_JOB_JWT_V2: jwt,
    });
    assert.equal(m1.identity['subject'], 'env:CI_JOB_JWT_V2');
    await m1.getToken();
    const other = await op.subjectJwt('project_path:group/other');
    const m2 = await open(
      base({
        name: 'ci2',
        grant: 'token_exchange',
        subject_source: 'gitlab',
        subject_env: 'TOKENWARD_ID_TOKEN',
      }),
      { TOKENWARD_ID_TOKEN: other },
    );
    assert.equal(m2.identity['subject_sub'], 'project_path:group/other');
    await m2.getToken();
    assert.deepEqual(
      op.seen.map((s) => s.sub),
      ['project_path:group/app', 'project_path:group/other'],
    );
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 2 });
  });

  it('an unset variable is a ConfigError naming subject_env when opened', async () => {
    await assert.rejects(
      open(base({ grant: 'token_exchange', subject_source: 'gitlab', subject_env: 'ID_TOKEN_1' }), {}),
      (e: unknown) =>
        e instanceof ConfigError && e.key === 'profiles.ci.subject_env' && /ID_TOKEN_1/.test(e.message),
    );
  });
});

describe('subject_source = "kubernetes"', () => {
  it('reads the projected token file given by subject_token_file', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, await op.subjectJwt('system:serviceaccount:ns:app'));
    const m = await open(
      base({ grant: 'token_exchange', subject_source: 'kubernetes', subject_token_file: file }),
      {},
    );
    await m.getToken();
    assert.equal(op.seen[0]?.sub, 'system:serviceaccount:ns:app');
    assert.equal(op.seen[0]?.type, 'jwt');
  });
});

describe('subject_token = "cmd:…"', () => {
  it('is keyed by its source without running it when opened; it runs at each exchange', async () => {
    const file = join(dir, 'jwt');
    const log = join(dir, 'runs');
    writeFileSync(file, await op.subjectJwt('from-a-command'));
    writeFileSync(log, '');
    const m = await open(
      base({ grant: 'token_exchange', subject_token: `cmd:echo run >> '${log}'; cat '${file}'` }),
      { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    );
    assert.match(m.identity['subject'] ?? '', /^cmd:sha256:[0-9a-f]{16}$/);
    assert.equal(m.identity['subject_sub'], undefined);
    assert.equal(readFileSync(log, 'utf8'), '', 'opening ran no command');
    await m.getToken();
    assert.equal(readFileSync(log, 'utf8'), 'run\n');
    assert.equal(op.seen[0]?.sub, 'from-a-command');
  });
});

describe('subject specs (pure)', () => {
  it('names the source and the key it came from; defaults', () => {
    assert.deepEqual(subjectSpec({ subject_source: 'kubernetes' }, 'subject'), {
      kind: 'file',
      key: 'subject_source',
      path: KUBERNETES_TOKEN_PATH,
    });
    assert.deepEqual(subjectSpec({ subject_source: 'gitlab' }, 'subject'), {
      kind: 'gitlab',
      key: 'subject_source',
      variable: GITLAB_DEFAULT_VARIABLE,
    });
    assert.equal(subjectSpec({}, 'subject'), undefined);
    assert.equal(subjectSpec({ subject_token: 'x' }, 'actor'), undefined);
    assert.equal(subjectTokenType({}, 'subject'), JWT_TOKEN_TYPE);
    assert.equal(subjectTokenType({ subject_profile: 'ci' }, 'subject'), ACCESS_TOKEN_TYPE);
    assert.equal(
      subjectTokenType({ subject_profile: 'ci', subject_token_type: 'urn:x' }, 'subject'),
      'urn:x',
    );
    assert.equal(subjectTokenType({}, 'actor'), JWT_TOKEN_TYPE);
  });

  it('a profile subject without a manager to reach it is a ConfigError', async () => {
    await assert.rejects(
      readSubject({ kind: 'profile', key: 'subject_profile', name: 'up' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'subject_profile',
    );
  });

  it('an empty or oversized token file is a ConfigError naming the key', async () => {
    writeFileSync(join(dir, 'empty'), '\n');
    writeFileSync(join(dir, 'big'), 'x'.repeat(70 * 1024));
    for (const f of ['empty', 'big']) {
      await assert.rejects(
        readSubject({ kind: 'file', key: 'subject_token_file', path: join(dir, f) }),
        (e: unknown) => e instanceof ConfigError && e.key === 'subject_token_file',
      );
    }
  });
});
