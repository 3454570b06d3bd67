/** The browser opener: which command runs for `$BROWSER` and each platform (argv, never a shell). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { browserCommands, openInBrowser } from '../../src/signin/browser.js';

const URL_ = 'http://127.0.0.1:1/authorize?a=1&b=$(rm -rf ~)';

describe('browser opener', () => {
  it('$BROWSER: a command (the URL appended, or put at %s), a :-separated list in order', () => {
    assert.deepEqual(browserCommands(URL_, { env: { BROWSER: 'firefox --new-window' } }), [
      ['firefox', '--new-window', URL_],
    ]);
    assert.deepEqual(browserCommands(URL_, { env: { BROWSER: 'w3m %s:lynx' } }), [
      ['w3m', URL_],
      ['lynx', URL_],
    ]);
  });
  it('$BROWSER on Windows: a ;-separated list (a path holds a colon); a quoted word keeps its spaces', () => {
    const firefox = 'C:\\Program Files\\Mozilla Firefox\\firefox.exe';
    assert.deepEqual(
      browserCommands(URL_, {
        env: { BROWSER: `"${firefox}" -new-tab %s;C:\\bin\\chrome.exe` },
        platform: 'win32',
      }),
      [
        [firefox, '-new-tab', URL_],
        ['C:\\bin\\chrome.exe', URL_],
      ],
    );
    // Elsewhere the list is :-separated, and quotes work the same.
    assert.deepEqual(
      browserCommands(URL_, { env: { BROWSER: '"/opt/my browser/run" --x:lynx' }, platform: 'linux' }),
      [
        ['/opt/my browser/run', '--x', URL_],
        ['lynx', URL_],
      ],
    );
  });
  it('else the platform opener: xdg-open, open, cmd /c start', () => {
    assert.deepEqual(browserCommands(URL_, { env: {}, platform: 'linux' }), [['xdg-open', URL_]]);
    assert.deepEqual(browserCommands(URL_, { env: {}, platform: 'darwin' }), [['open', URL_]]);
    assert.deepEqual(browserCommands('http://x/?a=1&b=2', { env: {}, platform: 'win32' }), [
      ['cmd', '/c', 'start', '', 'http://x/?a=1^&b=2'],
    ]);
  });
  it('a browser that cannot start: false, never a throw; the next one in the list is tried', async () => {
    assert.equal(await openInBrowser(URL_, { env: { BROWSER: '/nonexistent/browser-x' } }), false);
    assert.equal(
      await openInBrowser(URL_, { env: { BROWSER: `/nonexistent/browser-x:${process.execPath} -e 0` } }),
      true,
    );
  });
});
