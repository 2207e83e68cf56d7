import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeS3EventKey, executionName, parseManifestKey } from "../../lib/core/rollout/keys";

/** Step Functions refuses whitespace and these in execution names. */
const FORBIDDEN_IN_EXECUTION_NAMES = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;

function rejection(key: string): { code: string; message: string; hint?: string } {
  const result = parseManifestKey(key);
  if (result.ok) throw new Error(`expected '${key}' to be rejected`);
  return result.finding;
}

describe("parseManifestKey", () => {
  it("reads the model, version, prefix and file name of a manifest key", () => {
    expect(parseManifestKey("models/llama-3-8b-chat/v3/modelship.yaml")).toEqual({
      ok: true,
      name: "llama-3-8b-chat",
      version: "v3",
      prefix: "models/llama-3-8b-chat/v3/",
      fileName: "modelship.yaml",
    });
  });

  it("accepts the .yml and .json manifests and versions with dots and underscores", () => {
    expect(parseManifestKey("models/qwen/2.5_instruct-1/modelship.yml").ok).toBe(true);
    expect(parseManifestKey("models/qwen/v1/modelship.json").ok).toBe(true);
  });

  it("rejects any other shape, saying which shape is expected", () => {
    for (const key of [
      "models/llama/modelship.yaml",
      "models/llama/v3/sub/modelship.yaml",
      "weights/llama/v3/modelship.yaml",
      "models//v3/modelship.yaml",
      "/models/llama/v3/modelship.yaml",
      "",
    ]) {
      const finding = rejection(key);
      expect(finding.code).toBe("key.shape");
      expect(finding.message).toBe(
        `expected a manifest key models/<name>/<version>/modelship.yaml (or .yml, .json), found '${key}'.`,
      );
    }
  });

  it("rejects a file that is not the manifest", () => {
    expect(rejection("models/llama/v3/modelship.yaml.tmp").message).toContain(
      "the manifest must be named modelship.yaml, modelship.yml or modelship.json, not 'modelship.yaml.tmp'",
    );
  });

  it("rejects a model name Kubernetes would refuse, and proposes a valid one", () => {
    const finding = rejection("models/Llama_3/v3/modelship.yaml");
    expect(finding.message).toContain("model name 'Llama_3' is not valid");
    expect(finding.message).toContain("because it becomes a Kubernetes name");
    expect(finding.hint).toBe("Upload again under a valid key: name the folder 'llama-3'.");
  });

  it("rejects a name longer than 63 characters", () => {
    expect(rejection(`models/${"a".repeat(64)}/v1/modelship.yaml`).code).toBe("key.invalid");
  });

  it("rejects the versions '.' and '..', which would climb out of a folder bucket", () => {
    expect(rejection("models/llama/../modelship.yaml").message).toContain("version '..' is not valid");
    expect(rejection("models/llama/./modelship.yaml").message).toContain("version '.' is not valid");
  });

  it("reports a bad name and a bad version together", () => {
    const finding = rejection("models/Llama/v 3/modelship.yaml");
    expect(finding.message).toContain("model name 'Llama'");
    expect(finding.message).toContain("version 'v 3'");
    expect(finding.hint).toBe(
      "Upload again under a valid key: name the folder 'llama' and name the version folder 'v-3'.",
    );
  });
});

describe("decodeS3EventKey", () => {
  it("decodes '+' as a space and %XX escapes as UTF-8", () => {
    expect(decodeS3EventKey("models/llama/v+3/modelship.yaml")).toBe("models/llama/v 3/modelship.yaml");
    expect(decodeS3EventKey("models%2Fllama%2Fv3%2Fmodelship.yaml")).toBe("models/llama/v3/modelship.yaml");
    expect(decodeS3EventKey("models/caf%C3%A9/v1/modelship.yaml")).toBe("models/café/v1/modelship.yaml");
    expect(decodeS3EventKey("a%2Bb")).toBe("a+b");
  });

  it("keeps malformed escapes as they are instead of throwing", () => {
    expect(decodeS3EventKey("models/llama/v%zz/modelship.yaml")).toBe("models/llama/v%zz/modelship.yaml");
    expect(decodeS3EventKey("models/llama/v3%/modelship.yaml%2")).toBe("models/llama/v3%/modelship.yaml%2");
  });

  it("turns bytes that are not UTF-8 into replacement characters, which the key check refuses", () => {
    const key = decodeS3EventKey("models/llama/v%FF/modelship.yaml");
    expect(key).toBe("models/llama/v\uFFFD/modelship.yaml");
    expect(parseManifestKey(key).ok).toBe(false);
  });

  it("never throws, whatever arrives", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (raw) => {
        expect(typeof decodeS3EventKey(raw)).toBe("string");
      }),
      { numRuns: 500 },
    );
  });
});

describe("executionName", () => {
  it("reads <model>-<version>-<8 hex>", () => {
    expect(executionName("llama", "v3", "models/llama/v3/modelship.yaml#version-1")).toMatch(
      /^llama-v3-[0-9a-f]{8}$/,
    );
  });

  it("is the same for the same upload and different for another upload of the same key", () => {
    const key = "models/llama/v3/modelship.yaml";
    expect(executionName("llama", "v3", `${key}#version-1`)).toBe(
      executionName("llama", "v3", `${key}#version-1`),
    );
    expect(executionName("llama", "v3", `${key}#version-1`)).not.toBe(
      executionName("llama", "v3", `${key}#version-2`),
    );
  });

  it("stays within 80 allowed characters for the longest names, cutting the version and keeping the hash", () => {
    const model = "m".repeat(63);
    const version = "v".repeat(64);
    const a = executionName(model, version, "upload-a");
    const b = executionName(model, version, "upload-b");
    expect(a.length).toBeLessThanOrEqual(80);
    expect(a.startsWith(`${model}-vvvvvvv-`)).toBe(true);
    expect(a).not.toBe(b);
  });

  it("only ever uses characters Step Functions allows", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 100 }),
        fc.string({ maxLength: 100 }),
        fc.string(),
        (model, version, dedup) => {
          const name = executionName(model, version, dedup);
          expect(name.length).toBeLessThanOrEqual(80);
          expect(name).not.toMatch(FORBIDDEN_IN_EXECUTION_NAMES);
          expect(name).toMatch(/-[0-9a-f]{8}$/);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("model names that cannot be Kubernetes names", () => {
  it("rejects a name ending in '-', which no Deployment or Service may carry", () => {
    const rejected = rejection("models/llama-/v1/modelship.yaml");
    expect(rejected.message).toContain("'llama-'");
    expect(parseManifestKey("models/a/v1/modelship.yaml").ok).toBe(true);
    expect(parseManifestKey(`models/${"a".repeat(63)}/v1/modelship.yaml`).ok).toBe(true);
    expect(parseManifestKey(`models/${"a".repeat(64)}/v1/modelship.yaml`).ok).toBe(false);
  });
});
