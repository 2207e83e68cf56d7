// `npm run schemas`: writes the JSON Schemas the package ships (schemas/) and the field tables of
// docs/events.md from the zod schemas, removing any schema file the code no longer generates. A test fails
// when the committed files differ from what this writes.

import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
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
