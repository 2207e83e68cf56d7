import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generatedSchemaFiles, SCHEMAS_DIR } from "../../lib/cli/schema-files";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { parseManifest, resolveManifest } from "../../lib/core/resolution/manifest";
import { manifestJsonSchema } from "../../lib/core/manifest/manifest-json-schema";
import type { Manifest } from "../../lib/core/manifest/manifest-schema";
import { compileJsonSchema, jsonSchemaErrors } from "../support/json-schema-validator";

type JsonSchema = {
  readonly description?: string;
  readonly default?: unknown;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
};

/** Every property of the schema, however deep (inside lists and each branch of a union), by its manifest path. */
function propertiesOf(schema: JsonSchema, path = ""): [string, JsonSchema][] {
  const found: [string, JsonSchema][] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const at = path ? `${path}.${name}` : name;
    found.push([at, property], ...propertiesOf(property, at));
  }
  if (schema.items) found.push(...propertiesOf(schema.items, `${path}[]`));
  for (const branch of schema.anyOf ?? []) found.push(...propertiesOf(branch, path));
  return found;
}

const schema = manifestJsonSchema() as JsonSchema;
const validate = compileJsonSchema(schema);
const context = { name: "llama", version: "v1", fileName: "modelship.yaml" };

/**
 * What a default's field needs around it to be written at all: the list item it sits in, the strategy whose
 * setting it is, the object form's required fields. A new field with a default inside a list or an object
 * form adds its parent here.
 */
const SURROUNDINGS: Readonly<Record<string, Manifest>> = {
  "gates.eval.suites[]": { gates: { eval: { suites: [{ name: "sanity" }] } } },
  "gates.hooks[]": {
    gates: { hooks: [{ name: "check", at: "preTraffic", url: "https://hooks.example/check" }] },
  },
  "rollout.approval": { rollout: { approval: { mode: "auto" } } },
  "rollout.linear": { rollout: { strategy: "linear", linear: {} } },
  "serving.autoscaling": {
    serving: { autoscaling: { minReplicas: 1, maxReplicas: 2, metric: "queueDepth", target: 4 } },
  },
};

/** `manifest` with `value` written at `path` (`a.b[].c` writes into the first item of list `b`). */
function withValueAt(manifest: Manifest, path: string, value: unknown): Manifest {
  const copy = structuredClone(manifest) as Record<string, unknown>;
  const segments = path.split(".");
  let node: Record<string, unknown> = copy;
  for (const segment of segments.slice(0, -1)) {
    const [key, list] = segment.endsWith("[]") ? [segment.slice(0, -2), true] : [segment, false];
    node[key] ??= list ? [{}] : {};
    node = (list ? (node[key] as Record<string, unknown>[])[0] : node[key]) as Record<string, unknown>;
  }
  node[segments.at(-1)!] = value;
  return copy as Manifest;
}

function surroundingsOf(path: string): Manifest {
  const parent = Object.keys(SURROUNDINGS).find((prefix) => path.startsWith(`${prefix}.`));
  return parent === undefined ? {} : SURROUNDINGS[parent]!;
}

const hookConfig = { ...DEFAULT_STACK_CONFIG, hooks: { ...DEFAULT_STACK_CONFIG.hooks, urlHooks: true } };

describe("the manifest's JSON Schema", () => {
  it("is draft-07, the draft the VS Code YAML extension validates with", () => {
    expect(schema).toMatchObject({
      $schema: "http://json-schema.org/draft-07/schema#",
      title: "modelship.yaml",
    });
  });

  it("describes every field, so an editor explains each on hover", () => {
    const undescribed = propertiesOf(schema)
      .filter(([, property]) => !property.description?.trim())
      .map(([path]) => path);
    expect(undescribed).toEqual([]);
  });

  it("states defaults that the parser applies: writing a stated default changes nothing", () => {
    const stated = propertiesOf(schema).filter(([, property]) => "default" in property);
    expect(stated.map(([path]) => path)).toEqual(
      expect.arrayContaining([
        "rollout.bakeSeconds",
        "rollout.alarms.latencyP95Ms",
        "gates.stress.concurrency",
      ]),
    );
    for (const [path, property] of stated) {
      const around = surroundingsOf(path);
      const written = withValueAt(around, path, property.default);
      expect(validate(written), `${path}: ${jsonSchemaErrors(validate).join("; ")}`).toBe(true);
      const parsed = parseManifest(JSON.stringify(written), "modelship.json");
      expect(parsed.manifest, `${path} = ${JSON.stringify(property.default)} does not parse`).toBeDefined();
      const withDefault = resolveManifest(parsed.manifest!, context, hookConfig);
      const without = resolveManifest(around, context, hookConfig);
      expect(withDefault.findings, path).toEqual(without.findings);
      expect(withDefault.planned, `${path}'s stated default is not the one resolved`).toEqual(
        without.planned,
      );
    }
  });

  it("says in each stated default's description what the default is", () => {
    for (const [path, property] of propertiesOf(schema).filter(([, p]) => "default" in p)) {
      expect(property.description, path).toContain(`Default: ${JSON.stringify(property.default)}`);
    }
  });

  it("accepts the design document's manifest and an empty one", () => {
    const designExample = {
      name: "llama-3-8b-chat",
      version: "v3",
      format: "safetensors",
      files: [{ path: "model-00001-of-00004.safetensors", size: 4976698672 }],
      serving: { runtime: "vllm", image: "vllm/vllm-openai:v0.11.0", gpus: "auto", maxModelLen: 8192 },
      gates: {
        smoke: { prompts: [{ messages: [{ role: "user", content: "Say hi" }], expectContains: "hi" }] },
        stress: { mode: "concurrency", concurrency: 32, slo: { ttftP95Ms: 800, errorRate: 0.01 } },
        eval: { suites: [{ name: "mmlu-pro-sample", minScore: 0.45, maxRegression: 0.02 }] },
      },
      rollout: {
        steps: [5, 25, { weight: 50, bakeSeconds: 1200 }, 100],
        alarms: { latencyP95Ms: { threshold: 2000, source: "traffic" }, vsStable: { latencyP95Ratio: 1.25 } },
        approval: { mode: "manual", at: "beforeTraffic" },
      },
    };
    expect(validate(designExample), jsonSchemaErrors(validate).join("; ")).toBe(true);
    expect(parseManifest(JSON.stringify(designExample), "modelship.json").manifest).toBeDefined();
    expect(validate({})).toBe(true);
  });

  const refused: [string, unknown, string][] = [
    ["an unknown top-level field", { rolout: {} }, "must NOT have additional properties"],
    ["an unknown nested field", { serving: { gpu: 2 } }, "must NOT have additional properties"],
    ["a name that is not a Kubernetes name", { name: "Llama_3" }, "/name must match pattern"],
    [
      "a format it does not serve",
      { format: "pickle" },
      "/format must be equal to one of the allowed values",
    ],
    ["a GPU count that is not a whole number", { serving: { gpus: 1.5 } }, "/serving/gpus"],
    ["a canary weight above 100", { rollout: { steps: [50, 150] } }, "/rollout/steps/1"],
    ["an error rate above 1", { rollout: { alarms: { errorRate: 2 } } }, "/rollout/alarms/errorRate"],
    [
      "a string where a number goes",
      { rollout: { bakeSeconds: "10m" } },
      "/rollout/bakeSeconds must be integer",
    ],
    [
      "a chat message from an unknown role",
      { gates: { smoke: { prompts: [{ messages: [{ role: "bot", content: "hi" }] }] } } },
      "/gates/smoke/prompts/0/messages/0/role",
    ],
    [
      "more than 20 hooks",
      {
        gates: {
          hooks: Array.from({ length: 21 }, (_, i) => ({
            name: `h${i}`,
            at: "preTraffic",
            url: "https://x",
          })),
        },
      },
      "/gates/hooks must NOT have more than 20 items",
    ],
  ];
  it.each(refused)("refuses %s, as the parser does", (_, manifest, expected) => {
    expect(validate(manifest)).toBe(false);
    expect(jsonSchemaErrors(validate).join("\n")).toContain(expected);
    const parsed = parseManifest(JSON.stringify(manifest), "modelship.json");
    expect(parsed.manifest).toBeUndefined();
    expect(parsed.findings.some((f) => f.severity === "error")).toBe(true);
  });

  it("leaves rules across fields to the parser, and says so in its description", () => {
    const stickiness = { rollout: { stickiness: { header: "x-session", cookie: "session" } } };
    expect(validate(stickiness)).toBe(true);
    expect(parseManifest(JSON.stringify(stickiness), "modelship.json").manifest).toBeUndefined();
    expect((schema as { description: string }).description).toContain("modelship validate");
  });
});

describe("the schemas the package ships (schemas/)", () => {
  it("are what the code generates: run `npm run schemas` after changing a zod schema", async () => {
    const generated = generatedSchemaFiles();
    const committed = (await readdir(SCHEMAS_DIR, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(SCHEMAS_DIR.length))
      .sort();
    expect(committed).toEqual([...generated.keys()].sort());
    for (const [path, text] of generated) {
      expect(await readFile(join(SCHEMAS_DIR, path), "utf8"), `${path} is stale: run npm run schemas`).toBe(
        text,
      );
    }
  });
});
