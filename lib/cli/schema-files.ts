// The JSON Schema files modelship ships in its package (schemas/): the manifest's, which editors check
// modelship.yaml with, and one per event detail-type, for automations that generate bindings. All are
// generated from the zod schemas; `npm run schemas` writes them and a test fails when the committed copies
// differ from what the code generates.

import { eventDetailJsonSchemas } from "../core/events/event-json-schemas";
import { manifestJsonSchema } from "../core/manifest/manifest-json-schema";
import { packagePath } from "../package-files";

/** The package's schemas folder, next to lib/ in a checkout and in the installed package. */
export const SCHEMAS_DIR = packagePath("schemas/");

/** Where the manifest's schema sits inside SCHEMAS_DIR. */
export const MANIFEST_SCHEMA_FILE = "modelship.schema.json";

/** A schema as its file holds it: two-space JSON and a final newline. */
export function schemaText(schema: unknown): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** Every file of SCHEMAS_DIR, by its path inside it, with the text it must hold. */
export function generatedSchemaFiles(): Map<string, string> {
  const files = new Map([[MANIFEST_SCHEMA_FILE, schemaText(manifestJsonSchema())]]);
  for (const [fileName, schema] of eventDetailJsonSchemas()) {
    files.set(`events/${fileName}`, schemaText(schema));
  }
  return files;
}
