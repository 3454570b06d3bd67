/**
 * Durations on the command line (`60s`, `5m`, `1h30m`, `500ms`, a bare number of seconds) and in
 * messages (`4m12s`).
 * @module
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration into milliseconds; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(t); m !== null; m = re.exec(t)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 1000);
    matched = re.lastIndex;
  }
  return matched === t.length && matched > 0 ? total : undefined;
}

/** Formats milliseconds as `1h2m`, `4m12s`, `12s` or `0.3s` (sign dropped). */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 10_000 && abs % 1000 !== 0) return `${(abs / 1000).toFixed(1)}s`;
  let s = Math.round(abs / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** `expires in 4m12s` / `expired 3s ago`, relative to `now`. */
export function describeExpiry(expiresAt: number, now: number): string {
  const d = expiresAt - now;
  return d >= 0 ? `expires in ${formatDuration(d)}` : `expired ${formatDuration(d)} ago`;
}

/** `in 4m12s` / `3s ago`. */
export function relative(at: number, now: number): string {
  const d = at - now;
  return d >= 0 ? `in ${formatDuration(d)}` : `${formatDuration(d)} ago`;
}

/** A local date-time `2024-05-01 14:03:07 +02:00`. */
export function localTime(ms: number): string {
  const dt = new Date(ms);
  const p = (n: number) => String(Math.abs(n)).padStart(2, '0');
  const off = -dt.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return `${dt.getFullYear()}-${p(dt.getMonth() + 1)}-${p(dt.getDate())} ${p(dt.getHours())}:${p(dt.getMinutes())}:${p(dt.getSeconds())} ${sign}${p(Math.trunc(off / 60))}:${p(off % 60)}`;
}
