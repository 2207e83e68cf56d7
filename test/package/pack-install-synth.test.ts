// The package as a user gets it. `npm pack` (whose prepack builds dist/) makes the tarball; it is unpacked
// into a fresh CDK app in a temporary folder the way npm lays a package out, beside the packages it declares
// — its dependencies and its peers aws-cdk-lib and constructs, linked from this checkout's node_modules (the
// versions `npm ci` installed from the lock), and nothing else: no tsx, no esbuild, no repo. The app is
// `cdk init`'s TypeScript app (CommonJS, NodeNext), its stack a `new ModelPipeline(...)` imported from
// "modelship"; it is type-checked, synthesized, and the CLI runs from the installed package.
// Linking instead of `npm install` keeps the test offline and at seconds for the install: the registry's
// resolution of our version ranges is not what is tested here, the package's contents and declarations are.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packagePath } from "../../lib/package-files";

const run = promisify(execFile);
const REPO = packagePath("");
const REPO_MODULES = packagePath("node_modules/");
/** The app's own tools, as `cdk init` lists them in its devDependencies (tsx and jest aside). */
const APP_TOOLS = ["aws-cdk", "typescript", "@types/node"];
/** Packing builds dist/ (tsc, esbuild) on a busy 2-core machine: minutes, not seconds. */
const PACK_TIMEOUT_MS = 12 * 60_000;
/** Type-checking or synthesizing the app, or loading every handler: tens of seconds, more on a loaded machine. */
const STEP_TIMEOUT_MS = 6 * 60_000;

interface Manifest {
  readonly bin: Record<string, string>;
  readonly dependencies: Record<string, string>;
  readonly peerDependencies: Record<string, string>;
}

let work: string;
let app: string;
let installed: string;
let manifest: Manifest;

/** Runs `command` (a file run by this Node) in the app; resolves with its output, rejects with it on failure. */
async function inApp(args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, {
      cwd: app,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout + stderr;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${args.join(" ")} failed in ${app}:\n${stdout ?? ""}${stderr ?? ""}`, { cause: error });
  }
}

async function link(name: string, into: string): Promise<void> {
  const target = join(REPO_MODULES, name);
  if (!existsSync(target)) throw new Error(`${name} is not installed in ${REPO_MODULES}: run npm ci first.`);
  await mkdir(dirname(join(into, name)), { recursive: true });
  await symlink(target, join(into, name), "dir");
}

const APP_FILES: Record<string, string> = {
  // cdk init's package.json: CommonJS, as most CDK apps are.
  "package.json": JSON.stringify({ name: "user-app", version: "0.1.0", private: true }),
  // cdk init's tsconfig.json (jest's types aside), emitting JavaScript for `node` instead of running under tsx.
  "tsconfig.json": JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["es2022"],
      strict: true,
      noImplicitReturns: true,
      skipLibCheck: true,
      types: ["node"],
      outDir: "build",
      isolatedModules: true,
    },
    include: ["bin", "lib"],
  }),
  "cdk.json": JSON.stringify({ app: "node build/bin/app.js" }),
  "bin/app.ts": `import { App } from "aws-cdk-lib";
import { PipelineStack } from "../lib/pipeline-stack";

new PipelineStack(new App(), "UserPipeline");
`,
  "lib/pipeline-stack.ts": `import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { ModelPipeline, type ModelPipelineProps } from "modelship";

export class PipelineStack extends Stack {
  readonly pipeline: ModelPipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const settings: ModelPipelineProps = { clusterName: "gpu-inference", namespace: "models" };
    this.pipeline = new ModelPipeline(this, "Models", settings);
  }
}
`,
  // The rest of the public API, typed as a user's automation would use it.
  "lib/check-manifest.ts": `import { parseManifest, type EventDetailOf, type ParsedManifest } from "modelship";

const parsed: ParsedManifest = parseManifest("rollout:\\n  bakeSecond: 60\\n", "modelship.yaml");
const promoted: Pick<EventDetailOf<"Model Promoted">, "model"> = { model: "llama" };
console.log(JSON.stringify({ codes: parsed.findings.map((f) => f.code), model: promoted.model }));
`,
};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-pack-"));
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], {
    cwd: REPO,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [{ filename }] = JSON.parse(stdout.slice(stdout.indexOf("["))) as [{ filename: string }];
  app = join(work, "app");
  installed = join(app, "node_modules", "modelship");
  await mkdir(installed, { recursive: true });
  await run("tar", ["-xzf", join(work, filename), "-C", installed, "--strip-components=1"]);
  manifest = JSON.parse(await readFile(join(installed, "package.json"), "utf8")) as Manifest;
  const modules = join(app, "node_modules");
  for (const name of [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies)]) {
    await link(name, modules);
  }
  for (const name of APP_TOOLS) await link(name, modules);
  // npm's bin links, from the package's own `bin`.
  await mkdir(join(modules, ".bin"));
  for (const [name, path] of Object.entries(manifest.bin)) {
    await symlink(join("..", "modelship", path), join(modules, ".bin", name));
  }
  for (const [path, text] of Object.entries(APP_FILES)) {
    await mkdir(dirname(join(app, path)), { recursive: true });
    await writeFile(join(app, path), text);
  }
}, PACK_TIMEOUT_MS);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the packed modelship, installed in a fresh CDK app", () => {
  it("holds the compiled code, its schemas, the state machine and the bundled handlers, and no TypeScript source, test or cdk.out", async () => {
    const files = (await readdir(installed, { recursive: true })).map((f) => f.split("\\\\").join("/"));
    expect(files).toEqual(
      expect.arrayContaining([
        "dist/lib/index.js",
        "dist/lib/index.d.ts",
        "dist/bin/modelship.js",
        "bin/modelship.mjs",
        "schemas/modelship.schema.json",
        "statemachines/pipeline.asl.json",
        "dist/lib/local/console/static/index.html",
        "dist/functions/prepare.mjs",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
      ]),
    );
    const unwanted = files.filter(
      (f) =>
        (f.endsWith(".ts") && !f.endsWith(".d.ts")) || /^(test|cdk\.out|functions|lib|scripts)\//.test(f),
    );
    expect(unwanted).toEqual([]);
  });

  it("has neither tsx nor esbuild within reach of the installed package", () => {
    const require = createRequire(join(installed, "package.json"));
    expect(() => require.resolve("tsx")).toThrow(/Cannot find module/);
    expect(() => require.resolve("esbuild")).toThrow(/Cannot find module/);
  });

  it(
    "type-checks a CommonJS TypeScript app that imports the construct, the manifest parser and the event types",
    async () => {
      await inApp([join(app, "node_modules/typescript/bin/tsc"), "-p", "."]);
      const out = await inApp(["build/lib/check-manifest.js"]);
      expect(JSON.parse(out)).toEqual({ codes: ["manifest.unknown-key"], model: "llama" });
    },
    STEP_TIMEOUT_MS,
  );

  it("keeps everything but the public API out of reach", async () => {
    await expect(inApp(["-e", 'require("modelship/dist/lib/core/manifest.js")'])).rejects.toThrow(
      /ERR_PACKAGE_PATH_NOT_EXPORTED/,
    );
  });

  it(
    "synthesizes the stack with every function's code taken from the handlers bundled in the package",
    async () => {
      // Runs the app as the test above compiled it (cdk.json: `node build/bin/app.js`).
      await inApp([join(app, "node_modules/aws-cdk/bin/cdk"), "synth", "--quiet", "--no-notices"], {
        CDK_DISABLE_CLI_TELEMETRY: "true",
      });
      const template = JSON.parse(
        await readFile(join(app, "cdk.out/UserPipeline.template.json"), "utf8"),
      ) as {
        Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
      };
      const assets = JSON.parse(await readFile(join(app, "cdk.out/UserPipeline.assets.json"), "utf8")) as {
        files: Record<string, { source: { path: string; packaging: string } }>;
      };
      const functions = Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Function");
      expect(functions.length).toBeGreaterThanOrEqual(22);
      const bundled = (await readdir(join(installed, "dist/functions"))).sort();
      for (const fn of functions) {
        const handler = fn.Properties.Handler as string;
        const name = handler.replace(/\.handler$/, "");
        const key = (fn.Properties.Code as { S3Key: string }).S3Key;
        const asset = assets.files[key.replace(/\.zip$/, "")];
        expect(asset?.source.packaging, handler).toBe("zip");
        const staged = join(app, "cdk.out", asset!.source.path);
        expect((await readdir(staged)).sort(), handler).toEqual(bundled);
        expect(await readFile(join(staged, `${name}.mjs`)), handler).toEqual(
          await readFile(join(installed, "dist/functions", `${name}.mjs`)),
        );
      }
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "bundles handlers that load in Node and export `handler`",
    async () => {
      const names = (await readdir(join(installed, "dist/functions")))
        .filter((f) => f.endsWith(".mjs"))
        .map((f) => f.replace(/\.mjs$/, ""));
      const sources = (await readdir(packagePath("functions/"))).map((f) => f.replace(/\.ts$/, ""));
      expect(names).toEqual(expect.arrayContaining(sources));
      const script = `for (const name of ${JSON.stringify(sources)}) {
  const module = await import("./node_modules/modelship/dist/functions/" + name + ".mjs");
  if (typeof module.handler !== "function") throw new Error(name + " exports no handler");
}
console.log("loaded");`;
      expect(await inApp(["--input-type=module", "-e", script], { AWS_REGION: "us-east-1" })).toContain(
        "loaded",
      );
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "runs the CLI from the installed package with `npx modelship`: --help, example and validate",
    async () => {
      // --offline: the bin is the app's own; npx must not look for a package of that name in the registry.
      const npx = (args: string[]) =>
        run("npx", ["--offline", "modelship", ...args], { cwd: app, maxBuffer: 16 * 1024 * 1024 });
      expect((await npx(["--help"])).stdout).toContain("modelship validate <folder");
      await npx(["example", "tiny", "--format", "gguf"]);
      expect((await npx(["validate", "tiny"])).stdout).toContain("✓ valid");
    },
    STEP_TIMEOUT_MS,
  );
});
