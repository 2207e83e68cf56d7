import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import { describe, expect, it } from "vitest";
import { HANDLER_BUNDLING } from "../../lib/infra/function-code";
import { esbuildOptionsOf } from "../../scripts/bundle-functions";

describe("esbuildOptionsOf", () => {
  it("bundles the package's handlers with the construct's target, minification, source maps and names, split into shared ESM chunks", () => {
    expect(esbuildOptionsOf(HANDLER_BUNDLING)).toMatchObject({
      bundle: true,
      platform: "node",
      target: "node24",
      minify: true,
      sourcemap: "linked",
      keepNames: true,
      format: "esm",
      splitting: true,
      outExtension: { ".js": ".mjs" },
    });
  });

  it("keeps no module external, as the construct bundles the AWS SDK", () => {
    expect(esbuildOptionsOf(HANDLER_BUNDLING).external).toBeUndefined();
  });

  it("refuses a bundling option it does not translate, naming it", () => {
    const withLoader: BundlingOptions = { ...HANDLER_BUNDLING, loader: { ".txt": "text" } };
    expect(() => esbuildOptionsOf(withLoader)).toThrow(/bundling option\(s\) loader/);
  });

  it("refuses to leave the AWS SDK out", () => {
    expect(() => esbuildOptionsOf({ ...HANDLER_BUNDLING, bundleAwsSDK: false })).toThrow(/bundleAwsSDK/);
  });
});
