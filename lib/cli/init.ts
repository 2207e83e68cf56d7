// `modelship init <folder> [--force] [--schema <path | URL>]`: reads a model folder as the Validate stage
// does (safetensors or GGUF headers, config.json, never the weights) and writes <folder>/modelship.yaml: the
// format, runtime and context the weights decide, the GPU plan, and the gates' and rollout's defaults as
// comments, with the schema line that lets an editor check the file.
//
// The schema line names the schema file of the modelship that writes it, as a path relative to the folder:
// it works offline and is exactly the schema of the version that validates the manifest; no URL serves the
// schema today. `--schema` names another (a URL your team hosts, a path in your repository).

import { stat, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve, sep } from "node:path";
import { DEFAULT_STACK_CONFIG } from "../core/config/config";
import { FolderObjectStore } from "../local/folder-object-store";
import { validateModel } from "../pipeline/validate";
import { BadInput, runCliCommand, UsageError } from "./cli-command";
import { parseCommandLine } from "./command-line";
import { initManifestText } from "./init-manifest";
import { MANIFEST_SCHEMA_FILE, SCHEMAS_DIR } from "./schema-files";
import { isStoreFailure, MANIFEST_NAMES, modelNameFrom } from "./validate";

const USAGE = `Usage: modelship init <folder> [--force] [--schema <path | URL>]

Reads the model in <folder> (safetensors or GGUF: headers and config only, never the weights) and writes
<folder>/modelship.yaml: the format, runtime and context the weights decide, the GPU plan, and the gates'
and rollout's defaults as comments. Its first line names the JSON Schema, so an editor with the YAML
language server (VS Code's YAML extension) checks the file as you edit it.

  --force            replace the folder's modelship.yaml
  --schema <ref>     the schema the first line names (default: this modelship's schemas/modelship.schema.json,
                     as a path relative to the folder)

Exit status: 0 written, 1 the folder cannot be read or already has a manifest, 2 usage error.`;

export function run(argv: string[]): Promise<number> {
  return runCliCommand({ name: "init", usage: USAGE }, () => init(argv));
}

async function init(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      force: { type: "boolean", default: false },
      schema: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("give the model folder to write a modelship.yaml for.");
  const folder = resolve(positionals[0]!);
  await checkFolder(folder);
  const target = join(folder, "modelship.yaml");
  await checkNoManifest(folder, values.force);

  let report;
  try {
    report = await validateModel(new FolderObjectStore(folder), "", {
      config: DEFAULT_STACK_CONFIG,
      modelName: modelNameFrom(basename(folder)),
    });
  } catch (error) {
    if (!isStoreFailure(error)) throw error;
    throw new BadInput(
      `could not read ${folder}: ${(error as Error).message}`,
      "Make the folder and its files readable by you, then run init again.",
    );
  }
  if (report.format === undefined) {
    throw new BadInput(
      `${folder} holds no model weights: init reads safetensors (*.safetensors with config.json) or GGUF (*.gguf) files.`,
      "Give the folder that holds the model's weights, or download them into it first.",
    );
  }
  const errors = report.findings.filter((f) => f.severity === "error");
  if (errors.length > 0) {
    const listed = errors.slice(0, 10).map((f) => {
      const where = [f.file, f.path && `at ${f.path}`].filter(Boolean).join(" ");
      return `\n  ${where ? `${where}: ` : ""}${f.message}${f.hint ? `\n    hint: ${f.hint}` : ""}`;
    });
    throw new BadInput(
      `the model in ${folder} is not valid (${errors.length} error${errors.length === 1 ? "" : "s"}), so no modelship.yaml was written:${listed.join("")}${errors.length > 10 ? `\n  … and ${errors.length - 10} more` : ""}`,
      `Fix the weights, then run init again; \`modelship validate ${positionals[0]}\` lists every finding.`,
    );
  }

  const schemaRef = values.schema ?? relativeSchemaPath(folder);
  await writeFile(target, initManifestText(report, schemaRef), { flag: values.force ? "w" : "wx" }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === "EEXIST") throw alreadyHasManifest(folder, "modelship.yaml");
      throw new BadInput(
        `could not write ${target}: ${error.code ?? error.message}.`,
        "Make the folder writable by you, then run init again.",
      );
    },
  );
  console.log(
    [
      `Wrote ${target}:`,
      `  format ${report.format}, runtime ${report.serving.runtime}, maxModelLen ${report.serving.maxModelLen}, GPU plan ${report.gpu.gpus === 0 ? "CPU" : `${report.gpu.gpus} × ${report.gpu.gpuMemoryGiB} GiB`}`,
      `  schema ${schemaRef}`,
      "",
      `Next: edit it, then npx modelship validate ${positionals[0]}`,
    ].join("\n"),
  );
  return 0;
}

async function checkFolder(folder: string): Promise<void> {
  const info = await stat(folder).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") {
      throw new BadInput(`no such folder: ${folder}.`, "Give the folder that holds the model's weights.");
    }
    throw new BadInput(
      `cannot read ${folder}: ${error.code ?? error.message}.`,
      "Make the folder readable by you, then run init again.",
    );
  });
  if (!info.isDirectory()) {
    throw new BadInput(
      `${folder} is a file.`,
      "Give the folder that holds the model's weights, not one of its files.",
    );
  }
}

/** Refuses when the folder has a manifest: any of them without --force; with it, one of another name. */
async function checkNoManifest(folder: string, force: boolean): Promise<void> {
  for (const name of MANIFEST_NAMES) {
    const exists = await stat(join(folder, name)).then(
      () => true,
      () => false,
    );
    if (!exists) continue;
    if (!force) throw alreadyHasManifest(folder, name);
    if (name !== "modelship.yaml") {
      throw new BadInput(
        `${join(folder, name)} is the folder's manifest; --force replaces modelship.yaml only, and two manifests in one folder are ambiguous.`,
        `Remove or rename ${name} first, then run init --force again.`,
      );
    }
  }
}

function alreadyHasManifest(folder: string, name: string): BadInput {
  return new BadInput(
    `${join(folder, name)} already exists; init does not overwrite a manifest.`,
    "Edit that file, or run init again with --force to replace it.",
  );
}

/** The packaged schema's path from the folder, `/`-separated as the modeline expects. */
function relativeSchemaPath(folder: string): string {
  return relative(folder, join(SCHEMAS_DIR, MANIFEST_SCHEMA_FILE)).split(sep).join("/");
}
