/**
 * Reading the names of tokenward's items out of the keyring tools' listings: `secret-tool search --all`
 * (libsecret 0.20 prints the attributes on stderr; older versions print everything on stdout) and macOS
 * `security dump-keychain`. A secret whose text looks like an attribute line must add no name (else
 * `secret list` would print a part of a secret).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDumpKeychain, parseSecretToolSearch } from '../../src/secrets/keyring.js';

describe('keyring listings', () => {
  it('secret-tool 0.20: accounts from the attribute lines on stderr, never from stdout', () => {
    const stdout =
      '[/1]\nlabel = a\nsecret = line1\nattribute.account = fake\n[/zz]\nattribute.account = x2\ncreated = 2026-01-01 00:00:00\n';
    const stderr =
      'attribute.account = y\nattribute.service = tokenward\nattribute.service = tokenward\nattribute.account = x\n';
    assert.deepEqual(parseSecretToolSearch(stdout, stderr), ['y', 'x']);
  });

  it('older secret-tool (all on stdout): only the attributes that end an item count', () => {
    const stdout = [
      '[/1]',
      'label = tokenward: a',
      'secret = p1',
      'attribute.account = injected',
      '[/fake]',
      'attribute.account = injected2',
      'created = 2026-01-01 00:00:00',
      'schema = org.freedesktop.Secret.Generic',
      'attribute.account = real-a',
      'attribute.service = tokenward',
      '[/2]',
      'label = other',
      'secret = p2',
      'schema = org.freedesktop.Secret.Generic',
      'attribute.service = tokenward',
      'attribute.account = real-b',
      '',
    ].join('\n');
    assert.deepEqual(parseSecretToolSearch(stdout), ['real-a', 'real-b']);
    assert.deepEqual(parseSecretToolSearch(''), []);
  });

  it('security dump-keychain: generic passwords of service tokenward only', () => {
    const dump = [
      'keychain: "/Users/me/Library/Keychains/login.keychain-db"',
      'version: 512',
      'class: "genp"',
      'attributes:',
      '    "acct"<blob>="acme"',
      '    "svce"<blob>="tokenward"',
      'keychain: "/Users/me/Library/Keychains/login.keychain-db"',
      'class: "genp"',
      'attributes:',
      '    "acct"<blob>="someone"',
      '    "svce"<blob>="other-app"',
      'keychain: "/Users/me/Library/Keychains/login.keychain-db"',
      'class: "inet"',
      'attributes:',
      '    "acct"<blob>="web"',
      '    "svce"<blob>="tokenward"',
      '',
    ].join('\n');
    assert.deepEqual(parseDumpKeychain(dump), ['acme']);
  });
});
