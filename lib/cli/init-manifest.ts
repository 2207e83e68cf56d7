// The text `modelship init` writes: a modelship.yaml for a model folder it has validated. It names the
// JSON Schema on its first line (yaml-language-server's modeline) so an editor checks it as it is edited;
// sets what the weights decide (format, runtime, maxModelLen) with the reason beside each; shows the GPU
// plan as a comment; and lists the gates' and the rollout's defaults as comments — taken from the JSON
// Schema's `default`s, themselves the stack config's, so a default shown here is the one that applies.

import { Document, isScalar, stringify, visit } from "yaml";
import { DEFAULT_STACK_CONFIG } from "../core/config/config";
import { manifestJsonSchema } from "../core/manifest/manifest-json-schema";
import type { ValidationReport } from "../pipeline/validate";

const WIDTH = 110;

type SchemaNode = {
  readonly default?: unknown;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
};

/**
 * Settings shown commented with the defaults although they apply only beside another setting: uncommented
 * alone, the parser refuses them (rollout.linear without strategy: linear). Left out of the defaults block.
 */
const ONLY_WITH_ANOTHER_SETTING = new Set(["rollout.linear"]);

/** The modelship.yaml for the validated folder; `schemaRef` is the path or URL of the manifest's JSON Schema. */
export function initManifestText(report: ValidationReport, schemaRef: string): string {
  const { serving } = report;
  const lines = [
    `# yaml-language-server: $schema=${schemaRef}`,
    ...commentLines(
      `modelship.yaml for ${report.model ?? "the model"}, written by \`modelship init\` from the weights in this folder. Every setting is optional; \`modelship validate <folder>\` checks this file with the weights, and the schema named above lets your editor check it as you type.`,
    ),
    "",
    ...commentLines(`The weights: ${weightsSummary(report)}.`),
    `format: ${report.format}`,
    "",
    "serving:",
    ...commentLines(servingReason(report, "runtime"), "  "),
    `  runtime: ${serving.runtime}`,
    ...commentLines(servingReason(report, "maxModelLen"), "  "),
    `  maxModelLen: ${serving.maxModelLen}`,
    ...commentLines(gpuPlanText(report), "  "),
    ...commentLines(
      `gpus: ${stringify(serving.gpus).trim()} sizes the GPUs from the weights and the context; a number overrides it. The image is the stack's first for ${serving.runtime} (${serving.image}).`,
      "  ",
    ),
    "",
    ...commentLines(
      "The gates and the rollout: the stack's defaults, which apply while these lines stay commented. Uncomment a setting (with the lines above it that hold it) to change it.",
    ),
    ...defaultsBlock(),
  ];
  return `${lines.join("\n")}\n`;
}

function weightsSummary(report: ValidationReport): string {
  const parts = [
    report.format,
    report.architecture,
    report.parameters > 0 ? `${report.parameters.toLocaleString("en-US")} parameters` : undefined,
    Object.keys(report.dtypes).join("/") || undefined,
    `${report.weightBytes.toLocaleString("en-US")} bytes`,
  ];
  return parts.filter(Boolean).join(", ");
}

/** Why the runtime or the context is what it is: the Validate stage's own note, when it made the choice. */
function servingReason(report: ValidationReport, setting: "runtime" | "maxModelLen"): string {
  const note = report.serving.notes.find((n) => n.startsWith(`${setting} `));
  return note === undefined
    ? `${setting}: the stack's default.`
    : note.replace(/ \(the manifest sets no serving\.\w+(; ([^)]*))?\)/, (_, __, advice?: string) =>
        advice ? `; ${advice}` : "",
      );
}

function gpuPlanText(report: ValidationReport): string {
  const { gpu } = report;
  const memory = DEFAULT_STACK_CONFIG.gpu.memoryGiB;
  const verdict =
    gpu.gpus === 0
      ? "CPU (0 GPUs)"
      : `${gpu.gpus} × ${gpu.gpuMemoryGiB} GiB GPU${gpu.gpus === 1 ? "" : "s"}${gpu.fits ? "" : ", which does not fit"}`;
  return `GPU plan: ${verdict}. ${gpu.explanation} (For GPUs of another size than ${memory} GiB: modelship validate <folder> --gpu-memory <GiB>.)`;
}

/** `gates:` and `rollout:` with every default the schema states, commented. */
function defaultsBlock(): string[] {
  const schema = manifestJsonSchema() as SchemaNode;
  const tree: Record<string, unknown> = {};
  for (const section of ["gates", "rollout"]) {
    const defaults = defaultsOf(schema.properties?.[section], section);
    if (defaults !== undefined) tree[section] = defaults;
  }
  const document = new Document(tree);
  // Lists of plain values on one line, as a person writes them: `steps: [5, 25, 50, 100]`.
  visit(document, {
    Seq(_, node) {
      if (node.items.every((item) => isScalar(item))) node.flow = true;
    },
  });
  return document
    .toString({ lineWidth: WIDTH - 2, flowCollectionPadding: false })
    .trimEnd()
    .split("\n")
    .map((line) => `# ${line}`);
}

/** The defaults under a schema node, nested as the manifest nests them; undefined when it states none. */
function defaultsOf(node: SchemaNode | undefined, path: string): unknown {
  if (node === undefined || ONLY_WITH_ANOTHER_SETTING.has(path)) return undefined;
  if ("default" in node) return node.default;
  const entries = Object.entries(node.properties ?? {})
    .map(([name, child]) => [name, defaultsOf(child, `${path}.${name}`)] as const)
    .filter(([, value]) => value !== undefined);
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/** `text` as YAML comment lines of at most WIDTH characters, indented by `indent`. */
function commentLines(text: string, indent = ""): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + 2 + line.length + 1 + word.length > WIDTH) {
      lines.push(`${indent}# ${line}`);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(`${indent}# ${line}`);
  return lines;
}
