// HTML that is safe by construction. The `markup` template tag escapes every value put into it unless the value
// is itself Html made by the tag, so a model's output, a suite name or a file name can only ever be text:
// never a tag, an attribute or a script. Markup exists only in the templates' literal parts, which we write.
// Control characters in such text are shown as escapes (`\x00`, `\u202e`): a NUL is not valid in an HTML
// document, and a bidirectional override would reorder the text after it on the page.

import { escapeControlCharacters } from "../text/terminal-text";

/** Markup made by `markup`: its text is already safe to place in a document. */
export class Html {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }
}

/** What a template can hold: text and numbers (escaped), Html (as is), lists of them; nothing for null, undefined, false. */
export type HtmlValue = Html | string | number | false | null | undefined | readonly HtmlValue[];

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text for an element's content or a quoted attribute value; tabs and line breaks are whitespace there. */
function escapeHtml(text: string): string {
  return escapeControlCharacters(text, "\t\n\r").replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

export function markup(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): Html {
  let text = strings[0] ?? "";
  values.forEach((value, i) => {
    text += render(value) + (strings[i + 1] ?? "");
  });
  return new Html(text);
}

/** A number shown formatted, its exact value kept in `<data value>` for anyone who reads the page by machine. */
export function dataValue(value: number, shown: string): Html {
  return markup`<data value="${String(value)}">${shown}</data>`;
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.text;
  if (typeof value === "number") return escapeHtml(String(value));
  if (typeof value === "string") return escapeHtml(value);
  return value.map(render).join("");
}
