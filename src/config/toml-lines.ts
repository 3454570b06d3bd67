/**
 * Finds the line of every table header and key in TOML text, so that errors found after parsing can
 * point at `file:line`. A light scanner, not a parser: it understands table headers, dotted and quoted
 * keys and multi-line strings, which is all a config file needs.
 * @module
 */

const BARE = /^[A-Za-z0-9_-]+/;

/** Splits a TOML key path (`a."b.c".d`) into its parts; undefined when it is not a key path. */
export function splitKeyPath(text: string): string[] | undefined {
  const parts: string[] = [];
  let s = text.trim();
  for (;;) {
    let part: string;
    if (s.startsWith('"')) {
      const m = /^"((?:[^"\\]|\\.)*)"/.exec(s);
      if (m === null) return undefined;
      try {
        part = JSON.parse(`"${m[1] ?? ''}"`) as string;
      } catch {
        part = m[1] ?? '';
      }
      s = s.slice(m[0].length);
    } else if (s.startsWith("'")) {
      const m = /^'([^']*)'/.exec(s);
      if (m === null) return undefined;
      part = m[1] ?? '';
      s = s.slice(m[0].length);
    } else {
      const m = BARE.exec(s);
      if (m === null) return undefined;
      part = m[0];
      s = s.slice(m[0].length);
    }
    parts.push(part);
    s = s.trimStart();
    if (s === '') return parts;
    if (!s.startsWith('.')) return undefined;
    s = s.slice(1).trimStart();
  }
}

/** Joins key parts into the dotted form used as a map key (`profiles.rdp.client_id`). */
export function joinKeyPath(parts: readonly string[]): string {
  return parts.join('.');
}

/** One key: bare, or a quoted string taken whole (a `]`, `#` or `=` inside quotes belongs to the key). */
const PART = `(?:[A-Za-z0-9_-]+|"(?:[^"\\\\]|\\\\.)*"|'[^']*')`;
/** A dotted key path. */
const PATH = `${PART}(?:\\s*\\.\\s*${PART})*`;
const HEADER = new RegExp(`^\\s*\\[(\\[?)\\s*(${PATH})\\s*\\](\\]?)\\s*(?:#.*)?$`);
const KEY = new RegExp(`^\\s*(${PATH})\\s*=(.*)$`);

/** A map from dotted key path (`profiles.rdp`, `profiles.rdp.client_id`) to its 1-based line. */
export function keyLines(text: string): Map<string, number> {
  const lines = text.split(/\r?\n/);
  const out = new Map<string, number>();
  let table: string[] = [];
  let inMulti: '"""' | "'''" | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (inMulti !== undefined) {
      if (countOf(line, inMulti) % 2 === 1) inMulti = undefined;
      continue;
    }
    const h = HEADER.exec(line);
    if (h !== null && !line.trimStart().startsWith('#')) {
      const parts = splitKeyPath(h[2] ?? '');
      if (parts !== undefined) {
        table = parts;
        const path = joinKeyPath(parts);
        if (!out.has(path)) out.set(path, i + 1);
      }
      continue;
    }
    const k = KEY.exec(line);
    if (k === null) continue;
    const parts = splitKeyPath(k[1] ?? '');
    if (parts === undefined) continue;
    const full = [...table, ...parts];
    // Intermediate tables of a dotted key start here too, unless seen before.
    for (let n = table.length + 1; n <= full.length; n++) {
      const p = joinKeyPath(full.slice(0, n));
      if (!out.has(p)) out.set(p, i + 1);
    }
    const rest = k[2] ?? '';
    for (const q of ['"""', "'''"] as const) {
      if (countOf(rest, q) % 2 === 1) {
        inMulti = q;
        break;
      }
    }
  }
  return out;
}

/**
 * {@link keyLines} of `text`, found on first use: a config file read without an error or a warning to
 * report (a warm `tokenward token`) never scans its lines. The first call of keyLines in a process
 * costs some 0.4 ms (its regular expressions are compiled then).
 */
export function lazyKeyLines(text: string): Map<string, number> {
  return new LazyKeyLines(text);
}

class LazyKeyLines extends Map<string, number> {
  #text: string | undefined;
  constructor(text: string) {
    super();
    this.#text = text;
  }
  #fill(): void {
    const text = this.#text;
    if (text === undefined) return;
    this.#text = undefined;
    for (const [k, v] of keyLines(text)) super.set(k, v);
  }
  override get(key: string): number | undefined {
    this.#fill();
    return super.get(key);
  }
  override has(key: string): boolean {
    this.#fill();
    return super.has(key);
  }
  override get size(): number {
    this.#fill();
    return super.size;
  }
  override set(key: string, value: number): this {
    this.#fill();
    return super.set(key, value);
  }
  override delete(key: string): boolean {
    this.#fill();
    return super.delete(key);
  }
  override clear(): void {
    this.#text = undefined;
    super.clear();
  }
  override forEach(
    fn: (value: number, key: string, map: Map<string, number>) => void,
    thisArg?: unknown,
  ): void {
    this.#fill();
    super.forEach(fn, thisArg);
  }
  override entries(): MapIterator<[string, number]> {
    this.#fill();
    return super.entries();
  }
  override keys(): MapIterator<string> {
    this.#fill();
    return super.keys();
  }
  override values(): MapIterator<number> {
    this.#fill();
    return super.values();
  }
  override [Symbol.iterator](): MapIterator<[string, number]> {
    return this.entries();
  }
}

function countOf(s: string, sub: string): number {
  let n = 0;
  let i = s.indexOf(sub);
  while (i !== -1) {
    n++;
    i = s.indexOf(sub, i + sub.length);
  }
  return n;
}

/** True when `path` is `prefix` or lies under it, compared part by part (`a` is not a prefix of `"a.b"`). */
export function isKeyPathPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  if (path.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (path[i] !== prefix[i]) return false;
  return true;
}

/** The range of lines (0-based, end exclusive) that a table and its sub-tables occupy, by header. */
export function tableRanges(text: string, tablePath: readonly string[]): Array<[number, number]> {
  const lines = text.split(/\r?\n/);
  const ranges: Array<[number, number]> = [];
  let start: number | undefined;
  let inMulti: '"""' | "'''" | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (inMulti !== undefined) {
      if (countOf(line, inMulti) % 2 === 1) inMulti = undefined;
      continue;
    }
    const h = HEADER.exec(line);
    if (h !== null && !line.trimStart().startsWith('#')) {
      const parts = splitKeyPath(h[2] ?? '');
      const mine = parts !== undefined && isKeyPathPrefix(tablePath, parts);
      if (mine && start === undefined) start = i;
      else if (!mine && start !== undefined) {
        // Comments right above the next header belong to it.
        let end = i;
        while (end - 1 > start && /^\s*#/.test(lines[end - 1] ?? '')) end--;
        ranges.push([start, end]);
        start = undefined;
      }
      continue;
    }
    const k = KEY.exec(line);
    if (k !== null) {
      const rest = k[2] ?? '';
      for (const q of ['"""', "'''"] as const) {
        if (countOf(rest, q) % 2 === 1) {
          inMulti = q;
          break;
        }
      }
    }
  }
  if (start !== undefined) ranges.push([start, lines.length]);
  return ranges;
}
