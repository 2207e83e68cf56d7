// A step of `npm run build`: bundles the Lambda handlers (functions/<name>.ts) with esbuild into
// dist/functions/ — <name>.mjs per handler and the chunks they share — with the options NodejsFunction bundles
// them with at synth from a checkout (HANDLER_BUNDLING), so an installed package's construct deploys these
// files and its user's app needs no esbuild (lib/infra/function-code.ts says why).

import { readdir } from "node:fs/promises";
import { basename } from "node:path";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import { build, type BuildOptions } from "esbuild";
import { HANDLER_BUNDLING, handlerSource, PREBUNDLED_HANDLERS_DIR } from "../lib/infra/function-code";
import { packagePath } from "../lib/package-files";

/**
 * esbuild's options for the package's handlers. From HANDLER_BUNDLING, read as aws-cdk-lib's Bundling turns
 * it into flags for NodejsFunction (`--platform=node --target=… --minify --sourcemap --keep-names`, no
 * `--external` when the AWS SDK is bundled), everything but the format: one ESM build of all the handlers
 * with code splitting, so the modules they share (the AWS SDK clients, the Kubernetes client, the stages)
 * are stored once. Bundled one by one, as NodejsFunction does, each handler is ~5 MB and its source map ~6
 * to 14 MB: 22 of them would make a package of hundreds of MB; split, all of them take ~12 MB, and every
 * function deploys the same asset. An option without a translation here is refused, so one added to
 * HANDLER_BUNDLING cannot be silently left out of the package's bundles.
 */
export function esbuildOptionsOf(bundling: BundlingOptions): BuildOptions {
  const known = new Set([
    "format",
    "target",
    "minify",
    "sourceMap",
    "keepNames",
    "bundleAwsSDK",
    "forceDockerBundling",
  ]);
  const unknown = Object.keys(bundling).filter((key) => !known.has(key));
  if (unknown.length > 0) {
    throw new Error(
      `scripts/bundle-functions.ts does not translate the bundling option(s) ${unknown.join(", ")} to esbuild: ` +
        "add them to esbuildOptionsOf, as aws-cdk-lib's NodejsFunction passes them.",
    );
  }
  if (bundling.bundleAwsSDK !== true) {
    throw new Error("esbuildOptionsOf bundles everything: HANDLER_BUNDLING must keep bundleAwsSDK: true.");
  }
  return {
    bundle: true,
    platform: "node",
    ...(bundling.target !== undefined && { target: bundling.target }),
    format: "esm",
    splitting: true,
    outExtension: { ".js": ".mjs" },
    // CommonJS dependencies bundled into ESM still call require() for Node's built-in modules.
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
    minify: bundling.minify ?? false,
    // Linked maps, as NodejsFunction's `--sourcemap`, for the stack traces NODE_OPTIONS=--enable-source-maps
    // maps; without the sources' text, which a stack trace does not need and which would triple the size.
    sourcemap: bundling.sourceMap ? "linked" : false,
    sourcesContent: false,
    keepNames: bundling.keepNames ?? false,
    logLevel: "warning",
  };
}

/** The handler file names under functions/ (`deploy-candidate`), each one Lambda function's code. */
export async function handlerFileNames(): Promise<string[]> {
  const entries = await readdir(packagePath("functions/"));
  return entries.filter((name) => name.endsWith(".ts")).map((name) => basename(name, ".ts"));
}

/** Bundles every handler into dist/functions/<name>.mjs and their shared chunks; returns their file names. */
export async function bundleFunctions(): Promise<string[]> {
  const names = await handlerFileNames();
  await build({
    ...esbuildOptionsOf(HANDLER_BUNDLING),
    entryPoints: Object.fromEntries(names.map((name) => [name, handlerSource(name)])),
    outdir: PREBUNDLED_HANDLERS_DIR,
  });
  return names;
}
