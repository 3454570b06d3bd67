/**
 * The OS keyring through the platform's own command-line tool — no native binding: `secret-tool`
 * (libsecret, the freedesktop Secret Service: GNOME Keyring, KWallet, KeePassXC) on Linux and FreeBSD,
 * `security` (the login keychain) on macOS. Items are generic passwords of service `tokenward`, account
 * NAME.
 *
 * A secret never appears on a command line: `secret-tool store` reads it from standard input, and on
 * macOS it is added through `security -i` (commands on standard input, the value hex-encoded) and read
 * back to check it was stored.
 *
 * Every operation says whether the keyring **answered**. It does not answer when the tool is not
 * installed, no Secret Service is reachable (no D-Bus session: servers, containers, CI), the keyring is
 * locked and cannot prompt, or the tool does not finish in time; then the caller may fall back to the
 * local secret store (see `index.ts`). Messages never contain a secret or the tool's standard output.
 * @module
 */

import { runTool, type ToolResult } from './run.js';

/** The keyring service name of tokenward's items. */
export const KEYRING_SERVICE = 'tokenward';

/** The default time limit of one keyring command, ms. */
export const KEYRING_TIMEOUT_MS = 30_000;

/** The largest answer read from the keyring tool (a secret, or the listing), bytes. */
const MAX_ANSWER_BYTES = 1 << 20;

/** Options of the keyring operations. */
export interface KeyringOptions {
  /** The tool's environment (it needs `DBUS_SESSION_BUS_ADDRESS`, `HOME`…). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Time limit of one command, ms. Default {@link KEYRING_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** The platform (for tests). Default `process.platform`. */
  platform?: NodeJS.Platform;
}

/** The answer of a keyring operation: its value, or why the keyring did not answer. */
export type KeyringAnswer<T> = { answered: true; value: T } | { answered: false; why: string };

type Tool = 'secret-tool' | 'security';

function toolOf(platform: NodeJS.Platform): Tool | undefined {
  if (platform === 'darwin') return 'security';
  if (platform === 'linux' || platform === 'freebsd') return 'secret-tool';
  return undefined;
}

/** Status `security` exits with when the item is not there (errSecItemNotFound). */
const MAC_NOT_FOUND = 44;

async function run(
  tool: Tool,
  args: string[],
  options: KeyringOptions,
  input?: Buffer,
  maxStderr?: number,
): Promise<ToolResult> {
  return runTool(tool, args, {
    env: options.env ?? process.env,
    timeoutMs: options.timeoutMs ?? KEYRING_TIMEOUT_MS,
    maxBytes: MAX_ANSWER_BYTES,
    captureStderr: true,
    ...(maxStderr === undefined ? {} : { maxStderr }),
    ...(input === undefined ? {} : { input }),
  });
}

/** Why a finished command was not an answer, in words (the first line of its standard error). */
function notAnswered(tool: Tool, r: ToolResult, timeoutMs: number): { answered: false; why: string } {
  switch (r.kind) {
    case 'spawn-error':
      return {
        answered: false,
        why: r.errno === 'ENOENT' ? `${tool} is not installed` : `${tool} could not be run (${r.errno})`,
      };
    case 'timeout':
      return { answered: false, why: `${tool} did not answer within ${timeoutMs} ms (a locked keyring?)` };
    case 'too-big':
      return { answered: false, why: `${tool} printed more than ${MAX_ANSWER_BYTES} bytes` };
    case 'exit': {
      const line = r.stderr.trim().split('\n')[0]?.trim().slice(0, 200) ?? '';
      const status = r.signal !== null ? `was killed by ${r.signal}` : `exited with status ${r.code}`;
      return { answered: false, why: `${tool} ${status}${line !== '' ? `: ${line}` : ''}` };
    }
  }
}

function unsupported(platform: NodeJS.Platform): { answered: false; why: string } {
  return { answered: false, why: `no OS keyring tool is supported on ${platform}` };
}

/** True for "the tool ran and the item is not there" (as opposed to "the keyring did not answer"). */
function isNotFound(tool: Tool, r: ToolResult): boolean {
  if (r.kind !== 'exit') return false;
  // secret-tool exits 1 with nothing on stderr for a missing item; with a message when D-Bus failed.
  return tool === 'security' ? r.code === MAC_NOT_FOUND : r.code === 1 && r.stderr.trim() === '';
}

/**
 * Reads the secret of account `name`. `value` is `undefined` when the keyring answered that there is
 * no such item.
 */
export async function keyringGet(
  name: string,
  options: KeyringOptions = {},
): Promise<KeyringAnswer<string | undefined>> {
  const platform = options.platform ?? process.platform;
  const tool = toolOf(platform);
  if (tool === undefined) return unsupported(platform);
  const args =
    tool === 'security'
      ? ['find-generic-password', '-s', KEYRING_SERVICE, '-a', name, '-w']
      : ['lookup', 'service', KEYRING_SERVICE, 'account', name];
  const r = await run(tool, args, options);
  if (r.kind === 'exit' && r.code === 0) {
    const text = r.stdout.toString('utf8');
    r.stdout.fill(0);
    return { answered: true, value: text.replace(/\r?\n$/, '') };
  }
  if (isNotFound(tool, r)) return { answered: true, value: undefined };
  return notAnswered(tool, r, options.timeoutMs ?? KEYRING_TIMEOUT_MS);
}

/** Stores `value` as the secret of account `name` (replacing an existing one). */
export async function keyringSet(
  name: string,
  value: string,
  options: KeyringOptions = {},
): Promise<KeyringAnswer<true>> {
  const platform = options.platform ?? process.platform;
  const tool = toolOf(platform);
  if (tool === undefined) return unsupported(platform);
  const timeoutMs = options.timeoutMs ?? KEYRING_TIMEOUT_MS;
  if (tool === 'secret-tool') {
    const input = Buffer.from(value, 'utf8');
    const r = await run(
      tool,
      ['store', `--label=tokenward: ${name}`, 'service', KEYRING_SERVICE, 'account', name],
      options,
      input,
    );
    input.fill(0);
    if (r.kind === 'exit' && r.code === 0) return { answered: true, value: true };
    return notAnswered(tool, r, timeoutMs);
  }
  // security -i: the command on standard input, the value as hex (no quoting, not in argv).
  const hex = Buffer.from(value, 'utf8').toString('hex');
  const input = Buffer.from(
    `add-generic-password -U -s ${KEYRING_SERVICE} -a ${name} -l ${KEYRING_SERVICE} -X ${hex}\n`,
    'utf8',
  );
  const r = await run(tool, ['-i'], options, input);
  input.fill(0);
  if (r.kind !== 'exit' || r.code !== 0) return notAnswered(tool, r, timeoutMs);
  const back = await keyringGet(name, options);
  if (!back.answered) return back;
  if (back.value !== value) {
    return {
      answered: false,
      why: 'security -i did not store the item (reading it back gave another value)',
    };
  }
  return { answered: true, value: true };
}

/** Deletes account `name`. `value` is false when the keyring answered that there was no such item. */
export async function keyringDelete(
  name: string,
  options: KeyringOptions = {},
): Promise<KeyringAnswer<boolean>> {
  const platform = options.platform ?? process.platform;
  const tool = toolOf(platform);
  if (tool === undefined) return unsupported(platform);
  const args =
    tool === 'security'
      ? ['delete-generic-password', '-s', KEYRING_SERVICE, '-a', name]
      : ['clear', 'service', KEYRING_SERVICE, 'account', name];
  const r = await run(tool, args, options);
  if (r.kind === 'exit' && r.code === 0) return { answered: true, value: true };
  if (isNotFound(tool, r)) return { answered: true, value: false };
  return notAnswered(tool, r, options.timeoutMs ?? KEYRING_TIMEOUT_MS);
}

/** The account names of tokenward's items, sorted. */
export async function keyringList(options: KeyringOptions = {}): Promise<KeyringAnswer<string[]>> {
  const platform = options.platform ?? process.platform;
  const tool = toolOf(platform);
  if (tool === undefined) return unsupported(platform);
  const r = await run(
    tool,
    tool === 'security' ? ['dump-keychain'] : ['search', '--all', 'service', KEYRING_SERVICE],
    options,
    undefined,
    MAX_ANSWER_BYTES,
  );
  if (r.kind !== 'exit' || r.code !== 0) {
    // secret-tool search exits 1 with nothing on stderr when nothing matched (older versions).
    if (tool === 'secret-tool' && isNotFound(tool, r)) return { answered: true, value: [] };
    return notAnswered(tool, r, options.timeoutMs ?? KEYRING_TIMEOUT_MS);
  }
  const text = r.stdout.toString('utf8');
  r.stdout.fill(0);
  const names = tool === 'security' ? parseDumpKeychain(text) : parseSecretToolSearch(text, r.stderr);
  return { answered: true, value: [...new Set(names)].sort() };
}

/**
 * The accounts in `secret-tool search --all` output. libsecret 0.20 prints each item's `[/path]`,
 * `label`, `secret` (the value, possibly over several lines) and times on standard output and its
 * `attribute.NAME = value` lines on standard error: the accounts are read from there when it has any.
 * Older versions print everything on standard output, the attributes last in each item: then only the
 * last `attribute.account` / `attribute.service` lines of an item count, so a secret whose text looks
 * like an attribute line can add no name (nor show a part of itself).
 */
export function parseSecretToolSearch(stdout: string, stderr = ''): string[] {
  const fromStderr = [...stderr.matchAll(/^attribute\.account = (.*)$/gm)].map((m) => m[1] ?? '');
  if (/^attribute\./m.test(stderr)) return fromStderr;
  const out: string[] = [];
  for (const block of stdout.split(/^\[\/[^\]\n]*\]$/m)) {
    const lines = block.split('\n');
    let account: string | undefined;
    let service: string | undefined;
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i] ?? '';
      if (line.trim() === '') continue;
      const m = /^attribute\.([A-Za-z0-9_.-]+) = (.*)$/.exec(line);
      if (m === null) break; // the attributes are the item's last lines
      if (m[1] === 'account' && account === undefined) account = m[2];
      if (m[1] === 'service' && service === undefined) service = m[2];
    }
    if (account !== undefined && service === KEYRING_SERVICE) out.push(account);
  }
  return out;
}

/** The accounts of generic passwords of service `tokenward` in `security dump-keychain` output. */
export function parseDumpKeychain(text: string): string[] {
  const out: string[] = [];
  for (const block of text.split(/^keychain: /m)) {
    if (!/^class: "genp"$/m.test(block)) continue;
    const attr = (name: string) => new RegExp(`^\\s*"${name}"<blob>="(.*)"$`, 'm').exec(block)?.[1];
    if (attr('svce') === KEYRING_SERVICE) {
      const acct = attr('acct');
      if (acct !== undefined) out.push(acct);
    }
  }
  return out;
}
