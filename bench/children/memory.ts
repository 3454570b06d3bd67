/**
 * Memory worker (figure 6), run with `--expose-gc`: holds COUNT cached tokens one way and prints, as JSON,
 * the RSS growth and the heap the cache retains (what dropping it frees). argv[2]: the variant, argv[3]: the count.
 * - `map`: the floor — a Map of cache key → { accessToken, expiresAt } (the strings a cache must keep);
 * - `store`: a MemoryStore holding the entries a TokenManager writes (parsed Token with its raw response,
 *   and references to the tenant's identity object and profile name, which its manager and token client
 *   hold anyway), the redaction registry emptied afterwards — the store's own cost;
 * - `store-registry`: the same with the registry left as built (every parsed token stays registered);
 * - `store-own-identity`: as `store`, but each entry with an identity object and profile name of its own,
 *   built for it and counted (how this figure measured the store before);
 * - `managers`: one TokenManager per tenant over one shared MemoryStore, each warmed by one getToken()
 *   (the multi-tenant shape), registry emptied;
 * - `abort-controllers`: one AbortController's signal per tenant, nothing else (what a manager's own
 *   controller costs, for the notes).
 *
 * The cache keys, and the tenants' identity objects and profile names, are the tenants' configuration:
 * built before the first reading and not counted (except by `store-own-identity`).
 */

import { TokenManager } from '../../src/manager/token-manager.js';
import { clearRegisteredSecrets } from '../../src/redact.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { storeKey } from '../../src/stores/store-key.js';
import { parseTokenResponse, type Token } from '../../src/token.js';
import type { TokenClient } from '../../src/token-client.js';
import { tenantIdentity, tokenResponseText } from '../lib/tokens.js';

const variant = process.argv[2] ?? 'map';
const count = Number(process.argv[3] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage();
}

/** What the cache holds; emptied for the third reading. */
const held: unknown[] = [];
// The inputs (response texts, as received) exist at both readings, so only what the cache keeps is
// counted (JSON.parse copies the token strings out of them).
const texts: string[] = Array.from({ length: count }, (_, i) => tokenResponseText(i));
const keys = Array.from({ length: count }, (_, i) => storeKey(`tenant-${i}`, tenantIdentity(i)));
const identities = Array.from({ length: count }, (_, i) => tenantIdentity(i));
const profiles = Array.from({ length: count }, (_, i) => `tenant-${i}`);
let payload = 0;

/**
 * Builds the cache into `held` (never returned: a suspended async frame may keep what passes through its
 * registers, which would keep the cache alive after it is dropped).
 */
async function build(now: number): Promise<void> {
  if (variant === 'map') {
    const map = new Map<string, { accessToken: string; expiresAt: number }>();
    for (let i = 0; i < count; i++) {
      const body = JSON.parse(texts[i]!) as { access_token: string; expires_in: number };
      payload += body.access_token.length;
      map.set(keys[i]!, { accessToken: body.access_token, expiresAt: now + body.expires_in * 1000 });
    }
    held.push(map);
  } else if (variant === 'store' || variant === 'store-registry' || variant === 'store-own-identity') {
    const store = new MemoryStore();
    const own = variant === 'store-own-identity';
    for (let i = 0; i < count; i++) {
      const token = parseTokenResponse(JSON.parse(texts[i]!), { url: identities[i]!.token_url!, now });
      payload += token.accessToken.length;
      await store.set({
        v: 1,
        key: keys[i]!,
        profile: own ? `tenant-${i}` : profiles[i]!,
        identity: own ? tenantIdentity(i) : identities[i]!,
        token,
        updatedAt: now,
      });
    }
    if (variant !== 'store-registry') clearRegisteredSecrets();
    held.push(store);
  } else if (variant === 'managers') {
    const store = new MemoryStore();
    const managers: TokenManager[] = [];
    for (let i = 0; i < count; i++) {
      const text = texts[i]!;
      const identity = identities[i]!;
      const client: TokenClient = {
        identity,
        fetchToken: async (ctx) =>
          parseTokenResponse(JSON.parse(text), { url: identity.token_url!, now: ctx.now() }),
      };
      const m = new TokenManager({ client, key: keys[i]!, store, profile: profiles[i]! });
      const t: Token = await m.getToken();
      payload += t.accessToken.length;
      managers.push(m);
    }
    clearRegisteredSecrets();
    held.push(store, managers);
  } else if (variant === 'abort-controllers') {
    // What one AbortController (and its signal, as a manager reads it) costs, per tenant: for the notes.
    const controllers: AbortSignal[] = [];
    for (let i = 0; i < count; i++) controllers.push(new AbortController().signal);
    held.push(controllers);
  } else {
    throw new Error(`unknown variant ${variant}`);
  }
}

const before = await settle();
await build(Date.now());
const after = await settle();
// The heap a cache retains is what dropping it frees: both readings are taken in the same state, after
// full collections, which the growth from `before` is not (garbage of the build can survive into it).
held.length = 0;
if (variant === 'store-registry') clearRegisteredSecrets(); // the registry is the module's, not the store's
const dropped = await settle();
process.stdout.write(
  `${JSON.stringify({
    variant,
    count,
    payloadBytes: payload,
    rss: after.rss - before.rss,
    heapUsed: after.heapUsed - dropped.heapUsed,
    heapGrowth: after.heapUsed - before.heapUsed,
    external: after.external - before.external,
    inputs: texts.length,
  })}\n`,
);
