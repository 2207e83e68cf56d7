// gpu.tolerations as the stack config's reader and doctor's ClusterSettings reader both take them: one schema,
// with the API server's rules for an empty key and for Exists.

import { describe, expect, it } from "vitest";
import { tolerationSchema } from "../../lib/core/config/toleration-schema";
import { resolveStackConfig } from "../../lib/core/resolution/stack-config";

describe("tolerationSchema", () => {
  it("takes an empty key with operator Exists: it tolerates every taint", () => {
    const result = resolveStackConfig(
      { gpu: { tolerations: [{ key: "", operator: "Exists" }] } },
      "cdk.json",
    );
    expect(result.findings).toEqual([]);
    expect(result.config?.gpu.tolerations).toEqual([{ key: "", operator: "Exists" }]);
  });

  it("refuses an empty key with Equal (or no operator), as the API server would, naming the field", () => {
    const result = resolveStackConfig(
      {
        gpu: {
          tolerations: [
            { key: "", value: "x" },
            { key: "", operator: "Equal" },
          ],
        },
      },
      "cdk.json",
    );
    expect(result.config).toBeUndefined();
    expect(result.findings.map((f) => [f.path, f.message])).toEqual([
      [
        "gpu.tolerations[0].operator",
        "Exists when the key is empty (an empty key with Exists tolerates every taint), or a key naming the taint; found nothing.",
      ],
      [
        "gpu.tolerations[1].operator",
        "Exists when the key is empty (an empty key with Exists tolerates every taint), or a key naming the taint; found 'Equal'.",
      ],
    ]);
  });

  it("refuses a value with operator Exists", () => {
    const parsed = tolerationSchema.safeParse({ key: "nvidia.com/gpu", operator: "Exists", value: "true" });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path)).toEqual([["value"]]);
  });

  it("takes the usual GPU toleration and an Equal one", () => {
    for (const toleration of [
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
      { key: "dedicated", operator: "Equal", value: "inference", effect: "NoExecute" },
      { key: "dedicated", value: "inference" },
    ]) {
      expect(tolerationSchema.safeParse(toleration).success).toBe(true);
    }
  });
});
