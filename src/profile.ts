/**
 * The profile: everything needed to get tokens for one API identity. The same shape (snake_case keys) is
 * read from the TOML config file and accepted by the library, so a profile written once works in both.
 *
 * String values that hold secrets may be references, resolved when the profile is opened:
 * `env:NAME`, `file:/path` (trimmed), `cmd:some command` (its stdout, trimmed). A literal value is used as is.
 * @module
 */

import type { AcronisKeys } from './providers/acronis.descriptor.js';
import type { CylanceKeys } from './providers/cylance.descriptor.js';
import type { InteractiveKeys } from './providers/interactive.keys.js';
import type { MsxKeys } from './providers/msx.descriptor.js';
import type { RdpKeys } from './providers/rdp.descriptor.js';
import type { ProviderName } from './providers/registry.js';
import type { ExchangeKeys } from './subject/keys.js';

/**
 * The built-in providers (from the provider registry, `src/providers/registry.ts`). `oauth2` is a plain
 * OAuth 2.0 token endpoint; `oidc` discovers it from `issuer`; the others are vendor presets.
 */
export type { PresetName, ProviderName } from './providers/registry.js';

/** Client authentication methods (RFC 6749 §2.3, OpenID Connect Core §9). */
export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_jwt'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth'
  | 'none';

/** What `refresh_params` may name. */
export type RefreshParam = 'resource' | 'audience' | 'scope' | 'params';

/** Primary grants of the generic providers. */
export type GrantName =
  | 'client_credentials'
  | 'password'
  | 'refresh_token'
  | 'authorization_code'
  | 'device_code'
  | 'token_exchange'
  | 'jwt_bearer';

/** Store kinds. */
export type StoreKind = 'file' | 'memory' | 'postgres' | 'redis';

/**
 * A profile, as written in the config file or passed to the library: the {@link CommonProfileKeys}
 * and, per vendor preset, the keys its provider module declares (one line each).
 */
export interface Profile
  extends CommonProfileKeys,
    InteractiveKeys,
    ExchangeKeys,
    CylanceKeys,
    MsxKeys,
    AcronisKeys,
    RdpKeys {}

/** The keys every provider may read (the generic OAuth 2.0 ones, the store, lifetimes, HTTP, origins). */
export interface CommonProfileKeys {
  /** Profile name (the TOML table name). */
  name?: string;
  /** Which provider builds the token client. Default `oauth2`, or `oidc` when only `issuer` is given. */
  provider?: ProviderName;
  /**
   * Primary grant for `oauth2`/`oidc`; `authorization_code` and `device_code` are interactive (a person
   * signs in with `tokenward login`). Default `client_credentials`, or `password` when `username` is set.
   * `token_exchange` (RFC 8693) and `jwt_bearer` (RFC 7523) take their subject from the `subject_*` keys.
   */
  grant?: GrantName;
  /** Token endpoint URL. */
  token_url?: string;
  /** Issuer URL for OpenID Connect / RFC 8414 discovery, instead of `token_url`. */
  issuer?: string;
  /** Revocation endpoint (RFC 7009), when not discovered. */
  revocation_url?: string;
  /** Introspection endpoint (RFC 7662), when not discovered. */
  introspection_url?: string;
  client_id?: string;
  /** Secret (may be a reference). */
  client_secret?: string;
  /** Default `client_secret_basic` when a secret is set, else `none`. */
  auth_method?: ClientAuthMethod;
  /** For `private_key_jwt`: a PEM (PKCS#8) or a JWK as JSON (may be a reference). */
  private_key?: string;
  /** JWS algorithm for JWT client authentication. Default `RS256` for keys, `HS256` for secrets. */
  signing_alg?: string;
  /** `kid` header for `private_key_jwt`. */
  key_id?: string;
  /**
   * Client certificate (PEM, may be a reference such as `file:/etc/pki/client.pem`; a chain may follow
   * it): presented on every TLS connection of this profile (token, revocation, introspection, and the
   * API calls of the request integrations to its allowed origins). Needed by `tls_client_auth` and
   * `self_signed_tls_client_auth`, and for certificate-bound access tokens (RFC 8705).
   */
  tls_cert?: string;
  /** The client certificate's private key: PEM, PKCS#8 or PKCS#1/SEC1, maybe encrypted. Secret. */
  tls_key?: string;
  /** Passphrase of an encrypted `tls_key`. Secret. */
  tls_key_passphrase?: string;
  /** Resource owner for the password grant. */
  username?: string;
  /** Resource owner password (may be a reference). */
  password?: string;
  /** For `grant = "refresh_token"`: the refresh token to start from (may be a reference). */
  refresh_token?: string;
  /** Scopes: a space-separated string or a list. */
  scope?: string | string[];
  audience?: string;
  /** Resource indicator(s) (RFC 8707): one URI or a list, each sent as its own `resource` field. */
  resource?: string | string[];
  /**
   * What is sent again with a refresh: a list of `resource`, `audience`, `scope`, `params`; `true` for
   * all four; `false` (the default) for none but the refresh token and client authentication.
   */
  refresh_params?: boolean | RefreshParam[];
  /** Extra form parameters sent with the primary grant. */
  params?: Record<string, string>;

  /** Where tokens are kept. Default `file`. */
  store?: StoreKind;
  /** Connection URL for `postgres`/`redis`. */
  store_url?: string;
  /** Directory for the `file` store (default: the platform cache dir, or `TOKENWARD_CACHE_DIR`). */
  cache_dir?: string;
  /** Key prefix (Redis) or table name (PostgreSQL). */
  store_prefix?: string;
  /** Fall back to memory, with a warning, when the shared store is unreachable. Default false. */
  store_fallback_memory?: boolean;

  /** Safety margin before expiry, seconds. Default 10. */
  skew_seconds?: number;
  /** Fraction of the lifetime after which to refresh in the background. Default 0.8. */
  eager_refresh?: number;
  /** Lifetime assumed when the server does not say, seconds. Default 300 (presets set their own). */
  default_lifetime?: number;
  /** Longest lifetime believed, seconds. Default 604800 (7 days). */
  max_lifetime?: number;
  /** Accepted token types besides Bearer. */
  token_types?: string[];
  /**
   * Sender-constrained tokens (DPoP, RFC 9449): `true` (ES256) or the key's algorithm (`ES256`, `PS256`,
   * `EdDSA`…). The key pair is kept in the profile's store; every token request and every request of
   * the integrations carries a proof, and the token is sent as `Authorization: DPoP <token>`.
   * `oauth2` and `oidc` providers only.
   */
  dpop?: boolean | string;

  /** Request timeout, seconds. Default 10. */
  timeout?: number;
  /** Retries for network errors, 5xx and 429. Default 2. */
  retries?: number;
  /** PEM file with CA certificates to trust for this profile. */
  ca_file?: string;
  /** Turns TLS verification off for this profile. Loudly warned about; never the default. */
  insecure_skip_tls_verify?: boolean;
  /**
   * Proxy for this profile's requests, instead of `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`: an `http://`
   * or `https://` URL (`http://user:pw@proxy:3128`; may be a reference), or `"direct"` for none.
   * `NO_PROXY` applies to it too.
   */
  proxy?: string;

  /** Origin(s) of the API this token is for: `authFetch` attaches it only to these. */
  api_base_url?: string;
  /** More origins allowed to receive the token. */
  allowed_origins?: string[];

  // ----- credential helpers (`tokenward git-credential`, `docker-credential-tokenward`) -----
  /** git-credential: the username given to git with the token. Default `x-access-token`. */
  git_username?: string;
  /** docker-credential-tokenward: the registry hosts (`host[:port]`) this profile's token is for. */
  docker_registries?: string[];
  /** docker-credential-tokenward: the username given to docker with the token. Default `oauth2accesstoken`. */
  docker_username?: string;
}
