import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { loadManifest } from "../../lib/core/resolution/manifest";

const KEY = { name: "llama", version: "v3", fileName: "modelship.yaml" };

function load(stickiness: string) {
  return loadManifest(`rollout:\n  stickiness: ${stickiness}\n`, KEY, DEFAULT_STACK_CONFIG);
}

describe("rollout.stickiness", () => {
  it("keeps a header or a cookie as the conversation key", () => {
    expect(load("{header: x-session-id}").manifest?.rollout.stickiness).toEqual({ header: "x-session-id" });
    expect(load("{cookie: chat}").manifest?.rollout.stickiness).toEqual({ cookie: "chat" });
  });

  it("is absent when the manifest sets none: every request goes by weight", () => {
    const loaded = loadManifest("", KEY, DEFAULT_STACK_CONFIG);
    expect(loaded.manifest?.rollout).not.toHaveProperty("stickiness");
  });

  it("needs exactly one of header and cookie, naming the field", () => {
    for (const value of ["{}", "{header: x-session-id, cookie: chat}"]) {
      const { manifest, findings } = load(value);
      expect(manifest).toBeUndefined();
      expect(findings).toEqual([
        expect.objectContaining({
          path: "rollout.stickiness",
          file: "modelship.yaml",
          message: expect.stringContaining("expected exactly one of 'header' and 'cookie'"),
        }),
      ]);
    }
  });

  it("refuses a name that is not an HTTP header or cookie name, saying what one is", () => {
    const { manifest, findings } = load('{header: "x session"}');
    expect(manifest).toBeUndefined();
    expect(findings).toEqual([
      expect.objectContaining({
        path: "rollout.stickiness.header",
        message: expect.stringContaining("an HTTP header or cookie name"),
      }),
    ]);
    expect(load('{cookie: "a=b"}').findings[0]).toMatchObject({ path: "rollout.stickiness.cookie" });
  });

  it("refuses modelship's variant header, the stack's model header and request-framing headers", () => {
    for (const header of ["x-modelship-variant", "x-model-id", "content-length", "cookie"]) {
      const { manifest, findings } = load(`{header: ${header}}`);
      expect(manifest, header).toBeUndefined();
      expect(findings).toEqual([
        expect.objectContaining({
          code: "manifest.stickiness-header",
          path: "rollout.stickiness.header",
          message: expect.stringContaining(`'${header}' cannot be the conversation key`),
        }),
      ]);
    }
  });

  it("refuses it with blue/green, which moves all traffic at once, and keeps it with a linear rollout", () => {
    const yaml = (strategy: string) =>
      `rollout:\n  strategy: ${strategy}\n  stickiness: {header: x-session-id}\n`;
    const blueGreen = loadManifest(yaml("blueGreen"), KEY, DEFAULT_STACK_CONFIG);
    expect(blueGreen.manifest).toBeUndefined();
    expect(blueGreen.findings).toEqual([
      expect.objectContaining({
        code: "manifest.stickiness-blue-green",
        path: "rollout.stickiness",
        message: expect.stringContaining("strategy: blueGreen moves all traffic at once"),
      }),
    ]);
    const linear = loadManifest(yaml("linear"), KEY, DEFAULT_STACK_CONFIG);
    expect(linear.manifest?.rollout.stickiness).toEqual({ header: "x-session-id" });
  });

  it("refuses an unknown key in it, suggesting the known ones", () => {
    const { findings } = load("{headers: x-session-id}");
    expect(findings[0]).toMatchObject({ path: "rollout.stickiness.headers" });
    expect(findings[0]?.message).toContain("did you mean 'header'?");
  });
});
