// Reads a manifest's text — YAML or JSON — into plain data, turning every syntax problem into a finding
// with its line and column. Duplicate keys are errors in both (JSON.parse would silently keep the last),
// and YAML alias bombs and input nested past the stack are refused, never expanded or crashed on.

import { parseDocument } from "yaml";
import type { Finding } from "./findings";
import { findDuplicateJsonKeys } from "./json-duplicate-keys";
import { type FindingSource, formatPath } from "./schema-findings";

/** YAML anchors may be reused this many times; more is a resource-exhaustion attack, not a manifest. */
const MAX_YAML_ALIASES = 100;

/** The document's data; `readable` false when syntax errors leave nothing trustworthy to check. */
export interface ReadDocument {
  readonly readable: boolean;
  readonly data?: unknown;
  readonly findings: Finding[];
}

function readYaml(text: string, source: FindingSource): ReadDocument {
  const findings: Finding[] = [];
  const located = (severity: Finding["severity"], kind: string, message: string): Finding => ({
    severity,
    code: `manifest.${kind}`,
    ...(source.file === undefined ? {} : { file: source.file }),
    message,
  });
  try {
    const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    for (const error of document.errors) {
      const at = error.linePos?.[0];
      const where = at ? `line ${at.line}, column ${at.col}` : `offset ${error.pos[0]}`;
      if (error.code === "DUPLICATE_KEY") {
        const key = at ? keyAt(text, at.line, at.col) : undefined;
        findings.push(
          located(
            "error",
            "duplicate-key",
            `duplicate key${key ? ` '${key}'` : ""} at ${where}: a key may appear only once in a mapping.`,
          ),
        );
      } else {
        findings.push(
          located("error", "yaml-syntax", `YAML syntax error at ${where}: ${firstLine(error.message)}.`),
        );
      }
    }
    for (const warning of document.warnings) {
      const at = warning.linePos?.[0];
      const where = at ? ` at line ${at.line}, column ${at.col}` : "";
      findings.push(located("warning", "yaml-warning", `YAML${where}: ${firstLine(warning.message)}.`));
    }
    // Duplicate keys leave the document readable: check the rest of it too, to report everything at once.
    if (document.errors.some((e) => e.code !== "DUPLICATE_KEY")) return { readable: false, findings };
    return { readable: true, data: document.toJS({ maxAliasCount: MAX_YAML_ALIASES }), findings };
  } catch (error) {
    // The parser refuses alias bombs and input nested deeper than the stack allows by throwing.
    const reason = error instanceof Error ? firstLine(error.message) : String(error);
    return {
      readable: false,
      findings: [...findings, located("error", "yaml-syntax", `the YAML cannot be read: ${reason}.`)],
    };
  }
}

function readJson(text: string, source: FindingSource): ReadDocument {
  if (text.trim() === "") return { readable: true, findings: [] };
  const file = source.file === undefined ? {} : { file: source.file };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/\s+/g, " ") : String(error);
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

/** The key written at a YAML position: the text from the column up to the `:`. */
function keyAt(text: string, line: number, column: number): string | undefined {
  const lineText = text.split("\n")[line - 1];
  const key = lineText
    ?.slice(column - 1)
    .split(":")[0]
    ?.trim();
  return key || undefined;
}

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "").replace(/[.:]$/, "");
}

/** Blank text is an empty document (all defaults); `extension` picks JSON or YAML. */
export function readManifestDocument(
  text: string,
  extension: "yaml" | "yml" | "json",
  source: FindingSource,
): ReadDocument {
  return extension === "json" ? readJson(text, source) : readYaml(text, source);
}
