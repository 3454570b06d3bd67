/**
 * Every `toml` example of the documentation is a valid tokenward config: it parses, and each profile in
 * it passes the same validation as the config file (keys, types, provider rules). Secret references
 * are not resolved: the examples name variables and files of the reader's machine.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ConfigFile, parseConfigText, profileFromConfig } from '../../src/config/load.js';
import { docBlocks, where } from './blocks.js';

describe('documentation: toml examples', () => {
  const blocks = docBlocks('toml');
  test('there are examples', () => assert.ok(blocks.length >= 5, `found ${blocks.length}`));
  for (const b of blocks) {
    const skip = b.directive?.kind === 'skip' ? b.directive.reason : false;
    test(`${where(b)} is a valid config`, { skip }, () => {
      const parsed = parseConfigText(b.code, where(b));
      const config: ConfigFile = { ...parsed, path: where(b), source: 'option', exists: true, text: b.code };
      assert.ok(
        parsed.profileNames.length > 0 || /^\[defaults\]/m.test(b.code),
        `${where(b)} has no profile`,
      );
      for (const name of parsed.profileNames) profileFromConfig(config, name);
    });
  }
});
