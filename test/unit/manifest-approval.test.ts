// rollout.approval in a manifest and in the stack config: `auto`, `manual`, or {mode, at, timeoutSeconds},
// over the stack's default (beforePromote, 24 h); a bad value is a finding naming the field.

import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { parseManifest, resolveManifest } from "../../lib/core/resolution/manifest";
import { planRollout } from "../../lib/core/rollout/plan";
import { resolveStackConfig } from "../../lib/core/resolution/stack-config";

const KEY = { name: "llama", version: "v3", fileName: "modelship.yaml" };

function approvalOf(yaml: string, config = DEFAULT_STACK_CONFIG) {
  const parsed = parseManifest(yaml, KEY.fileName);
  if (!parsed.manifest) throw new Error(parsed.findings.map((f) => f.message).join("\n"));
  const { manifest } = resolveManifest(parsed.manifest, KEY, config);
  if (!manifest) throw new Error("expected a resolved manifest");
  return { approval: manifest.rollout.approval, plan: planRollout(manifest, undefined, config).approval };
}

describe("rollout.approval", () => {
  it("is automatic unless the manifest says manual; a plain `manual` waits before the promotion, 24 h", () => {
    expect(approvalOf("name: llama")).toEqual({
      approval: { mode: "auto", at: "beforePromote", timeoutSeconds: 86400 },
      plan: { wait: "never", timeoutSeconds: 86400 },
    });
    expect(approvalOf("rollout: {approval: manual}").plan).toEqual({
      wait: "beforePromote",
      timeoutSeconds: 86400,
    });
  });

  it("takes where to wait and for how long from the object form", () => {
    expect(
      approvalOf("rollout: {approval: {mode: manual, at: beforeTraffic, timeoutSeconds: 600}}").plan,
    ).toEqual({ wait: "beforeTraffic", timeoutSeconds: 600 });
  });

  it("names the field, what was expected and what was found, for every bad value at once", () => {
    const parsed = parseManifest(
      "rollout: {approval: {mode: later, at: beforeLunch, timeoutSeconds: 0}}",
      KEY.fileName,
    );
    expect(parsed.manifest).toBeUndefined();
    expect(parsed.findings.map((f) => f.path).sort()).toEqual([
      "rollout.approval.at",
      "rollout.approval.mode",
      "rollout.approval.timeoutSeconds",
    ]);
    const tooLong = parseManifest(
      "rollout: {approval: {mode: manual, timeoutSeconds: 604801}}",
      KEY.fileName,
    );
    expect(tooLong.findings.map((f) => f.path)).toEqual(["rollout.approval.timeoutSeconds"]);
  });

  it("takes the stack's default, in either form, under a manifest's bare mode", () => {
    const { config, findings } = resolveStackConfig({
      defaults: { rollout: { approval: { mode: "manual", timeoutSeconds: 3600 } } },
    });
    if (!config) throw new Error(findings.map((f) => f.message).join("\n"));
    expect(config.defaults.rollout.approval).toEqual({
      mode: "manual",
      at: "beforePromote",
      timeoutSeconds: 3600,
    });
    expect(approvalOf("name: llama", config).plan).toEqual({ wait: "beforePromote", timeoutSeconds: 3600 });
    expect(approvalOf("rollout: {approval: auto}", config).plan?.wait).toBe("never");
    expect(
      resolveStackConfig({ defaults: { rollout: { approval: "manual" } } }).config?.defaults.rollout.approval,
    ).toEqual({ mode: "manual", at: "beforePromote", timeoutSeconds: 86400 });
  });
});
