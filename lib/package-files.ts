// Where modelship's own files are — package.json, schemas/, statemachines/, bin/ — whether this code runs as
// TypeScript from a checkout (tsx, vitest: this module is lib/package-files.ts) or compiled inside an
// installed package (dist/lib/package-files.js). The two sit at different depths below the package root, so
// a module that reads a file of the package finds it through here, never by counting "../" from itself.

import { fileURLToPath } from "node:url";

/** Whether this is the compiled JavaScript of dist/ (an installed package) rather than the TypeScript sources. */
export const RUNS_COMPILED = !import.meta.url.endsWith(".ts");

/** The package's root folder, as a URL ending in "/". */
export const PACKAGE_ROOT = new URL(RUNS_COMPILED ? "../../" : "../", import.meta.url);

/** A file or folder of the package by its path from the root (`statemachines/pipeline.asl.json`, `schemas/`). */
export function packagePath(path: string): string {
  return fileURLToPath(new URL(path, PACKAGE_ROOT));
}
