/**
 * Redaction of HTTP exchanges for the `onExchange` debug hook: headers, form bodies and JSON bodies.
 * @module
 */

import { REDACTED, redactText } from '../redact.js';
import { isSecretField, isSecretHeader } from '../secret-fields.js';
import type { FormValue } from './types.js';

/** True when a form or JSON field of this name carries a secret (the catalogue in `src/secret-fields.ts`). */
export { isSecretField } from '../secret-fields.js';

/** Redacts header values: credentials keep only their scheme (`Basic [REDACTED]`). */
export function redactHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    const v = Array.isArray(raw) ? raw.join(', ') : raw;
    if (isSecretHeader(k)) {
      const scheme = /^([A-Za-z]+)\s/.exec(v)?.[1];
      out[k] = scheme ? `${scheme} ${REDACTED}` : REDACTED;
    } else out[k] = redactText(v);
  }
  return out;
}

/** Redacts a form body: secret fields' values are replaced, the rest run through {@link redactText}. */
export function redactForm(form: Record<string, FormValue>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) {
    for (const one of v === undefined ? [] : typeof v === 'string' ? [v] : v)
      p.append(k, isSecretField(k) ? REDACTED : one);
  }
  return redactText(p.toString().replaceAll(encodeURIComponent(REDACTED), REDACTED));
}

/** Deep-copies JSON, replacing the values of secret fields. */
export function redactJsonValue(value: unknown, depth = 0): unknown {
  if (depth > 20) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactJsonValue(v, depth + 1));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretField(k) && v !== null && v !== undefined ? REDACTED : redactJsonValue(v, depth + 1);
    }
    return out;
  }
  if (typeof value === 'string') return redactText(value);
  return value;
}

/** Redacts a response or request body given as text: JSON is redacted field by field, anything else as text. */
export function redactBodyText(text: string): string {
  const t = text.trim();
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.stringify(redactJsonValue(JSON.parse(t)));
    } catch {
      // not JSON after all (or truncated): fall through to text redaction
    }
  }
  if (/^[\w.%+-]+=/.test(t) && !t.includes(' ')) {
    const form: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(t)) form[k] = v;
    return redactForm(form);
  }
  return redactText(text);
}
