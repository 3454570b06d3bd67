/**
 * panva's `oidc-provider` in-process on 127.0.0.1 for the interactive sign-in tests: its own (dev)
 * login and consent pages, the device flow with its verification page, PAR (optionally required),
 * refresh rotation, revocation, userinfo — and a public native client whose loopback redirect may use
 * any port (RFC 8252 §7.3). Plus a Chromium launcher that refuses every non-loopback request.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { missing } from './services.js';

interface ProviderInstance {
  callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
  use(
    mw: (
      ctx: { path: string; method: string; body?: unknown; oidc?: { params?: Record<string, unknown> } },
      next: () => Promise<void>,
    ) => Promise<void>,
  ): void;
}
type ProviderClass = new (issuer: string, config: Record<string, unknown>) => ProviderInstance;

/** The person who signs in (the dev login page takes any login and password). */
export const PERSON = {
  login: 'alice',
  password: 'any',
  email: 'alice@example.test',
  name: 'Alice Liddell',
} as const;

/** A running interactive provider. */
export interface InteractiveProvider {
  issuer: string;
  /** The public native client (code + PKCE, device flow, refresh). */
  clientId: string;
  /** The RSA private JWK the provider signs ID tokens with (to forge tokens in tests). */
  signingJwk: Record<string, unknown>;
  /** Requests per path and grant type. */
  counts: {
    token: Record<string, number>;
    par: number;
    deviceAuthorization: number;
    jwks: number;
    userinfo: number;
  };
  close(): Promise<void>;
}

/** Starts the provider. `requirePar`: the server requires (and advertises) pushed authorization requests. */
export async function startInteractiveProvider(
  options: { requirePar?: boolean; deviceCodeTtl?: number } = {},
): Promise<InteractiveProvider> {
  const { default: Provider } = (await import('oidc-provider' as string)) as { default: ProviderClass };
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const signingJwk = {
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
    kid: `sig-${randomBytes(3).toString('hex')}`,
    alg: 'RS256',
    use: 'sig',
  };
  const clientId = 'c-native';
  const page = (title: string, body: string) =>
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
      },
    ],
    jwks: { keys: [signingJwk] },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: true },
      deviceFlow: {
        enabled: true,
        // Plain pages (the default ones import a web font from the internet).
        userCodeInputSource: async (ctx: { body: string }, form: string, _out: unknown, err: unknown) => {
          ctx.body = page(
            'Device sign-in',
            `${err ? '<p class="error">That code is wrong</p>' : ''}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`,
          );
        },
        userCodeConfirmSource: async (
          ctx: { body: string },
          form: string,
          _c: unknown,
          _d: unknown,
          userCode: string,
        ) => {
          ctx.body = page(
            'Confirm device',
            `<p>Code <code>${userCode}</code></p>${form}<button autofocus type="submit" form="op.deviceConfirmForm">Continue</button><button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>`,
          );
        },
        successSource: async (ctx: { body: string }) => {
          ctx.body = page('Device signed in', '<p id="done">done</p>');
        },
      },
      pushedAuthorizationRequests: {
        enabled: true,
        requirePushedAuthorizationRequests: options.requirePar === true,
      },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, email: PERSON.email, name: PERSON.name }),
    }),
    ttl: {
      AccessToken: 600,
      RefreshToken: 3600,
      Grant: 3600,
      Session: 3600,
      Interaction: 3600,
      DeviceCode: options.deviceCodeTtl ?? 600,
    },
  });
  const counts: InteractiveProvider['counts'] = {
    token: {},
    par: 0,
    deviceAuthorization: 0,
    jwks: 0,
    userinfo: 0,
  };
  provider.use(async (ctx, next) => {
    await next();
    // oidc-provider sends no interval (clients then wait 5 s): ask for 1 s, to keep the tests short.
    if (ctx.path === '/device/auth' && typeof ctx.body === 'object' && ctx.body !== null)
      (ctx.body as Record<string, unknown>)['interval'] = 1;
    if (ctx.path === '/token') {
      const g = String(ctx.oidc?.params?.['grant_type'] ?? 'unknown');
      counts.token[g] = (counts.token[g] ?? 0) + 1;
    } else if (ctx.path === '/request') counts.par++;
    else if (ctx.path === '/device/auth') counts.deviceAuthorization++;
    else if (ctx.path === '/jwks') counts.jwks++;
    else if (ctx.path === '/me') counts.userinfo++;
  });
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    signingJwk,
    counts,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Minimal shapes of playwright-core, as used here. */
export interface Page {
  goto(url: string, o?: { timeout?: number }): Promise<unknown>;
  fill(selector: string, value: string, o?: { timeout?: number }): Promise<void>;
  click(selector: string, o?: { timeout?: number }): Promise<void>;
  waitForURL(url: string | RegExp | ((u: URL) => boolean), o?: { timeout?: number }): Promise<void>;
  textContent(selector: string, o?: { timeout?: number }): Promise<string | null>;
  waitForSelector(
    selector: string,
    o?: { timeout?: number; state?: 'attached' | 'visible' },
  ): Promise<unknown>;
  url(): string;
}
interface Browser {
  newContext(): Promise<{
    newPage(): Promise<Page>;
    route(
      url: string,
      handler: (route: {
        request(): { url(): string };
        abort(): Promise<void>;
        continue(): Promise<void>;
      }) => Promise<void>,
    ): Promise<void>;
  }>;
  close(): Promise<void>;
}

/** Generous step timeout for a loaded machine: a safety net, never an assertion. */
export const STEP_MS = 120_000;

/**
 * Launches headless Chromium (`/usr/bin/chromium`) through playwright-core, or skips the test (fails
 * under CI) when it is absent. Requests to anything but 127.0.0.1 / ::1 are aborted.
 */
export async function launchChromium(
  t: TestContext,
): Promise<{ page: Page; close(): Promise<void> } | undefined> {
  const { existsSync } = await import('node:fs');
  if (!existsSync('/usr/bin/chromium')) {
    missing(t, 'chromium (/usr/bin/chromium)', 'apt-get install -y chromium');
    return undefined;
  }
  const { chromium } = (await import('playwright-core')) as unknown as {
    chromium: { launch(o: Record<string, unknown>): Promise<Browser> };
  };
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox'],
    timeout: STEP_MS,
  });
  const context = await browser.newContext();
  await context.route('**/*', async (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === '127.0.0.1' || host === '[::1]') await route.continue();
    else await route.abort();
  });
  const page = await context.newPage();
  return { page, close: () => browser.close() };
}

/**
 * Runs `body` with a fresh Chromium page (see {@link launchChromium}) and closes the browser after; does
 * nothing when the test was skipped for want of Chromium.
 */
export async function withChromium(t: TestContext, body: (page: Page) => Promise<void>): Promise<void> {
  const browser = await launchChromium(t);
  if (browser === undefined) return;
  try {
    await body(browser.page);
  } finally {
    await browser.close();
  }
}

/** Signs in on oidc-provider's dev login page and consents (or cancels at consent with `deny`). */
export async function signInOnProviderPages(
  page: Page,
  url: string,
  options: { deny?: boolean } = {},
): Promise<void> {
  await page.goto(url, { timeout: STEP_MS });
  await page.fill('input[name=login]', PERSON.login, { timeout: STEP_MS });
  await page.fill('input[name=password]', PERSON.password, { timeout: STEP_MS });
  await page.click('button[type=submit]', { timeout: STEP_MS });
  // The consent page (wait for it: the login page has a submit button and a Cancel link too).
  await page.waitForSelector('input[name=prompt][value=consent]', { timeout: STEP_MS, state: 'attached' });
  if (options.deny === true) await page.click('text=[ Cancel ]', { timeout: STEP_MS });
  else await page.click('button[type=submit]', { timeout: STEP_MS });
}

/** A `$BROWSER` script that POSTs the URL it is given to the test's receiver. */
export async function browserHandoff(): Promise<{
  browser: string;
  next(): Promise<string>;
  close(): Promise<void>;
}> {
  const urls: string[] = [];
  const waiters: ((u: string) => void)[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      res.end('ok');
      const w = waiters.shift();
      if (w !== undefined) w(body);
      else urls.push(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const dir = mkdtempSync(join(tmpdir(), 'tw-browser-'));
  const script = join(dir, 'hand-url.mjs');
  writeFileSync(
    script,
    `#!/usr/bin/env node\nawait fetch('http://127.0.0.1:${port}/', { method: 'POST', body: process.argv[2] });\n`,
  );
  chmodSync(script, 0o755);
  return {
    browser: `${process.execPath} ${script}`,
    next: () =>
      new Promise((resolve) => {
        const u = urls.shift();
        if (u !== undefined) resolve(u);
        else waiters.push(resolve);
      }),
    async close() {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For a suite: points `$BROWSER` at a {@link browserHandoff} script before its tests and puts the old
 * value back after. `next()` resolves with the next URL tokenward's opener was given.
 */
export function browserHandoffForSuite(): { next(): Promise<string> } {
  let handoff: Awaited<ReturnType<typeof browserHandoff>> | undefined;
  const saved = process.env['BROWSER'];
  before(async () => {
    handoff = await browserHandoff();
    process.env['BROWSER'] = handoff.browser;
  });
  after(async () => {
    if (saved === undefined) delete process.env['BROWSER'];
    else process.env['BROWSER'] = saved;
    await handoff?.close();
  });
  return {
    next: () => {
      if (handoff === undefined) throw new Error('browserHandoffForSuite: used before its suite started');
      return handoff.next();
    },
  };
}
