/**
 * Every command's options, in one table: the commands parse with these, `completion` lists them, and a
 * test holds `--help` and docs/cli.md to them. Plain data, so reading it loads nothing else.
 * @module
 */

import type { OptionsConfig } from './args.js';

/** The options of each command (besides the global ones of `GLOBAL_OPTIONS`). */
export const COMMAND_OPTIONS = {
  token: {
    json: { type: 'boolean' },
    'show-refresh': { type: 'boolean' },
    header: { type: 'boolean' },
    force: { type: 'boolean' },
    'min-ttl': { type: 'string' },
    'dpop-for': { type: 'string' },
  },
  inspect: { json: { type: 'boolean' } },
  request: {
    data: { type: 'string', short: 'd' },
    header: { type: 'string', short: 'H', multiple: true },
  },
  exec: { env: { type: 'string' }, 'keep-secret-env': { type: 'boolean' } },
  status: {
    json: { type: 'boolean' },
    watch: { type: 'boolean', short: 'w' },
    interval: { type: 'string', short: 'n' },
  },
  login: {
    device: { type: 'boolean' },
    'no-browser': { type: 'boolean' },
  },
  logout: {},
  introspect: { json: { type: 'boolean' } },
  profiles: {
    json: { type: 'boolean' },
    long: { type: 'boolean', short: 'l' },
    force: { type: 'boolean' },
    'secret-stdin': { type: 'string' },
  },
  secret: { backend: { type: 'string' }, show: { type: 'boolean' } },
  sandbox: { port: { type: 'string', short: 'p' } },
  demo: {},
  completion: {},
  'kubectl-credential': {},
  'git-credential': {},
  'docker-credential': {},
} as const satisfies Record<string, OptionsConfig>;

/** A command name. */
export type CommandName = keyof typeof COMMAND_OPTIONS;
