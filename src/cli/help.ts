/**
 * Help texts: the overview (`tokenward --help`) and one per command (`tokenward COMMAND --help`).
 * Plain strings, but for the list of providers in `profiles --help`, which the provider registry gives
 * (its descriptors are import-light: no token client is loaded to print help).
 * @module
 */

import { providerDescriptors } from '../providers/registry.js';

const GLOBAL = `Global options:
  --config FILE    config file (default: $TOKENWARD_CONFIG, else the platform config dir,
                   e.g. ~/.config/tokenward/config.toml)
  -v, --verbose    show each HTTP exchange on stderr, secrets and tokens redacted
  --no-color       no colours (also when NO_COLOR is set or stderr is not a terminal)
  -h, --help       this help`;

const EXIT_CODES = `Exit codes:
  0  ok
  1  other failure
  2  usage or configuration error
  3  rejected by the token endpoint (or an unusable token response)
  4  network failure (refused, DNS, TLS, timeout)
  5  token store failure or lock timeout
  6  request: the API answered with a non-2xx status
  7  token endpoint unavailable (502/503/504/429 after the retries, or a long Retry-After)
  8  sign-in required: run tokenward login <profile> (interactive profiles)
  141  stdout closed by its reader (EPIPE); the work was finished first
  exec passes through the command's exit code (127: not found, 126: not executable)`;

/** The overview. */
export const OVERVIEW = `tokenward — get, keep and use OAuth access tokens from the shell

Usage: tokenward <command> [options]

Commands:
  token <profile>            print a valid access token (cached, refreshed as needed)
  inspect [TOKEN|-|profile]  decode a JWT (no signature check)
  request <profile> [METHOD] URL   an authenticated HTTP request (401 → new token, retry once)
  exec <profile> -- CMD ...  run a command with the token in $ACCESS_TOKEN
  status                     profiles and their cached tokens
  login <profile>            sign in (browser or device code) for an interactive profile
  logout <profile>           revoke (where supported) and delete the cached token
  introspect <profile> [TOKEN|-]   ask the server about a token (RFC 7662)
  profiles list|show|add|remove   manage profiles in the config file
  secret set|get|rm|list [NAME]   secrets for secret:NAME (OS keyring, else an encrypted local store)
  sandbox [--port N]         run local emulators of the seed vendors; prints a config on stdout
  demo                       run every seed flow against the sandbox and report
  completion bash|zsh|fish   print a shell completion script
  kubectl-credential <profile>   kubectl exec credential plugin: prints an ExecCredential
  git-credential <profile> get|store|erase   git credential helper
  docker-credential get|list|store|erase     docker credential helper (docker-credential-tokenward)

Examples:
  TOKEN=$(tokenward token rdp)
  tokenward request acronis GET https://eu-cloud.acronis.com/api/2/clients/$CLIENT_ID
  tokenward exec msx -- ./deploy.sh
  tokenward demo

${GLOBAL}
  -V, --version    print the version

${EXIT_CODES}

Run 'tokenward <command> --help' for a command's options and examples.`;

/** `profiles --help`; `{providers}` is replaced by {@link providersHelp}. */
const PROFILES_HELP = `Usage: tokenward profiles <list|show|add|remove> ...

  profiles list [--long|--json]           profile names, one per line
  profiles show <name> [--json]           the profile with [defaults] merged; literal secrets redacted
  profiles add <name> key=value... [--force] [--secret-stdin KEY]
                                          add (or with --force replace) a profile; secret keys take
                                          references only (env:NAME, file:/path, cmd:..., keyring:NAME,
                                          secret:NAME), or a literal read from stdin with --secret-stdin KEY
                                          (KEY: a secret key, params.NAME of a secret, store_url, proxy)
  profiles remove <name>                  remove a profile from the config file

Lists take comma-separated values (scopes=a,b; resource=URI,URI); params take params.NAME=value.

{providers}

Options:
  -l, --long           list: provider, store and default marker per profile
  --json               list, show: print JSON
  --force              add: replace a profile of the same name
  --secret-stdin KEY   add: read KEY's literal value from stdin (never argv)

Examples:
  tokenward profiles add rdp provider=rdp base_url=https://api.example.com \\
      client_id=env:RDP_APP_KEY username=env:RDP_USER password=keyring:rdp scope=trapi
  printf %s "$SECRET" | tokenward profiles add acme token_url=https://idp.example.com/token \\
      client_id=acme --secret-stdin client_secret
  tokenward profiles show rdp
  tokenward profiles remove rdp

${GLOBAL}`;

/** Words of `text` in lines of at most 100 characters, each after `indent`. */
function wrap(text: string, indent: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > 100) {
      out.push(indent + line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(indent + line);
  return out;
}

/**
 * The providers, for `profiles --help`: each name, what it talks to, the keys it needs and the keys
 * it reads beyond the common ones — from the provider registry.
 */
export function providersHelp(): string {
  const lines = ['Providers (provider=NAME; default oauth2, or oidc when only issuer is set):'];
  const descriptors = providerDescriptors();
  const w = Math.max(...descriptors.map((d) => d.name.length));
  const indent = ' '.repeat(w + 4);
  for (const d of descriptors) {
    lines.push(`  ${d.name.padEnd(w)}  ${d.summary}`);
    lines.push(...wrap(`needs ${d.required.join(', ')}`, indent));
    const own = Object.keys(d.keys);
    if (own.length > 0) lines.push(...wrap(`own keys ${own.join(', ')}`, indent));
  }
  return lines.join('\n');
}

/** Per-command help. */
export const HELP: Record<string, string> = {
  token: `Usage: tokenward token [profile] [options]

Prints the profile's access token and a newline to stdout — nothing else. A cached token is used while
it is valid; otherwise it is refreshed (refresh grant when possible) or obtained anew.
Without a profile: $TOKENWARD_PROFILE, then default_profile, then the only profile.

Options:
  --json           print the token object: access_token, token_type, expires_at, expires_in, scope
  --show-refresh   with --json: include the refresh token
  --header         print "Authorization: Bearer <token>" ("DPoP <token>" for a profile with dpop)
  --dpop-for METHOD URL
                   with --header, for a profile with dpop: also print "DPoP: <proof>", the proof for
                   one request of METHOD to URL (use it once, at once)
  --force          ignore the cache: get a new token from the server
  --min-ttl DUR    get a new token when less than DUR remains (e.g. 60s, 5m)

Examples:
  TOKEN=$(tokenward token rdp)
  curl -H "$(tokenward token rdp --header)" https://api.example.com/data
  tokenward token acronis --json --min-ttl 5m
  tokenward token bound --header --dpop-for GET https://api.example.com/data

${GLOBAL}`,

  inspect: `Usage: tokenward inspect [TOKEN | - | profile] [options]

Decodes a JWT: header, claims, and issued/expires times (local time and relative). The signature is
NOT verified. With "-" or no argument the token is read from stdin; with a profile name, that
profile's cached token is inspected (nothing is fetched).

Options:
  --json           print {header, claims, issued_at, expires_at, expires_in, verified: false}

Examples:
  tokenward token msx | tokenward inspect
  tokenward inspect msx
  tokenward inspect eyJhbGciOi...

${GLOBAL}`,

  request: `Usage: tokenward request <profile> [METHOD] URL [options]

Sends an HTTP request with the profile's token. On a 401 the token is invalidated and the request is
retried once with a new one. The body goes to stdout (pretty-printed JSON on a terminal); -v shows
each attempt and the status on stderr; a status outside 2xx is noted on stderr and exits 6.
The token is only sent to the profile's API origins (api_base_url, else the presets' base_url or
datacenter_url, plus allowed_origins); a profile that names none sends it to the origin of the URL
given here. Redirects are not followed. Time limit: the profile's timeout, else 30 s.

Options:
  -d, --data DATA      request body: JSON text, @file, or @- for stdin (method defaults to POST)
  -H, --header 'K: V'  extra request header (repeatable)

Examples:
  tokenward request acronis https://dc.example.com/api/2/clients/$CLIENT_ID
  tokenward request msx POST https://msx.example.com/idm/api/v8/tenants --data @tenant.json
  tokenward request rdp https://api.example.com/data/x -H 'Accept: application/json' -v

${GLOBAL}`,

  exec: `Usage: tokenward exec <profile> [--env NAME] [--keep-secret-env] -- command [args...]

Runs a command with the access token in an environment variable (default ACCESS_TOKEN). The token is
not put on the command line. The command's exit code is passed through. The variables the profile's
secrets come from (client_secret = "env:NAME", …) and TOKENWARD_CACHE_KEY are removed from the
command's environment.

Options:
  --env NAME           the variable to set (default ACCESS_TOKEN); PATH, HOME, LD_*, NODE_OPTIONS and
                       other variables the command needs are refused
  --keep-secret-env    pass the secrets' variables and TOKENWARD_CACHE_KEY on to the command

Examples:
  tokenward exec rdp -- sh -c 'curl -H "Authorization: Bearer $ACCESS_TOKEN" https://api.example.com/x'
  tokenward exec msx --env MSX_TOKEN -- ./deploy.sh

${GLOBAL}`,

  status: `Usage: tokenward status [options]

A table of the configured profiles and their cached tokens: store, expires in, refresh token, last
renewal with the renewal and failure counts of every process sharing the store, last error. Secrets
are not resolved and nothing is fetched.

Options:
  --json           print the table as JSON
  -w, --watch      show it again every interval until Ctrl-C: redrawn in place on a terminal,
                   repeated otherwise (one JSON array per line with --json)
  -n, --interval D time between refreshes with --watch (100ms to 1h; default 2s)

Examples:
  tokenward status
  tokenward status --json | jq '.[] | select(.valid)'
  tokenward status --watch -n 5s

${GLOBAL}`,

  login: `Usage: tokenward login <profile> [--device] [--no-browser]

Signs a person in with the profile's interactive grant and stores the tokens in the profile's store;
later token, request and exec calls serve and refresh them. grant = "authorization_code": the
authorization URL is printed on stderr and opened in the browser ($BROWSER, else xdg-open / open /
start); a listener on 127.0.0.1 receives the redirect (PKCE S256, state and nonce checked). grant =
"device_code" (or --device): a code to enter on the server's verification page is printed, and
tokenward polls until it is approved. An ID token is validated before anything is stored.

Options:
  --device         use the device flow (the server must offer a device authorization endpoint)
  --no-browser     only print the authorization URL (open it yourself, on any machine that can
                   reach the redirect's 127.0.0.1 port)

Examples:
  tokenward login me
  tokenward login me --device

${GLOBAL}`,

  introspect: `Usage: tokenward introspect <profile> [TOKEN | -] [options]

Asks the profile's authorization server about a token (RFC 7662 introspection), the profile's client
authenticating with its configured method (over its client certificate with mutual TLS). Default:
the profile's access token (the cached one, or a new one); "-" reads the token from stdin. The
endpoint is introspection_url, else the discovered introspection_endpoint (its mTLS alias with
tls_cert). Prints active, sub, scope, exp, client_id and cnf (a certificate-bound token's x5t#S256).

Options:
  --json           print the server's answer as JSON

Examples:
  tokenward introspect corp
  tokenward introspect corp --json | jq .cnf
  echo "$TOKEN" | tokenward introspect corp -

${GLOBAL}`,

  logout: `Usage: tokenward logout <profile>

Revokes the token at the server where it supports revocation (RFC 7009), then deletes it from the
store.

Examples:
  tokenward logout rdp

${GLOBAL}`,

  get profiles() {
    return PROFILES_HELP.replace('{providers}', providersHelp());
  },

  secret: `Usage: tokenward secret <set|get|rm|list> [NAME] [options]

Keeps secrets that profiles use as secret:NAME (client_secret = "secret:acme"). They go to the OS
keyring when one answers (secret-tool/libsecret on Linux, security on macOS), else to a local store
under the config directory: one file per secret, 0600 in a 0700 directory, encrypted with the token
cache's key (TOKENWARD_CACHE_KEY, else the key file). Each command says on stderr which one it used.

  secret set NAME      read the value from a prompt that does not echo (on a terminal), else from
                       stdin (at most 64 KiB; one trailing newline removed). Never from the command
                       line: a value argument is refused.
  secret get NAME      print the value on stdout, exactly (no newline added). On a terminal it is not
                       printed unless --show is given.
  secret rm NAME       delete it (auto: from the keyring and the local store)
  secret list          the names, one per line (never the values)

NAME: a letter or digit, then up to 127 letters, digits, "_", "." or "-". The backend: --backend, else
$TOKENWARD_SECRET_BACKEND, else auto (the keyring when it answers, else the local store; get and
secret:NAME look in the keyring, then in the local store).

Options:
  --backend B      keyring, local or auto (default: $TOKENWARD_SECRET_BACKEND, else auto)
  --show           get: print the value even when stdout is a terminal

Examples:
  tokenward secret set acme                      # prompts; or: printf %s "$S" | tokenward secret set acme
  tokenward profiles add acme token_url=https://idp.example.com/token client_id=acme client_secret=secret:acme
  tokenward secret get acme | wc -c
  tokenward secret list --backend local
  tokenward secret rm acme

${GLOBAL}`,

  sandbox: `Usage: tokenward sandbox [--port N]

Runs local emulators of the seed vendors (Cylance, MSX, Acronis, RDP) and an OpenID Connect server
for people (issuer <url>/oidc, with a sign-in page and a device verification page) on 127.0.0.1 in
the foreground until Ctrl-C / SIGTERM. Once listening it prints to stdout a config with one profile
per vendor (cylance, msx, acronis, rdp) and one per interactive grant (oidc: authorization code in a
browser; oidc-device: device code) pointing at it, with the sandbox's test credentials and, in a
comment, the test user and password to sign in with; its URL and other messages go to stderr.
Counters of what it served: GET <url>/_sandbox/stats.

Options:
  -p, --port N     port to listen on (default 0: a free port)

Examples:
  tokenward sandbox --port 0 > sandbox.toml &
  tokenward token rdp --config sandbox.toml
  tokenward login oidc-device --config sandbox.toml
  kill %1

${GLOBAL}`,

  demo: `Usage: tokenward demo

Starts the sandbox in-process and runs every seed flow through the real code paths: a token per
vendor, reuse from memory and from the file store, each seed's API call (MSX tenants, Acronis client,
Cylance devices, RDP pricing events), expiry and refresh (RDP's rotating refresh token, Acronis's
expires_on), and a 401 answered by one renewal and one retry. Prints a short report on stdout; exits 0
when everything worked (1 when a step failed). -v shows every token request, redacted.

Examples:
  npx tokenward demo

${GLOBAL}`,

  completion: `Usage: tokenward completion <bash|zsh|fish>

Prints a completion script (commands, options and profile names).

Examples:
  source <(tokenward completion bash)
  tokenward completion zsh > "\${fpath[1]}/_tokenward"
  tokenward completion fish > ~/.config/fish/completions/tokenward.fish

${GLOBAL}`,

  'kubectl-credential': `Usage: tokenward kubectl-credential [profile]

A kubectl exec credential plugin (users[].user.exec in a kubeconfig). Prints an ExecCredential with the
profile's token and its expiry (status.token, status.expirationTimestamp) in the API version kubectl
asks for in KUBERNETES_EXEC_INFO: client.authentication.k8s.io/v1 or v1beta1 (v1beta1 when the
variable is unset). With provideClusterInfo: true, a cluster server outside the profile's API origins
(when it names any) is refused. On any failure: a message on stderr, nothing on stdout, exit non-zero.

Examples:
  tokenward kubectl-credential k8s
  kubectl config set-credentials tw --exec-api-version=client.authentication.k8s.io/v1 \
      --exec-command=tokenward --exec-arg=kubectl-credential --exec-arg=k8s \
      --exec-interactive-mode=Never

${GLOBAL}`,

  'git-credential': `Usage: tokenward git-credential <profile> get|store|erase

A git credential helper. get answers username (the profile's git_username, default x-access-token),
password (the token) and password_expiry_utc; store does nothing; erase (git's word that the server
refused the token) renews the token once. The token goes only to the profile's API origins
(api_base_url, allowed_origins): git asking for another protocol://host gets nothing, with a note on
stderr. On a failure: a message on stderr, nothing on stdout, exit non-zero (git then goes on
without it).

Examples:
  git config --global credential.https://git.example.com.helper '!tokenward git-credential gitlab'
  git config --global credential.https://git.example.com.useHttpPath false

${GLOBAL}`,

  'docker-credential': `Usage: docker-credential-tokenward get|list|store|erase
       tokenward docker-credential get|list|store|erase

A docker credential helper (credHelpers in ~/.docker/config.json). get reads the registry on stdin and
answers {"ServerURL","Username","Secret"} with the token of the profile whose docker_registries lists
that host (Username: docker_username, default oauth2accesstoken); a registry no profile lists is
docker's "credentials not found" (exit 1). list prints {"registry": "username"} for the mapped
registries. store and erase are refused (exit 2). On a failure: a message on stderr, nothing on
stdout, exit non-zero.

Examples:
  echo registry.example.com | docker-credential-tokenward get
  docker-credential-tokenward list

${GLOBAL}`,
};

/** The command names, in help order. */
export const COMMAND_NAMES = Object.keys(HELP);
