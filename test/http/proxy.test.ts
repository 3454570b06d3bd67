/** Which proxy a request goes through: curl's environment rules, NO_PROXY, the loopback rule, `proxy`. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { mayProxy, proxyFor } from '../../src/http/proxy.js';

const P = 'http://proxy.corp.example:3128';
const LOCAL = 'http://127.0.0.1:3128';

function via(url: string, env: Record<string, string>, proxy?: string): string | undefined {
  const r = proxyFor(new URL(url), { env, proxy });
  return r === undefined ? undefined : `${r.shown} ${r.source}`;
}

describe('proxyFor', () => {
  it('https targets: https_proxy, then HTTPS_PROXY (lower case wins), then all_proxy / ALL_PROXY', () => {
    assert.equal(via('https://api.example.com/', { HTTPS_PROXY: P }), `${P} HTTPS_PROXY`);
    assert.equal(
      via('https://api.example.com/', { HTTPS_PROXY: 'http://upper:1', https_proxy: P }),
      `${P} https_proxy`,
    );
    assert.equal(via('https://api.example.com/', { ALL_PROXY: P }), `${P} ALL_PROXY`);
    assert.equal(
      via('https://api.example.com/', { all_proxy: P, ALL_PROXY: 'http://x:1' }),
      `${P} all_proxy`,
    );
    assert.equal(
      via('https://api.example.com/', { http_proxy: P }),
      undefined,
      'http_proxy is for http targets',
    );
    assert.equal(via('https://api.example.com/', { HTTPS_PROXY: '  ' }), undefined, 'blank is unset');
  });

  it('http targets: only the lower-case http_proxy (an upper-case HTTP_PROXY is ignored, as curl does)', () => {
    assert.equal(via('http://127.0.0.1:8080/', { http_proxy: LOCAL }), `${LOCAL} http_proxy`);
    assert.equal(via('http://127.0.0.1:8080/', { HTTP_PROXY: LOCAL }), undefined);
    assert.equal(via('http://127.0.0.1:8080/', { HTTPS_PROXY: LOCAL }), undefined);
    assert.equal(via('http://127.0.0.1:8080/', { ALL_PROXY: LOCAL }), `${LOCAL} ALL_PROXY`);
  });

  it('NO_PROXY: *, names and their subdomains, leading dots, ports, IP addresses and CIDR blocks', () => {
    const cases: Array<[string, string, boolean]> = [
      ['*', 'https://api.example.com/', false],
      ['example.com', 'https://api.example.com/', false],
      ['example.com', 'https://example.com/', false],
      ['example.com', 'https://notexample.com/', true],
      ['.example.com', 'https://api.example.com/', false],
      ['*.example.com', 'https://api.example.com/', false],
      ['api.example.com:443', 'https://api.example.com/', false],
      ['api.example.com:8443', 'https://api.example.com/', true],
      ['api.example.com:8443', 'https://api.example.com:8443/', false],
      ['other.org, 10.1.2.3', 'https://10.1.2.3/', false],
      ['10.0.0.0/8', 'https://10.200.0.1/', false],
      ['10.0.0.0/8', 'https://11.0.0.1/', true],
      ['fd00::/8', 'https://[fd12::1]/', false],
      ['[fd12::1]:443', 'https://[fd12::1]/', false],
      ['API.Example.COM', 'https://api.example.com./', false],
      ['', 'https://api.example.com/', true],
    ];
    for (const [noProxy, url, proxied] of cases) {
      assert.equal(
        via(url, { HTTPS_PROXY: P, NO_PROXY: noProxy }) !== undefined,
        proxied,
        `${noProxy} / ${url}`,
      );
    }
    // lower case wins, even when it excludes nothing the upper case would
    assert.equal(
      via('https://api.example.com/', { HTTPS_PROXY: P, no_proxy: 'other.org', NO_PROXY: '*' }),
      `${P} HTTPS_PROXY`,
    );
  });

  it('a loopback target goes through a proxy only when the proxy is on loopback too', () => {
    for (const target of [
      'https://127.0.0.1:9443/',
      'https://localhost:9443/',
      'https://[::1]:9443/',
      'https://127.9.9.9/',
    ]) {
      assert.equal(via(target, { HTTPS_PROXY: P }), undefined, target);
      assert.equal(via(target, { HTTPS_PROXY: LOCAL }), `${LOCAL} HTTPS_PROXY`, target);
      assert.equal(via(target, {}, P), undefined, `${target} with proxy`);
    }
  });

  it('the profile proxy overrides the environment; "direct" turns proxies off; NO_PROXY applies to both', () => {
    const env = { HTTPS_PROXY: 'http://env-proxy:1', NO_PROXY: 'internal.example' };
    assert.equal(via('https://api.example.com/', env, P), `${P} proxy`);
    assert.equal(via('https://api.example.com/', env, 'direct'), undefined);
    assert.equal(via('https://svc.internal.example/', env, P), undefined);
    assert.equal(mayProxy({ env, proxy: 'direct' }), false);
    assert.equal(mayProxy({ env: {} }), false);
    assert.equal(mayProxy({ env: { HTTP_PROXY: P } }), false);
    assert.equal(mayProxy({ env: { ALL_PROXY: P } }), true);
    assert.equal(mayProxy({ env: {}, proxy: P }), true);
  });

  it('host:port is read as http://; credentials are kept for use and never shown', () => {
    const r = proxyFor(new URL('https://api.example.com/'), {
      env: { HTTPS_PROXY: 'proxy.corp.example:3128' },
    });
    assert.equal(r?.shown, 'http://proxy.corp.example:3128');
    const c = proxyFor(new URL('https://api.example.com/'), {
      env: {},
      proxy: 'https://u:s%40cret@proxy:8443',
    });
    assert.equal(c?.shown, 'https://proxy:8443');
    assert.equal(c?.uri, 'https://u:s%40cret@proxy:8443/');
  });

  it('a proxy that is not http(s) is a ConfigError naming its source, without the credentials', () => {
    assert.throws(
      () =>
        proxyFor(new URL('https://api.example.com/'), { env: { https_proxy: 'socks5://u:hunter22@h:1080' } }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'https_proxy' &&
        /socks5:/.test(e.message) &&
        !/hunter22/.test(e.message),
    );
    assert.throws(
      () => proxyFor(new URL('https://api.example.com/'), { env: {}, proxy: 'http://' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'proxy',
    );
  });
});
