#!/usr/bin/env node
/**
 * The `docker-credential-tokenward` executable (docker runs `docker-credential-<name> get|list|…`):
 * `tokenward docker-credential` under the name docker looks for. It puts the command name in front of
 * docker's arguments and runs the `tokenward` executable, so the output guards and exit codes are the
 * same.
 * @module
 */

process.argv.splice(2, 0, 'docker-credential');
await import('./main.js');
