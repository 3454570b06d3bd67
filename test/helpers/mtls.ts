/**
 * Mutual TLS fixtures (RFC 8705): a throwaway PKI made with the openssl CLI (a CA, a server certificate
 * for 127.0.0.1, CA-issued and self-signed client certificates, and the same client key as encrypted
 * PKCS#8, PKCS#1 and SEC1), and panva's oidc-provider with its `mTLS` feature behind HTTPS servers on
 * loopback that ask for client certificates, plus an API that checks certificate-bound tokens.
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import type { TokenSource } from '../../src/fetch/shared.js';
import type { TokenManager } from '../../src/manager/token-manager.js';
import type { Profile } from '../../src/profile.js';

/** How to install what {@link makePki} needs. */
export const PKI_INSTALL = 'apt-get install openssl';

/** A certificate and its key, PEM. */
export interface CertAndKey {
  cert: string;
  key: string;
}

/** The throwaway PKI. */
export interface Pki {
  /** The CA certificate (trust it with `ca`). */
  ca: string;
  /** `CN=127.0.0.1`, SAN `IP:127.0.0.1`, issued by the CA. */
  server: CertAndKey;
  /** `CN=client-1`, issued by the CA (PKCS#8 key). */
  client: CertAndKey;
  /** The same client key encrypted (PKCS#8, AES-256) with {@link Pki.passphrase}. */
  clientKeyEncrypted: string;
  /** The client key as PKCS#1 (`BEGIN RSA PRIVATE KEY`). */
  clientKeyPkcs1: string;
  passphrase: string;
  /** `CN=other-client`, issued by the CA: a certificate the provider's clients do not name. */
  other: CertAndKey;
  /** A self-signed EC client certificate with a SEC1 key (`BEGIN EC PRIVATE KEY`). */
  selfSigned: CertAndKey;
  /** The `x5t#S256` of a PEM certificate. */
  thumbprint(pem: string): string;
  /** A temporary directory for files of the test (removed by `cleanup`). */
  dir: string;
  cleanup(): void;
}

/**
 * A self-signed EC certificate valid from `notBefore` to `notAfter` (openssl's `YYYYMMDDHHMMSSZ`), made
 * with `openssl ca -selfsign` (the only way openssl 3.0 sets dates in the past); undefined when openssl is
 * missing.
 */
export function certWithDates(notBefore: string, notAfter: string): CertAndKey | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'tokenward-dates-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
  try {
    try {
      ssl('version');
    } catch {
      return undefined;
    }
    writeFileSync(
      join(dir, 'ca.cnf'),
      '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n' +
        'default_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n',
    );
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), '01\n');
    ssl(
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'req.csr',
      '-subj',
      '/CN=dated-client',
    );
    ssl(
      'ca',
      '-batch',
      '-config',
      'ca.cnf',
      '-selfsign',
      '-keyfile',
      'key.pem',
      '-in',
      'req.csr',
      '-out',
      'cert.pem',
      '-startdate',
      notBefore,
      '-enddate',
      notAfter,
    );
    return {
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds the PKI, or undefined when openssl is missing. */
export function makePki(): Pki | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'tokenward-mtls-'));
  const f = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
  const passphrase = `pass-${randomBytes(6).toString('hex')}`;
  try {
    ssl('version');
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=tokenward test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
  );
  const issue = (name: string, cn: string, ext: string) => {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
    );
    writeFileSync(f(`${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
      '-out',
      f(`${name}.pem`),
    );
    return { cert: readFileSync(f(`${name}.pem`), 'utf8'), key: readFileSync(f(`${name}.key`), 'utf8') };
  };
  const server = issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const client = issue('client', 'client-1', 'extendedKeyUsage=clientAuth\n');
  const other = issue('other', 'other-client', 'extendedKeyUsage=clientAuth\n');
  ssl(
    'pkcs8',
    '-topk8',
    '-v2',
    'aes-256-cbc',
    '-in',
    f('client.key'),
    '-passout',
    `pass:${passphrase}`,
    '-out',
    f('client-enc.key'),
  );
  ssl('rsa', '-in', f('client.key'), '-traditional', '-out', f('client-pkcs1.key'));
  ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('self.key'));
  ssl(
    'req',
    '-x509',
    '-new',
    '-key',
    f('self.key'),
    '-days',
    '2',
    '-subj',
    '/CN=self-signed-client',
    '-out',
    f('self.pem'),
  );
  return {
    ca: readFileSync(f('ca.pem'), 'utf8'),
    server,
    client,
    clientKeyEncrypted: readFileSync(f('client-enc.key'), 'utf8'),
    clientKeyPkcs1: readFileSync(f('client-pkcs1.key'), 'utf8'),
    passphrase,
    other,
    selfSigned: { cert: readFileSync(f('self.pem'), 'utf8'), key: readFileSync(f('self.key'), 'utf8') },
    thumbprint: (pem) => createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url'),
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/* Minimal shapes of the untyped `oidc-provider` package, as used here. */
interface KoaCtx {
  path: string;
  body: unknown;
  socket: TLSSocket;
}
interface ProviderInstance {
  use(mw: (ctx: KoaCtx, next: () => Promise<void>) => Promise<void>): void;
  callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
}

/** The provider's clients. */
export interface MtlsClients {
  /** `tls_client_auth`, subject `CN=client-1`, certificate-bound tokens. */
  pki: string;
  /** `self_signed_tls_client_auth` with the self-signed certificate, certificate-bound tokens. */
  selfSigned: string;
  /** `client_secret_basic`, for introspection by a resource server. */
  rs: { clientId: string; clientSecret: string };
}

/** Request counters of the provider, by endpoint and by server (plain HTTPS or the mTLS alias one). */
export interface MtlsCounts {
  /** `/token` requests on the alias server (client certificates asked for). */
  mtlsToken: number;
  /** `/token` requests on the issuer server (no client certificates). */
  plainToken: number;
  introspection: number;
}

/** A running provider. */
export interface MtlsProvider {
  /** `https://127.0.0.1:<port>`: discovery and the plain endpoints; asks for no client certificate. */
  issuer: string;
  /** `https://127.0.0.1:<port>`: the mTLS endpoint aliases; asks for a client certificate. */
  mtlsBase: string;
  clients: MtlsClients;
  counts: MtlsCounts;
  resetCounts(): void;
  /** While true, no client certificate is taken as verified (`tls_client_auth` fails: invalid_client). */
  refuse: boolean;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Starts oidc-provider with `features.mTLS` (certificate-bound access tokens, `tls_client_auth`,
 * `self_signed_tls_client_auth`) and introspection, on two HTTPS servers: the issuer's (no client
 * certificate asked for) and the alias server (asks for one, trusting the PKI's CA), named in the
 * discovery document's `mtls_endpoint_aliases`.
 */
export async function startMtlsProvider(pki: Pki): Promise<MtlsProvider> {
  const { default: Provider } = (await import('oidc-provider' as string)) as {
    default: new (issuer: string, config: Record<string, unknown>) => ProviderInstance;
  };
  const plain = createHttpsServer({ key: pki.server.key, cert: pki.server.cert });
  const mtls = createHttpsServer({
    key: pki.server.key,
    cert: pki.server.cert,
    ca: pki.ca,
    requestCert: true,
    // The provider decides (a self-signed client certificate is not from the CA).
    rejectUnauthorized: false,
  });
  const issuer = await listen(plain);
  const mtlsBase = await listen(mtls);
  const selfDer = new X509Certificate(pki.selfSigned.cert).raw.toString('base64');
  const selfJwk = new X509Certificate(pki.selfSigned.cert).publicKey.export({ format: 'jwk' });
  const rs = { clientId: 'c-rs', clientSecret: `rs-${randomBytes(12).toString('hex')}` };
  const clients: MtlsClients = { pki: 'c-mtls-pki', selfSigned: 'c-mtls-self', rs };
  const common = {
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'api:read',
  };
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const peer = (ctx: KoaCtx): X509Certificate | undefined => {
    const c =
      typeof ctx.socket.getPeerCertificate === 'function' ? ctx.socket.getPeerCertificate() : undefined;
    return c?.raw ? new X509Certificate(c.raw) : undefined;
  };
  const counts: MtlsCounts = { mtlsToken: 0, plainToken: 0, introspection: 0 };
  const out: MtlsProvider = {
    issuer,
    mtlsBase,
    clients,
    counts,
    refuse: false,
    resetCounts() {
      counts.mtlsToken = 0;
      counts.plainToken = 0;
      counts.introspection = 0;
      out.refuse = false;
    },
    async close() {
      for (const s of [plain, mtls]) {
        s.closeAllConnections();
        s.close();
      }
      await Promise.all([once(plain, 'close'), once(mtls, 'close')]);
    },
  };
  const provider = new Provider(issuer, {
    clients: [
      {
        ...common,
        client_id: clients.pki,
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: 'CN=client-1',
        tls_client_certificate_bound_access_tokens: true,
      },
      {
        ...common,
        client_id: clients.selfSigned,
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        tls_client_certificate_bound_access_tokens: true,
        jwks: { keys: [{ ...selfJwk, x5c: [selfDer] }] },
      },
      {
        ...common,
        client_id: rs.clientId,
        client_secret: rs.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...signing, kid: 'sig', alg: 'RS256', use: 'sig' }] },
    scopes: ['api:read'],
    clientAuthMethods: ['client_secret_basic', 'tls_client_auth', 'self_signed_tls_client_auth', 'none'],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        getCertificate: peer,
        certificateAuthorized: (ctx: KoaCtx) => !out.refuse && ctx.socket.authorized === true,
        certificateSubjectMatches: (ctx: KoaCtx, property: string, expected: string) =>
          property === 'tls_client_auth_subject_dn' && peer(ctx)?.subject === expected,
      },
    },
    ttl: { AccessToken: 600, ClientCredentials: 600 },
  });
  provider.use(async (ctx, next) => {
    await next();
    const onMtls = ctx.socket.localPort === Number(new URL(mtlsBase).port);
    if (ctx.path === '/token') {
      if (onMtls) counts.mtlsToken++;
      else counts.plainToken++;
    } else if (ctx.path === '/token/introspection') counts.introspection++;
    else if (
      ctx.path === '/.well-known/openid-configuration' &&
      typeof ctx.body === 'object' &&
      ctx.body !== null
    ) {
      (ctx.body as Record<string, unknown>)['mtls_endpoint_aliases'] = {
        token_endpoint: `${mtlsBase}/token`,
        revocation_endpoint: `${mtlsBase}/token/revocation`,
        introspection_endpoint: `${mtlsBase}/token/introspection`,
      };
    }
  });
  plain.on('request', provider.callback());
  mtls.on('request', provider.callback());
  return out;
}

/**
 * An HTTPS API on loopback that asks for a client certificate and accepts a Bearer token only when the
 * provider's introspection (as the resource server client `rs`) says it is active and bound to the
 * certificate presented (`cnf.x5t#S256`). Answers `{ ok: true, client_id }` or 401 with the reason.
 */
export async function startBoundApi(
  pki: Pki,
  introspectionUrl: string,
  rs: { clientId: string; clientSecret: string },
): Promise<{
  url: string;
  seen: { presented: string | undefined; status: number }[];
  close(): Promise<void>;
}> {
  const seen: { presented: string | undefined; status: number }[] = [];
  const trust = new Agent({ connect: { ca: pki.ca } });
  const server = createHttpsServer({
    key: pki.server.key,
    cert: pki.server.cert,
    ca: pki.ca,
    requestCert: true,
    rejectUnauthorized: false,
  });
  server.on('request', (req, res) => {
    void (async () => {
      const raw = (req.socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined;
      const presented = raw ? createHash('sha256').update(raw).digest('base64url') : undefined;
      const answer = (status: number, body: unknown) => {
        seen.push({ presented, status });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (token === undefined) return answer(401, { error: 'no token' });
      const basic = Buffer.from(`${rs.clientId}:${rs.clientSecret}`).toString('base64');
      const r = await request(introspectionUrl, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
        dispatcher: trust,
      });
      const info = (await r.body.json()) as {
        active?: boolean;
        client_id?: string;
        cnf?: Record<string, string>;
      };
      if (info.active !== true) return answer(401, { error: 'inactive token' });
      const bound = info.cnf?.['x5t#S256'];
      if (bound === undefined) return answer(401, { error: 'token is not certificate-bound' });
      if (bound !== presented) return answer(401, { error: 'certificate does not match the token' });
      return answer(200, { ok: true, client_id: info.client_id });
    })().catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  const url = await listen(server);
  return {
    url,
    seen,
    async close() {
      server.closeAllConnections();
      server.close();
      await Promise.all([once(server, 'close'), trust.close()]);
    },
  };
}

/**
 * A profile of the provider's `pki` client with `tls_client_auth` (scope `api:read`, memory store, no
 * retries); its `tls_cert` / `tls_key` come from the environment's `CERT` and `KEY`.
 */
export function mtlsProfile(op: MtlsProvider): Profile {
  return {
    issuer: op.issuer,
    client_id: op.clients.pki,
    auth_method: 'tls_client_auth',
    tls_cert: 'env:CERT',
    tls_key: 'env:KEY',
    scope: 'api:read',
    store: 'memory',
    retries: 0,
  };
}

/** A manager as a token source without `clientCertificate`: the integrations get no certificate from it. */
export function withoutCertificate(m: TokenManager): TokenSource {
  return { getToken: (o) => m.getToken(o), invalidate: (token) => m.invalidate(token) };
}
