// Where each Lambda function's code comes from. From a checkout (lib/ running as TypeScript), NodejsFunction
// bundles functions/<name>.ts with esbuild at synth. An installed package holds no TypeScript handlers: its
// build bundled them all with these options into dist/functions/ (<name>.mjs each, sharing chunks:
// scripts/bundle-functions.ts), and every function takes that folder as its asset (one upload) with its own
// file as the handler. A user's CDK app needs neither esbuild nor Docker, and deploys the code the package
// was built and tested with.

import { existsSync } from "node:fs";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { type BundlingOptions, type NodejsFunctionProps, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { packagePath, RUNS_COMPILED } from "../package-files";

/** How every handler is bundled, at synth from a checkout and at build time for the package. */
export const HANDLER_BUNDLING = {
  format: OutputFormat.CJS,
  target: "node24",
  forceDockerBundling: false,
  minify: true,
  sourceMap: true,
  // Error and class names survive minification: logs and traces stay readable.
  keepNames: true,
  // The SDK version we test with, not whichever one the runtime ships.
  bundleAwsSDK: true,
} as const satisfies BundlingOptions;

/** Where the build puts the bundled handlers: `<name>.mjs` for each, and the chunks they share. */
export const PREBUNDLED_HANDLERS_DIR = packagePath("dist/functions/");

/** The handler's source in a checkout, by its file name under functions/ (`deploy-candidate`). */
export function handlerSource(fileName: string): string {
  return packagePath(`functions/${fileName}.ts`);
}

/** The NodejsFunction props that say where the code of functions/<fileName>.ts comes from. */
export function functionCode(
  fileName: string,
):
  | Pick<NodejsFunctionProps, "code" | "handler">
  | Pick<NodejsFunctionProps, "entry" | "handler" | "bundling"> {
  if (!RUNS_COMPILED)
    return { entry: handlerSource(fileName), handler: "handler", bundling: HANDLER_BUNDLING };
  const bundle = `${PREBUNDLED_HANDLERS_DIR}${fileName}.mjs`;
  if (!existsSync(bundle)) {
    throw new Error(
      `modelship's bundled handler ${bundle} is missing: this copy of the package was not built with ` +
        "`npm run build`. Reinstall modelship, or run `npm run build` in its checkout.",
    );
  }
  // Lambda's Node.js runtime finds `<fileName>.mjs` for the module `<fileName>`.
  return { code: lambda.Code.fromAsset(PREBUNDLED_HANDLERS_DIR), handler: `${fileName}.handler` };
}
