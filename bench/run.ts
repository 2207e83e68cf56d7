// Runs benchmarks: `npm run bench` runs every bench/*.ts, `npm run bench -- bench/validate.ts` the ones named.
// A bench file exports `bench(): Promise<void>`, which prints counts and ratios against a reference measured
// in the same run (never wall-clock claims) and throws when a result is wrong. Exit code 1 if any threw.

import { readdir } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

async function benchFiles(args: readonly string[]): Promise<string[]> {
  if (args.length > 0) return args.map((a) => resolve(a));
  const names = await readdir(here);
  return names
    .filter((n) => n.endsWith(".ts") && n !== basename(fileURLToPath(import.meta.url)))
    .sort()
    .map((n) => join(here, n));
}

let failed = 0;
for (const file of await benchFiles(process.argv.slice(2))) {
  const module = (await import(pathToFileURL(file).href)) as { bench?: () => Promise<void> };
  if (typeof module.bench !== "function") {
    console.error(`${file}: exports no bench() function; skipped.`);
    failed += 1;
    continue;
  }
  try {
    await module.bench();
  } catch (error) {
    failed += 1;
    console.error(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  console.log("");
}
process.exitCode = failed > 0 ? 1 : 0;
