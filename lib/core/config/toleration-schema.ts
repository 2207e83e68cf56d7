// A pod toleration as the stack config writes it (gpu.tolerations) and its ClusterSettings output carries it:
// one schema for the stack config's reader and doctor's, with the API server's own rules
// (ValidateTolerations, kubernetes/pkg/apis/core/validation): an empty key is allowed only with operator
// Exists — it tolerates every taint — and an Exists toleration has no value. A toleration the API server
// would refuse is refused here, when the stack config is read, not when DeployCandidate creates the pod.

import { z } from "zod";

export const tolerationSchema = z
  .strictObject({
    key: z.string(),
    operator: z.enum(["Equal", "Exists"]).optional(),
    value: z.string().optional(),
    effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  })
  .superRefine((toleration, context) => {
    if (toleration.key === "" && toleration.operator !== "Exists") {
      context.addIssue({
        code: "custom",
        path: ["operator"],
        message:
          "Exists when the key is empty (an empty key with Exists tolerates every taint), or a key naming the taint",
      });
    }
    if (toleration.operator === "Exists" && (toleration.value ?? "") !== "") {
      context.addIssue({
        code: "custom",
        path: ["value"],
        message: "no value with operator Exists (it matches any value), or operator Equal to match this one",
      });
    }
  });
