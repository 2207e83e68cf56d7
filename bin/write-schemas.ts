// `npm run schemas`: writes the JSON Schemas the package ships (schemas/) and the field tables of
// docs/events.md from the zod schemas, removing any schema file the code no longer generates. A test fails
// when the committed files differ from what this writes.

import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { format, resolveConfig } from "prettier";
import { EVENTS_DOC, withEventFieldTables } from "../lib/cli/event-docs";
import { generatedSchemaFiles, SCHEMAS_DIR } from "../lib/cli/schema-files";

const files = generatedSchemaFiles();
for (const [path, text] of files) {
  await mkdir(dirname(join(SCHEMAS_DIR, path)), { recursive: true });
  await writeFile(join(SCHEMAS_DIR, path), text);
}
for (const entry of await readdir(SCHEMAS_DIR, { recursive: true, withFileTypes: true })) {
  const path = join(entry.parentPath, entry.name).slice(SCHEMAS_DIR.length);
  if (entry.isFile() && !files.has(path)) await rm(join(SCHEMAS_DIR, path));
}
console.log(`Wrote ${files.size} schemas to ${SCHEMAS_DIR}`);

// docs/events.md: the field tables between the markers, from the same schemas.
// Formatted as `npm run format` would, so the page stays as prettier leaves it.
const page = await readFile(EVENTS_DOC, "utf8");
const options = { ...(await resolveConfig(EVENTS_DOC)), filepath: EVENTS_DOC };
await writeFile(EVENTS_DOC, await format(withEventFieldTables(page), options));
console.log(`Wrote the field tables of ${EVENTS_DOC}`);
