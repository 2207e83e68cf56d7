// `npm run build` (and `prepack`): the installed package's dist/ — lib/ and the CLI compiled by tsc to
// JavaScript and .d.ts (tsconfig.build.json), their relative imports given full file names for Node's ESM
// loader, the files lib/ reads beside its own modules, and the Lambda handlers bundled. dist/ is only ever
// run from an installed package: a checkout runs the TypeScript sources (bin/modelship.mjs, function-code.ts).

import { execFileSync } from "node:child_process";
import { cp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { packagePath } from "../lib/package-files";
import { bundleFunctions } from "./bundle-functions";
import { rewriteSpecifiersIn } from "./esm-specifiers";

/** Files lib/ finds next to its own modules (new URL("./…", import.meta.url)), which tsc does not copy. */
const FILES_BESIDE_MODULES = ["lib/local/console/static/"];

const dist = packagePath("dist/");
await rm(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", packagePath("tsconfig.build.json")], { stdio: "inherit" });
const rewritten = await rewriteSpecifiersIn(dist);
for (const path of FILES_BESIDE_MODULES) {
  await cp(packagePath(path), packagePath(`dist/${path}`), { recursive: true });
}
const handlers = await bundleFunctions();
console.log(
  `Built ${dist}: compiled lib/ and the CLI (${rewritten} files' imports given full names), ` +
    `copied ${FILES_BESIDE_MODULES.join(", ")}, bundled ${handlers.length} Lambda handlers.`,
);
