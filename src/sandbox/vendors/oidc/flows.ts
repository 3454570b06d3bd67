/**
 * The OpenID Connect server's front channel: the authorize endpoint (code flow with PKCE S256), the
 * sign-in and consent forms, and the device verification page. A request whose client or redirect URI
 * cannot be trusted gets an error page, never a redirect; every other outcome goes back to the exact
 * registered redirect URI with `state` and `iss` (RFC 9207).
 * @module
 */

import { parseForm, type Reply, type SandboxRequest } from '../../core/http.js';
import type { VendorContext } from '../../core/vendor.js';
import {
  CODE_MS,
  clients,
  handle,
  INTERACTION_MS,
  type Interaction,
  normalizeUserCode,
  type OidcStore,
  parseScopes,
  person,
  pkceShaped,
  redirectAllowed,
} from './model.js';
import { consentPage, deviceDonePage, devicePage, errorPage, signInPage } from './pages.js';
import { issuerOf } from './token.js';

/** A redirect back to the client: `params` plus `iss` on the exact redirect URI. */
function backToClient(
  issuer: string,
  redirectUri: string,
  params: Record<string, string | undefined>,
): Reply {
  const u = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  u.searchParams.set('iss', issuer);
  return {
    status: 303,
    headers: { location: u.href, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
  };
}

/** The front-channel routes' handlers. */
export function frontChannel(ctx: VendorContext<'oidc'>, store: OidcStore) {
  const testUser = () => {
    const c = ctx.credentials();
    return { username: c.username, password: c.password };
  };
  const clientName = (id: string) => clients(ctx.credentials()).find((c) => c.clientId === id)?.name ?? id;

  function authorize(req: SandboxRequest): Reply {
    const q = new Map<string, string>();
    for (const [k, v] of req.url.searchParams) {
      // RFC 6749 §3.1: a parameter must not be given twice.
      if (q.has(k)) return errorPage(400, 'invalid_request', `parameter ${k} is given more than once`);
      q.set(k, v);
    }
    const clientId = q.get('client_id');
    const client = clients(ctx.credentials()).find((c) => c.clientId === clientId);
    if (client === undefined) return errorPage(400, 'invalid_client', 'unknown or missing client_id');
    const redirectUri = q.get('redirect_uri');
    if (redirectUri === undefined || !redirectAllowed(redirectUri)) {
      return errorPage(400, 'invalid_request', 'redirect_uri is missing or not registered for this client');
    }
    const issuer = issuerOf(ctx);
    const state = q.get('state');
    const refuse = (error: string, description: string) =>
      backToClient(issuer, redirectUri, { error, error_description: description, state });
    if (q.get('response_type') !== 'code')
      return refuse('unsupported_response_type', 'only response_type=code is supported');
    if (q.has('request') || q.has('request_uri'))
      return refuse(
        q.has('request') ? 'request_not_supported' : 'request_uri_not_supported',
        'request objects are not supported',
      );
    const challenge = q.get('code_challenge');
    if (challenge === undefined || !pkceShaped(challenge))
      return refuse('invalid_request', 'code_challenge is required (PKCE)');
    if (q.get('code_challenge_method') !== 'S256')
      return refuse('invalid_request', 'code_challenge_method must be S256');
    const scopes = parseScopes(q.get('scope'), []);
    if (scopes === undefined || scopes.length === 0)
      return refuse('invalid_scope', 'unknown or missing scope');
    if (q.get('prompt')?.split(' ').includes('none'))
      return refuse('login_required', 'the sandbox keeps no sign-in session: prompt=none cannot be met');
    const now = ctx.now();
    const nonce = q.get('nonce');
    const interaction: Interaction = {
      id: handle(),
      clientId: client.clientId,
      scopes,
      expiresAt: now + INTERACTION_MS,
      code: {
        redirectUri,
        codeChallenge: challenge,
        ...(state === undefined ? {} : { state }),
        ...(nonce === undefined ? {} : { nonce }),
      },
    };
    if (!store.interactions.set(interaction.id, interaction, now))
      return refuse('temporarily_unavailable', 'too many sign-ins in progress');
    const loginHint = q.get('login_hint');
    return signInPage({
      interaction: interaction.id,
      clientName: client.name,
      testUser: testUser(),
      ...(loginHint === undefined ? {} : { loginHint }),
    });
  }

  /** The live interaction named by a form, or an error page. */
  function interactionOf(form: Map<string, string>): Interaction | Reply {
    const id = form.get('interaction') ?? '';
    const it = store.interactions.get(id);
    if (it === undefined || ctx.now() >= it.expiresAt) {
      return errorPage(
        400,
        'invalid_request',
        'this sign-in has expired or is unknown; start again from your application',
      );
    }
    return it;
  }

  function checkPassword(form: Map<string, string>): boolean {
    const who = person(ctx.credentials());
    return form.get('username') === who.username && form.get('password') === who.password;
  }

  function login(req: SandboxRequest): Reply {
    const parsed = parseForm(req);
    if (!parsed.ok) return errorPage(400, 'invalid_request', parsed.detail);
    const it = interactionOf(parsed.value);
    if ('status' in it) return it;
    if (it.code === undefined || it.username !== undefined)
      return errorPage(400, 'invalid_request', 'this sign-in is not waiting for a password');
    if (!checkPassword(parsed.value)) {
      return signInPage({
        interaction: it.id,
        clientName: clientName(it.clientId),
        testUser: testUser(),
        loginHint: parsed.value.get('username') ?? '',
        error: 'Wrong username or password.',
      });
    }
    it.username = person(ctx.credentials()).username;
    it.authTime = Math.floor(ctx.now() / 1000);
    return consentPage({ interaction: it.id, clientName: clientName(it.clientId), scopes: it.scopes });
  }

  function consent(req: SandboxRequest): Reply {
    const parsed = parseForm(req);
    if (!parsed.ok) return errorPage(400, 'invalid_request', parsed.detail);
    const it = interactionOf(parsed.value);
    if ('status' in it) return it;
    if (it.username === undefined || it.authTime === undefined)
      return errorPage(400, 'invalid_request', 'sign in first');
    const decision = parsed.value.get('decision');
    if (decision !== 'allow' && decision !== 'deny')
      return errorPage(400, 'invalid_request', 'decision must be allow or deny');
    // One decision per sign-in: a second POST of the form finds nothing.
    store.interactions.delete(it.id);
    const now = ctx.now();
    if (it.deviceCode !== undefined) {
      const device = store.devices.get(it.deviceCode);
      if (device === undefined || device.status !== 'pending' || now >= device.expiresAt)
        return errorPage(400, 'expired_token', 'the device code has expired or was already used');
      device.status = decision === 'allow' ? 'approved' : 'denied';
      device.authTime = it.authTime;
      store.userCodes.delete(device.userCode);
      return deviceDonePage(decision === 'allow');
    }
    const flow = it.code;
    if (flow === undefined) return errorPage(400, 'invalid_request', 'unknown sign-in');
    const issuer = issuerOf(ctx);
    if (decision === 'deny') {
      return backToClient(issuer, flow.redirectUri, {
        error: 'access_denied',
        error_description: 'the user denied the request',
        state: flow.state,
      });
    }
    const code = handle();
    const stored = store.codes.set(
      code,
      {
        clientId: it.clientId,
        redirectUri: flow.redirectUri,
        codeChallenge: flow.codeChallenge,
        scopes: it.scopes,
        authTime: it.authTime,
        expiresAt: now + CODE_MS,
        ...(flow.nonce === undefined ? {} : { nonce: flow.nonce }),
      },
      now,
    );
    if (!stored)
      return backToClient(issuer, flow.redirectUri, {
        error: 'temporarily_unavailable',
        error_description: 'too many codes outstanding',
        state: flow.state,
      });
    return backToClient(issuer, flow.redirectUri, { code, state: flow.state });
  }

  function deviceForm(req: SandboxRequest): Reply {
    const typed = req.url.searchParams.get('user_code') ?? '';
    return devicePage({ userCode: normalizeUserCode(typed) ?? '', testUser: testUser() });
  }

  function deviceSubmit(req: SandboxRequest): Reply {
    const parsed = parseForm(req);
    if (!parsed.ok) return errorPage(400, 'invalid_request', parsed.detail);
    const form = parsed.value;
    const typed = form.get('user_code') ?? '';
    const code = normalizeUserCode(typed);
    const now = ctx.now();
    const slot = code === undefined ? undefined : store.userCodes.get(code);
    const device = slot === undefined ? undefined : store.devices.get(slot.deviceCode);
    const again = (status: number, error: string) =>
      devicePage({ userCode: code ?? typed.slice(0, 32), status, error, testUser: testUser() });
    if (slot === undefined || device === undefined || device.status !== 'pending' || now >= device.expiresAt)
      return again(400, 'That code is unknown or has expired. Check the code shown on your device.');
    if (!checkPassword(form)) return again(401, 'Wrong username or password.');
    const it: Interaction = {
      id: handle(),
      clientId: device.clientId,
      scopes: device.scopes,
      expiresAt: Math.min(now + INTERACTION_MS, device.expiresAt),
      username: person(ctx.credentials()).username,
      authTime: Math.floor(now / 1000),
      deviceCode: slot.deviceCode,
    };
    if (!store.interactions.set(it.id, it, now))
      return again(503, 'Too many sign-ins in progress; try again later.');
    return consentPage({
      interaction: it.id,
      clientName: clientName(device.clientId),
      scopes: device.scopes,
      userCode: device.userCode,
    });
  }

  return { authorize, login, consent, deviceForm, deviceSubmit };
}
