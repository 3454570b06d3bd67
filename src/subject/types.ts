/**
 * What the subject readers share (`./index.ts`, `./github-actions.ts`): the reading context and the size
 * bound. Types and constants only.
 * @module
 */

import type { HttpOptions } from '../http/types.js';

/** Largest accepted subject token from a token file, a CI variable or GitHub's answer: 64 KiB. */
export const MAX_SUBJECT_BYTES = 64 * 1024;

/** What reading a subject needs besides the profile. */
export interface SubjectContext {
  /** Environment for `env:` references, `cmd:` commands and the CI variables. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** HTTP settings for the GitHub Actions token request (the profile's timeouts, TLS, proxy). */
  http?: HttpOptions;
  /** The current access token of another profile (`subject_profile`). */
  profileToken?(name: string, signal?: AbortSignal): Promise<string>;
  /** The full name of a key for messages (`profiles.NAME.key`), with the config file and line. */
  where?(key: string): { file?: string; line?: number; key: string };
  /** Base directory of relative paths (the config file's). Default the current directory. */
  baseDir?: string;
  /** Aborts a request. */
  signal?: AbortSignal;
}
