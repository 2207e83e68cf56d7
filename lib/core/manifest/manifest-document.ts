// Reads a manifest's text — YAML or JSON — into plain data, turning every syntax problem into a finding
// with its line and column. Duplicate keys are errors in both (JSON.parse would silently keep the last),
// and YAML alias bombs and input nested past the stack are refused, never expanded or crashed on.
//
// A manifest is plain data: maps, lists, text, numbers, booleans and null. YAML can say more — `!!binary`
// makes bytes, `!!set` a Set, `!!timestamp` a Date, an application tag (`!python/object`) whatever a reader
// maps it to, and a `%YAML 1.1` directive turns `yes`, `n` or `2001-12-14` into booleans and dates — and none
// of it is a setting. So every tag other than the core schema's own (`!!str`, `!!int`, `!!float`, `!!bool`,
// `!!null`, `!!map`, `!!seq`, which only say what plain YAML already means) is a finding naming its line and
// path, as is any YAML version but 1.2, and such a document is never turned into data.
// Anchors and aliases stay allowed (a prompt written once and used twice is plain data), bounded by
// MAX_YAML_ALIASES so an alias bomb is a finding, not an expansion.

import { isMap, isNode, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { CappedFindings } from "../capped-findings";
import type { Finding } from "../findings";
import { JsonBytes, JsonSyntaxError } from "../json-bytes";
import { findDuplicateJsonKeys } from "../json-duplicate-keys";
import { type FindingSource, formatPath } from "../schema-findings";

/** YAML anchors may be reused this many times; more is a resource-exhaustion attack, not a manifest. */
const MAX_YAML_ALIASES = 100;
/** The core schema's tags: each only restates what an untagged value of plain YAML already is. */
const PLAIN_TAGS = new Set(
  ["str", "int", "float", "bool", "null", "map", "seq"].map((name) => `tag:yaml.org,2002:${name}`),
);

/** The document's data; `readable` false when syntax errors leave nothing trustworthy to check. */
export interface ReadDocument {
  readonly readable: boolean;
  readonly data?: unknown;
  readonly findings: Finding[];
}

function readYaml(text: string, source: FindingSource): ReadDocument {
  const findings = new CappedFindings();
  const located = (severity: Finding["severity"], kind: string, message: string): Finding => ({
    severity,
    code: `manifest.${kind}`,
    ...(source.file === undefined ? {} : { file: source.file }),
    message,
  });
  try {
    const lines = new LineCounter();
    // Duplicate keys are found by the walk below, in one pass: the parser's own check compares each key with
    // every earlier one of its mapping, which is quadratic in a manifest of many keys.
    const document = parseDocument(text, { uniqueKeys: false, prettyErrors: true, lineCounter: lines });
    for (const error of document.errors) {
      const at = error.linePos?.[0];
      const where = at ? `line ${at.line}, column ${at.col}` : `offset ${error.pos[0]}`;
      findings.add(
        located("error", "yaml-syntax", `YAML syntax error at ${where}: ${firstLine(error.message)}.`),
      );
    }
    for (const warning of document.warnings) {
      // An unknown tag is refused below, as an error; the parser's warning about it would say it twice.
      if (warning.code === "TAG_RESOLVE_FAILED") continue;
      const at = warning.linePos?.[0];
      const where = at ? ` at line ${at.line}, column ${at.col}` : "";
      findings.add(located("warning", "yaml-warning", `YAML${where}: ${firstLine(warning.message)}.`));
    }
    if (document.errors.length > 0) return { readable: false, findings: findings.list() };
    // Duplicate keys leave the document readable: check the rest of it too, to report everything at once.
    const checked = checkNodes(document.directives.yaml, document.contents, lines, located);
    findings.addAll(checked.duplicates);
    findings.addAll(checked.notPlain);
    if (checked.notPlain.length > 0) return { readable: false, findings: findings.list() };
    return {
      readable: true,
      data: document.toJS({ maxAliasCount: MAX_YAML_ALIASES }),
      findings: findings.list(),
    };
  } catch (error) {
    // The parser refuses alias bombs and input nested deeper than the stack allows by throwing.
    const reason = error instanceof Error ? firstLine(error.message) : String(error);
    findings.add(located("error", "yaml-syntax", `the YAML cannot be read: ${reason}.`));
    return { readable: false, findings: findings.list() };
  }
}

/** Where a node sits: its parent's place and its own key or index, turned into a path only when reported. */
interface NodePlace {
  readonly parent?: NodePlace;
  readonly segment?: string | number;
}

function pathOf(place: NodePlace): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at: NodePlace | undefined = place; at?.segment !== undefined; at = at.parent) {
    path.unshift(at.segment);
  }
  return path;
}

/**
 * One walk over the document's nodes: a finding for each key repeated in its mapping, for a `%YAML` directive
 * other than 1.2, and for each node with a tag outside the core schema's plain ones — in document order, with
 * line and path. Iterative, each node visited once (an alias is a reference and is not followed): bounded by
 * the text.
 */
function checkNodes(
  directive: { readonly version: string; readonly explicit?: boolean },
  contents: Node | null,
  lines: LineCounter,
  located: (severity: Finding["severity"], kind: string, message: string) => Finding,
): { duplicates: Finding[]; notPlain: Finding[] } {
  const lineOf = (node: Node): { line: number; col: number } | undefined =>
    node.range ? lines.linePos(node.range[0]) : undefined;
  const duplicates: { offset: number; finding: Finding }[] = [];
  const tagged: { node: Node; place: NodePlace }[] = [];
  const pending: { node: Node; place: NodePlace }[] = contents ? [{ node: contents, place: {} }] : [];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { node, place } = next;
    if (node.tag !== undefined && !PLAIN_TAGS.has(node.tag)) tagged.push(next);
    if (isMap(node)) {
      const keys = new Set<string>();
      for (const pair of node.items) {
        if (isNode(pair.key)) pending.push({ node: pair.key, place });
        const segment = isScalar(pair.key) ? String(pair.key.value) : "?";
        if (isScalar(pair.key)) {
          if (keys.has(segment)) {
            const at = lineOf(pair.key);
            duplicates.push({
              offset: pair.key.range?.[0] ?? 0,
              finding: located(
                "error",
                "duplicate-key",
                `duplicate key '${segment}'${at ? ` at line ${at.line}, column ${at.col}` : ""}: a key may appear only once in a mapping.`,
              ),
            });
          }
          keys.add(segment);
        }
        if (isNode(pair.value)) pending.push({ node: pair.value, place: { parent: place, segment } });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        if (isNode(item)) pending.push({ node: item, place: { parent: place, segment: index } });
      });
    }
  }

  const notPlain: Finding[] = [];
  if (directive.explicit && directive.version !== "1.2") {
    notPlain.push(
      located(
        "error",
        "yaml-version",
        `the manifest says %YAML ${directive.version}; manifests are YAML 1.2, where yes/no/on/off and dates are text, not values of their own.`,
      ),
    );
  }
  tagged.sort((a, b) => (a.node.range?.[0] ?? 0) - (b.node.range?.[0] ?? 0));
  for (const { node, place } of tagged) {
    const at = lineOf(node);
    const path = pathOf(place);
    const shown = (node.tag ?? "").replace(/^tag:yaml\.org,2002:/, "!!");
    notPlain.push({
      ...located(
        "error",
        "yaml-tag",
        `the tag ${shown}${at ? ` on line ${at.line}` : ""} asks for a value that is not plain YAML; a manifest holds only maps, lists, text, numbers, booleans and null.`,
      ),
      ...(path.length > 0 && { path: formatPath(path) }),
      hint: "Remove the tag and write the value as plain YAML (in quotes if it must stay text).",
    });
  }
  duplicates.sort((a, b) => a.offset - b.offset);
  return { duplicates: duplicates.map((d) => d.finding), notPlain };
}

function readJson(text: string, source: FindingSource): ReadDocument {
  if (text.trim() === "") return { readable: true, findings: [] };
  const file = source.file === undefined ? {} : { file: source.file };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // Where it breaks, quoting a few escaped bytes at most (JSON.parse's message quotes the text raw).
    const reason = jsonSyntaxReason(text);
    return {
      readable: false,
      findings: [
        {
          severity: "error",
          code: "manifest.json-syntax",
          ...file,
          message: `JSON syntax error: ${reason}.`,
        },
      ],
    };
  }
  const findings: Finding[] = findDuplicateJsonKeys(text).map((duplicate) => ({
    severity: "error",
    code: "manifest.duplicate-key",
    ...file,
    path: formatPath([...duplicate.path, duplicate.key]),
    message: `duplicate key '${duplicate.key}' at line ${duplicate.line}, column ${duplicate.column}: a key may appear only once in an object.`,
  }));
  return { readable: true, data, findings };
}

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "").replace(/[.:]$/, "");
}

function jsonSyntaxReason(text: string): string {
  try {
    new JsonBytes(new TextEncoder().encode(text)).document();
  } catch (error) {
    if (error instanceof JsonSyntaxError) return error.message;
    throw error;
  }
  return "not valid JSON";
}

/** Blank text is an empty document (all defaults); `extension` picks JSON or YAML. */
export function readManifestDocument(
  text: string,
  extension: "yaml" | "yml" | "json",
  source: FindingSource,
): ReadDocument {
  return extension === "json" ? readJson(text, source) : readYaml(text, source);
}
