#!/usr/bin/env node
/**
 * The unbundled `tokenward` entry (`node dist/cli/main.js`, or `src/cli/main.ts` through tsx in tests).
 * The installed `bin` is the bundle of the same code, `dist/cli/bin/tokenward.cjs` (see `bin/`).
 * @module
 */

import { start } from './start.js';

await start(process.argv.slice(2));
