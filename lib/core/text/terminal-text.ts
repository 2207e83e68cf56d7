// Text that came from outside — file and tensor names, manifest values, model output, messages that quote
// them — made safe to show. A control character printed raw acts on the terminal instead of being read: a
// file named `x\n✓ valid` prints a fake line, `\x1b[2J` clears the screen, an OSC sequence retitles the window
// or plants a link; and a bidirectional override (U+202E) makes `model.gguf.exe` read as something else. Each
// is shown as an escape instead (`\n`, `\x1b`, `\u202e`), so what a user reads is what the file holds.

/**
 * C0 controls, DEL and C1 controls (a terminal acts on all of them; 0x9b is an 8-bit CSI), the line and
 * paragraph separators, and the bidirectional formatting characters (marks, embeddings, overrides, isolates).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is this file's purpose
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

const NAMED_ESCAPES: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** How one control character is shown: `\n`, `\x1b`, `\u202e`. */
function visibleEscape(char: string): string {
  const named = NAMED_ESCAPES[char];
  if (named !== undefined) return named;
  const code = char.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * `text` with every control character shown as an escape, except those in `keep` (e.g. "\n" where line breaks
 * are layout, "\t\n\r" in a web page's text, where they are only whitespace).
 */
export function escapeControlCharacters(text: string, keep = ""): string {
  return text.replace(CONTROL_CHARACTERS, (char) => (keep.includes(char) ? char : visibleEscape(char)));
}

/** One line for a terminal: nothing in it can break the line, move the cursor or reorder what follows. */
export function terminalText(text: string): string {
  return escapeControlCharacters(text);
}

/** Lines for a terminal: the line breaks stay, every other control character is escaped. */
export function terminalLines(text: string): string {
  return escapeControlCharacters(text, "\n");
}
