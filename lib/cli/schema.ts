// `modelship schema [--out file]`: prints the JSON Schema of modelship.yaml (draft-07, generated from the
// parser's zod schema), or writes it to a file, for editors and CI checks that want it next to the manifests.

import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { manifestJsonSchema } from "../core/manifest/manifest-json-schema";
import { BadInput, runCliCommand, UsageError } from "./cli-command";
import { parseCommandLine } from "./command-line";
import { schemaText } from "./schema-files";

const USAGE = `Usage: modelship schema [--out <file>]

Prints the JSON Schema (draft-07) of modelship.yaml: every field with its description, range and default.
Editors check a manifest with it when its first line names it:

  # yaml-language-server: $schema=<path or URL of the schema>

(\`modelship init <folder>\` writes that line.) The schema checks each field; rules across fields and the
stack's allow-lists are checked by \`modelship validate\`.

  --out <file>  write the schema to this file instead of printing it

Exit status: 0 written, 1 the file could not be written, 2 usage error.`;

export function run(argv: string[]): Promise<number> {
  return runCliCommand({ name: "schema", usage: USAGE }, () => schema(argv));
}

async function schema(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: { out: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument '${positionals[0]}': write the file with --out <file>.`);
  }
  const text = schemaText(manifestJsonSchema());
  if (values.out === undefined) {
    console.log(text.trimEnd());
    return 0;
  }
  const out = resolve(values.out);
  try {
    await writeFile(out, text);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new BadInput(
      `could not write the schema to ${out}: ${code ?? message}.`,
      code === "ENOENT"
        ? "Create the folder first, or give another path."
        : "Give a path you can write to (--out <file>).",
    );
  }
  console.log(`Wrote the modelship.yaml JSON Schema to ${out}.`);
  return 0;
}
