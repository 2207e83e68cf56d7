// Reads a rendered HTML page back the way its reader sees it, without a browser: the text of a fragment (tags
// dropped, entities decoded), an element by id, a table's rows by its caption, the exact numbers kept in
// `<data value>`, and whether every element the page opens is closed in order.

const TAG =
  /<!--[\s\S]*?-->|<!DOCTYPE[^>]*>|<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g;
const VOID_ELEMENTS = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "source",
  "track",
  "wbr",
]);
const ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  "#39": "'",
  nbsp: " ",
};

interface Tag {
  readonly name: string;
  readonly closing: boolean;
  readonly selfClosing: boolean;
  readonly attributes: string;
  readonly start: number;
  readonly end: number;
}

function tags(page: string): Tag[] {
  const found: Tag[] = [];
  for (const match of page.matchAll(TAG)) {
    const [whole, slash, name, attributes, selfClose] = match;
    if (name === undefined) continue;
    found.push({
      name: name.toLowerCase(),
      closing: slash === "/",
      selfClosing: selfClose === "/" || VOID_ELEMENTS.has(name.toLowerCase()),
      attributes: attributes ?? "",
      start: match.index,
      end: match.index + whole.length,
    });
  }
  return found;
}

/** Elements a browser sets apart from the text around them; other tags (code, em, data …) sit inside a line. */
const BLOCK_ELEMENTS =
  /^(p|div|section|header|footer|main|nav|h\d|ul|ol|li|dl|dt|dd|table|caption|thead|tbody|tr|td|th|br|figure|svg|title|desc|text|g)$/;

/** What a reader sees of a fragment: its text without tags, entities decoded, whitespace collapsed. */
export function visibleText(fragment: string): string {
  const text = fragment.replace(TAG, (tag, _slash, name?: string) =>
    name !== undefined && BLOCK_ELEMENTS.test(name.toLowerCase()) ? " " : "",
  );
  return decodeEntities(text).replace(/\s+/g, " ").trim();
}

function decodeEntities(text: string): string {
  return text.replace(/&(#?\w+);/g, (entity, name: string) => ENTITIES[name] ?? entity);
}

/** Problems with the page's structure: a closing tag that does not close the open element, one never closed. */
export function structureProblems(page: string): string[] {
  const open: Tag[] = [];
  const problems: string[] = [];
  for (const tag of tags(page)) {
    if (tag.selfClosing) continue;
    if (!tag.closing) {
      open.push(tag);
      continue;
    }
    const top = open.pop();
    if (top?.name !== tag.name) {
      problems.push(`</${tag.name}> at ${tag.start} closes <${top?.name ?? "nothing"}>`);
      if (top) open.push(top);
    }
  }
  return [...problems, ...open.map((tag) => `<${tag.name}> at ${tag.start} is never closed`)];
}

/** How many elements of this name the page opens. */
export function countElements(page: string, name: string): number {
  return tags(page).filter((t) => t.name === name && !t.closing).length;
}

/** The element with this id, tags included; throws if there is none. */
export function elementById(page: string, id: string): string {
  const all = tags(page);
  const at = all.findIndex((t) => !t.closing && new RegExp(`\\bid="${id}"`).test(t.attributes));
  const opening = all[at];
  if (!opening) throw new Error(`the page has no element with id "${id}"`);
  let depth = 0;
  for (const tag of all.slice(at)) {
    if (tag.name !== opening.name || tag.selfClosing) continue;
    depth += tag.closing ? -1 : 1;
    if (depth === 0) return page.slice(opening.start, tag.end);
  }
  throw new Error(`<${opening.name} id="${id}"> is never closed`);
}

/** The rows of the table whose caption reads (or matches) `caption`, header row first, each cell's HTML. */
function tableRows(page: string, caption: string | RegExp): string[][] {
  for (const match of page.matchAll(/<table[\s>][\s\S]*?<\/table>/g)) {
    const table = match[0];
    const captionText = /<caption>([\s\S]*?)<\/caption>/.exec(table)?.[1];
    if (captionText === undefined) continue;
    const text = visibleText(captionText);
    if (typeof caption === "string" ? text !== caption : !caption.test(text)) continue;
    return [...table.matchAll(/<tr[\s>]([\s\S]*?)<\/tr>/g)].map((row) =>
      [...(row[1] ?? "").matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((cell) => cell[1] ?? ""),
    );
  }
  throw new Error(`the page has no table captioned "${caption}"`);
}

/** The table's body rows as objects: header text → the cell's HTML. */
export function tableRecords(page: string, caption: string | RegExp): Record<string, string>[] {
  const [header, ...rows] = tableRows(page, caption);
  const names = (header ?? []).map(visibleText);
  return rows.map((cells) => Object.fromEntries(cells.map((cell, i) => [names[i] ?? String(i), cell])));
}

/** The exact numbers a fragment keeps in `<data value="…">`, in order. */
export function dataValues(fragment: string): number[] {
  return [...fragment.matchAll(/<data value="([^"]*)">/g)].map((m) => Number(m[1]));
}
