import js from "@eslint/js";
import tseslint from "typescript-eslint";
import prettier from "eslint-config-prettier";

export default tseslint.config(
  { ignores: ["node_modules/", "cdk.out/", ".modelship/", "coverage/", "dist/", "docs/api/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
  {
    // The web console's page scripts run in the browser.
    files: ["lib/local/console/static/**/*.js"],
    languageOptions: {
      globals: { document: "readonly", fetch: "readonly", CSS: "readonly", EventSource: "readonly" },
    },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // lib/core is the pure domain: no SDKs, no Kubernetes client, no filesystem, no network.
    files: ["lib/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@aws-sdk/*", "@smithy/*", "@kubernetes/*", "aws-cdk-lib", "aws-cdk-lib/*"],
              message: "lib/core stays pure.",
            },
            {
              group: [
                "node:fs",
                "node:fs/*",
                "fs",
                "fs/*",
                "node:net",
                "node:http",
                "node:https",
                "node:child_process",
              ],
              message: "lib/core does no I/O.",
            },
            {
              group: [
                "**/ports",
                "**/aws/**",
                "**/local/**",
                "**/infra/**",
                "**/pipeline/**",
                "**/cli/**",
                "**/mcp/**",
              ],
              message: "lib/core depends on nothing above it.",
            },
          ],
        },
      ],
    },
  },
  {
    // Stage logic sees the world only through lib/ports.ts.
    files: ["lib/pipeline/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@aws-sdk/*", "@kubernetes/*", "aws-cdk-lib", "aws-cdk-lib/*"],
              message: "Stages talk to the world through lib/ports.ts.",
            },
            {
              group: ["node:fs", "node:fs/*", "fs", "fs/*", "node:child_process"],
              message: "Stages do I/O through ports.",
            },
            {
              group: ["../aws/*", "../local/*", "../infra/*"],
              message: "Stages depend on ports, not adapters.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["lib/aws/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["../local/*"], message: "lib/aws and lib/local never import each other." }] },
      ],
    },
  },
  {
    files: ["lib/local/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["../aws/*"], message: "lib/aws and lib/local never import each other." }] },
      ],
    },
  },
);
