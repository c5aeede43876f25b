// Escaping of request-derived text in access log lines, as nginx does: control characters
// (C0, DEL, C1), the double quote and the backslash become \xHH. A client can then neither
// start a forged line (a newline in a header, or in the Basic-auth user name) nor close a
// quoted field early, and each line stays one line a parser can split.
const UNSAFE = /[\x00-\x1f\x22\x5c\x7f-\x9f]/;
const UNSAFE_ALL = /[\x00-\x1f\x22\x5c\x7f-\x9f]/g;

const hex = (c: string): string => `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;

/** `s` with its unsafe characters as \xHH; the same string (no copy) when there are none. */
export function escapeLogText(s: string): string {
  return UNSAFE.test(s) ? s.replace(UNSAFE_ALL, hex) : s;
}
