/**
 * The profile keys of the delegated grants (`grant = "token_exchange" | "jwt_bearer"`, RFC 8693 and
 * RFC 7523): where the subject (and actor) token comes from, and what to ask for. Declared by the
 * `oauth2` and `oidc` descriptors. Import-light: valibot only.
 * @module
 */

import * as v from 'valibot';
import type { KeysOf, ProfileKeySpecs } from '../providers/descriptor.js';

/** The built-in CI identity sources of `subject_source`. */
export const SUBJECT_SOURCES = ['github-actions', 'gitlab', 'kubernetes'] as const;

/** A built-in CI identity source. */
export type SubjectSourceName = (typeof SUBJECT_SOURCES)[number];

const str = v.optional(v.pipe(v.string(), v.minLength(1, 'expected a non-empty string')));

/** The keys of the token exchange and JWT bearer grants. */
export const exchangeKeys = {
  subject_token: {
    schema: str,
    doc: 'token_exchange/jwt_bearer: the subject token (a literal or a reference: env:, file:, cmd:, keyring:, secret:)',
    secret: true,
  },
  subject_token_file: {
    schema: str,
    doc: 'token_exchange/jwt_bearer: a file holding the subject token, re-read when it changes (Kubernetes projected tokens)',
  },
  subject_profile: {
    schema: str,
    doc: 'token_exchange/jwt_bearer: another profile whose access token is the subject (chains; cycles are refused)',
  },
  subject_source: {
    schema: v.optional(
      v.picklist(
        SUBJECT_SOURCES,
        (issue) =>
          `expected one of ${SUBJECT_SOURCES.map((s) => `"${s}"`).join(', ')}, got ${issue.received}`,
      ),
    ),
    doc: 'token_exchange/jwt_bearer: a CI identity token: github-actions, gitlab or kubernetes',
  },
  subject_env: {
    schema: str,
    doc: 'subject_source = "gitlab": the id_tokens variable holding the JWT (default CI_JOB_JWT_V2)',
  },
  subject_audience: {
    schema: str,
    doc: 'subject_source = "github-actions": the audience of the ID token GitHub issues',
  },
  subject_token_type: {
    schema: str,
    doc: 'token type URI of the subject (default urn:ietf:params:oauth:token-type:jwt; access_token with subject_profile)',
  },
  actor_token: {
    schema: str,
    doc: 'token_exchange: the actor token (delegation), a literal or a reference',
    secret: true,
  },
  actor_token_file: {
    schema: str,
    doc: 'token_exchange: a file holding the actor token, re-read when it changes',
  },
  actor_token_type: {
    schema: str,
    doc: 'token type URI of the actor (default urn:ietf:params:oauth:token-type:jwt)',
  },
  requested_token_type: {
    schema: str,
    doc: 'token_exchange: the token type URI to ask for (requested_token_type)',
  },
} satisfies ProfileKeySpecs;

/** The exchange keys of `Profile`. */
export type ExchangeKeys = KeysOf<typeof exchangeKeys>;
