// Shortens a text a person reads — a server's error message kept as an example, a reason in a summary — to a
// bound without cutting a word in two: at the last space before the bound, with an ellipsis saying that more
// was there. A half word ("… this server's cont") reads as a different, wrong message.

/** Below this share of the bound, a cut at a space loses too much: the text is cut mid-word instead. */
const MIN_KEPT_SHARE = 0.5;
const ELLIPSIS = "…";

/**
 * `text` when it has at most `maxChars` characters; otherwise its start up to the last whitespace that keeps
 * at least half of the bound, then `…`, at most `maxChars` characters in all. A text with no such space (one
 * long token, a URL) is cut at the bound, still with `…`.
 */
export function clipText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const room = Math.max(0, maxChars - ELLIPSIS.length);
  const head = text.slice(0, room + 1);
  const space = head.search(/\s\S*$/);
  const cut = space >= room * MIN_KEPT_SHARE ? space : room;
  return `${text.slice(0, cut).trimEnd()}${ELLIPSIS}`;
}
