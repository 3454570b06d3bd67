/**
 * Opens a URL in the person's browser: `$BROWSER` when set (a command, or a list tried in order,
 * separated as `PATH` is: `:`, or `;` on Windows, where `C:\…` holds a colon; a word in double quotes may
 * hold spaces, as `"C:\Program Files\…\firefox.exe"`; `%s` in it is replaced by the URL, else the URL is
 * appended), else the platform's opener —
 * `xdg-open` (Linux, BSD), `open` (macOS), `cmd /c start` (Windows). No shell runs: the URL is one
 * argument. The caller prints the URL as well, so a failure here only loses the convenience.
 * @module
 */

import { spawn } from 'node:child_process';

/** Options of {@link openInBrowser}. */
export interface OpenBrowserOptions {
  /** The environment (`BROWSER`). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The platform. Default `process.platform`. */
  platform?: NodeJS.Platform;
}

/** The commands (program and arguments) to try, in order, for `url`. */
export function browserCommands(url: string, options: OpenBrowserOptions = {}): string[][] {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const browser = env['BROWSER']?.trim();
  if (browser !== undefined && browser !== '') {
    return browser
      .split(platform === 'win32' ? ';' : ':')
      .map((c) => c.trim())
      .filter((c) => c !== '')
      .map((c) => {
        // Words are separated by blanks; a double-quoted word keeps its blanks (the quotes go).
        const words = [...c.matchAll(/"([^"]*)"|[^\s"]+/g)].map((m) => m[1] ?? m[0]);
        return words.some((w) => w.includes('%s'))
          ? words.map((w) => w.replaceAll('%s', url))
          : [...words, url];
      });
  }
  switch (platform) {
    case 'darwin':
      return [['open', url]];
    case 'win32':
      // `start` is a cmd built-in; its first quoted argument is a window title, hence the empty one
      // (Node quotes an empty argument as ""); `&` would end cmd's command, hence `^&`.
      return [['cmd', '/c', 'start', '', url.replaceAll('&', '^&')]];
    default:
      return [['xdg-open', url]];
  }
}

/** Starts one command detached; resolves true once it has started, false when it could not. */
function launch(argv: string[], env: NodeJS.ProcessEnv): Promise<boolean> {
  const [program, ...args] = argv;
  if (program === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      const child = spawn(program, args, { detached: true, stdio: 'ignore', env, windowsHide: true });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}

/**
 * Opens `url` in a browser. Resolves true when a browser command started, false when none could (the
 * caller has printed the URL, so the person can open it by hand). Never throws.
 */
export async function openInBrowser(url: string, options: OpenBrowserOptions = {}): Promise<boolean> {
  const env = options.env ?? process.env;
  for (const argv of browserCommands(url, options)) {
    if (await launch(argv, env)) return true;
  }
  return false;
}
