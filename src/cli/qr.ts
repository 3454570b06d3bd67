/**
 * The device flow's QR code on a terminal: `verification_uri_complete` drawn with Unicode half blocks
 * (two modules a character cell) by `uqr`, which is imported only here, and only when a device flow
 * shows its code on a terminal — never on the `token` path.
 * @module
 */

/** Longest `verification_uri_complete` drawn: beyond it the code grows past a usual terminal. */
export const QR_MAX_CHARS = 256;

/**
 * `text` as a QR code for a terminal (lines of `█ ▀ ▄` and spaces, light modules drawn, so it reads
 * on a dark background and most phone scanners read it inverted too), or `undefined` when the text is
 * too long, the code is wider than `columns`, or the renderer cannot be loaded.
 */
export async function terminalQr(text: string, columns?: number): Promise<string | undefined> {
  if (text.length === 0 || text.length > QR_MAX_CHARS) return undefined;
  let render: typeof import('uqr')['renderUnicodeCompact'];
  try {
    ({ renderUnicodeCompact: render } = await import('uqr'));
  } catch {
    return undefined;
  }
  let qr: string;
  try {
    qr = render(text, { ecc: 'L', border: 2 });
  } catch {
    return undefined;
  }
  const width = qr.indexOf('\n') < 0 ? qr.length : qr.indexOf('\n');
  if (columns !== undefined && columns > 0 && width > columns) return undefined;
  return qr;
}
