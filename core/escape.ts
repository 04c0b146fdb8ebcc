// Strings from the endpoint (process names, command lines, paths) are attacker-controlled: nothing they hold
// may reach a terminal or a spreadsheet as anything but text.

// C0 controls, DEL, C1 controls (a lone U+009B is a CSI on some terminals), zero-width characters and marks,
// line/paragraph separators, the bidirectional overrides and isolates that can make a name read backwards,
// invisible operators and the byte-order mark.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** Visible, one-line form of an untrusted string: \n, \t, \e as escapes, everything else unsafe as \xNN / \uNNNN. */
export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    if (code === 0x1b) return '\\e';
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

// What JSON.stringify leaves raw inside strings (it escapes C0 itself; C0 outside strings is layout).
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** JSON text with the unsafe characters that JSON.stringify leaves raw (DEL, C1, bidi) written as \u escapes. */
export function safeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One CSV cell: quoted when needed, and neutralised against formula injection (OWASP: = + - @ tab CR). */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = Array.isArray(value) ? value.join(' ') : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  text = text.replace(UNSAFE, (c) => (c === '\n' || c === '\r' || c === '\t' ? ' ' : escapeForTerminal(c)));
  return /[",\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}
