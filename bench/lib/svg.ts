/**
 * Plain SVG charts for bench/RESULTS.md (no dependency): horizontal bars of the ratios of a figure's table
 * against its reference (the floor or a peer, drawn as a line at 1×), and the time-to-served curves of a
 * herd (callers served against time, one line per client). `bench/main.ts` writes them next to
 * RESULTS.md and links them from it.
 */

/** A chart ready to write: `<id>.svg`, linked from RESULTS.md with `title` as its text. */
export interface ChartSpec {
  id: string;
  title: string;
  svg: string;
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];

/** Escapes text for SVG content and attributes. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Markdown code spans and emphasis out of a table cell, for a chart label. */
export function plainLabel(s: string): string {
  return s.replace(/[`*]/g, '').replace(/\s+/g, ' ').trim();
}

/** A "nice" axis maximum and step at or above `max`. */
function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw) ?? 10 * mag;
  return { top: Math.ceil(max / step) * step, step };
}

function fmtTick(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 1 ? 2 : 1).replace(/0+$/, '');
}

/**
 * Horizontal bars, one per row, with the value written at the end of each bar and a dashed line at 1×
 * (the reference the ratios were taken against).
 */
export function ratioChart(options: {
  id: string;
  title: string;
  /** What 1× is, e.g. "raw `fetch`". */
  reference: string;
  bars: ReadonlyArray<{ label: string; value: number; text?: string }>;
}): ChartSpec {
  const bars = options.bars.filter((b) => Number.isFinite(b.value));
  const labelW = Math.min(
    520,
    Math.max(160, ...bars.map((b) => Math.ceil(plainLabel(b.label).length * 6.4) + 16)),
  );
  const plotW = 420;
  const rowH = 24;
  const top = 46;
  const width = labelW + plotW + 70;
  const height = top + bars.length * rowH + 40;
  const { top: maxV, step } = niceScale(Math.max(1, ...bars.map((b) => b.value)) * 1.05);
  const x = (v: number) => labelW + (v / maxV) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
  );
  out.push(`<title>${esc(plainLabel(options.title))}</title>`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="10" y="20" font-size="14" font-weight="600">${esc(plainLabel(options.title))}</text>`);
  out.push(
    `<text x="10" y="36" fill="#4b5563">× ${esc(plainLabel(options.reference))} (lower is better; dashed line: 1×)</text>`,
  );
  for (let v = 0; v <= maxV + 1e-9; v += step) {
    const gx = x(v).toFixed(1);
    out.push(
      `<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + bars.length * rowH}" stroke="#e5e7eb"/>`,
      `<text x="${gx}" y="${top + bars.length * rowH + 14}" text-anchor="middle" fill="#6b7280">${fmtTick(v)}×</text>`,
    );
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, x(b.value) - labelW);
    out.push(
      `<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(plainLabel(b.label))}</text>`,
      `<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${b.value <= 1 ? '#16a34a' : '#2563eb'}" rx="2"/>`,
      `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 16}" fill="#111827">${esc(b.text ?? `${b.value.toFixed(2)}×`)}</text>`,
    );
  });
  const one = x(1).toFixed(1);
  out.push(
    `<line x1="${one}" y1="${top - 4}" x2="${one}" y2="${top + bars.length * rowH}" stroke="#111827" stroke-dasharray="4 3"/>`,
  );
  out.push('</svg>');
  return { id: options.id, title: options.title, svg: `${out.join('\n')}\n` };
}

/**
 * Callers served against time: for each client, a step line rising by one at each caller's
 * time-to-served (ms from the start signal), so the whole herd's progress is visible at a glance.
 */
export function servedChart(options: {
  id: string;
  title: string;
  series: ReadonlyArray<{ label: string; values: readonly number[] }>;
}): ChartSpec {
  const series = options.series.filter((s) => s.values.length > 0);
  const width = 760;
  const height = 340 + 18 * series.length;
  const left = 56;
  const right = 24;
  const top = 40;
  const plotH = 240;
  const plotW = width - left - right;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const { top: maxT, step } = niceScale(Math.max(1, ...series.flatMap((s) => s.values)));
  const yStep = niceScale(n).step;
  const x = (ms: number) => left + (ms / maxT) * plotW;
  const y = (k: number) => top + plotH - (k / n) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
  );
  out.push(`<title>${esc(plainLabel(options.title))}</title>`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="10" y="20" font-size="14" font-weight="600">${esc(plainLabel(options.title))}</text>`);
  for (let v = 0; v <= maxT + 1e-9; v += step) {
    const gx = x(v).toFixed(1);
    out.push(
      `<line x1="${gx}" y1="${top}" x2="${gx}" y2="${top + plotH}" stroke="#e5e7eb"/>`,
      `<text x="${gx}" y="${top + plotH + 16}" text-anchor="middle" fill="#6b7280">${fmtTick(v)}</text>`,
    );
  }
  for (let k = 0; k <= n; k += yStep) {
    const gy = y(k).toFixed(1);
    out.push(
      `<line x1="${left}" y1="${gy}" x2="${left + plotW}" y2="${gy}" stroke="#f3f4f6"/>`,
      `<text x="${left - 6}" y="${(Number(gy) + 4).toFixed(1)}" text-anchor="end" fill="#6b7280">${k}</text>`,
    );
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle" fill="#374151">ms from the start signal</text>`,
    `<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle" fill="#374151">callers served</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts: string[] = [`${x(0).toFixed(1)},${y(0).toFixed(1)}`];
    [...s.values]
      .sort((a, b) => a - b)
      .forEach((v, k) => {
        pts.push(`${x(v).toFixed(1)},${y(k).toFixed(1)}`, `${x(v).toFixed(1)},${y(k + 1).toFixed(1)}`);
      });
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const ly = top + plotH + 56 + i * 18;
    out.push(
      `<rect x="${left}" y="${ly - 9}" width="14" height="4" fill="${color}"/>`,
      `<text x="${left + 20}" y="${ly - 3}">${esc(plainLabel(s.label))} — ${s.values.length} callers, last at ${fmtTick(Math.round(Math.max(...s.values)))} ms</text>`,
    );
  });
  out.push('</svg>');
  return { id: options.id, title: options.title, svg: `${out.join('\n')}\n` };
}

/**
 * The ratio chart of a figure's table: the first column whose header has "×" gives the values (cells
 * like `1.05×`), the columns before it the labels. Undefined when the table has no such column.
 */
export function tableRatioChart(
  id: string,
  title: string,
  columns: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
): ChartSpec | undefined {
  const col = columns.findIndex((c) => c.includes('×'));
  if (col < 0) return undefined;
  const bars = rows.flatMap((r) => {
    const m = /^([0-9.]+)×/.exec((r[col] ?? '').trim());
    if (m === null) return [];
    const labelCols = col <= 1 ? r.slice(0, 1) : r.slice(0, Math.min(col, 2));
    return [{ label: labelCols.map(plainLabel).join(' · '), value: Number(m[1]) }];
  });
  if (bars.length === 0) return undefined;
  const header = columns[col]!.replace('×', '').trim();
  return ratioChart({ id, title, reference: header === '' ? 'the reference' : header, bars });
}
