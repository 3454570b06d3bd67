#!/usr/bin/env node
/**
 * The installed `docker-credential-tokenward` executable (docker runs `docker-credential-<name>
 * get|list|…`): `tokenward docker-credential` under the name docker looks for — the command name is put
 * in front of docker's arguments and the `tokenward` executable runs, so the output guards and exit codes
 * are the same.
 * @module
 */

process.argv.splice(2, 0, 'docker-credential');
require('./tokenward.cjs');
