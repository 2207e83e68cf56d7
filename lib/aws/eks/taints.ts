// Whether a node's taint keeps a candidate off it, by the scheduler's rule
// (https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/): a toleration with an empty
// key and operator Exists tolerates every taint, an empty effect every effect, Equal compares the value; only
// NoSchedule and NoExecute keep a new pod off (PreferNoSchedule is a preference). Pure: the GPU capacity check
// and `modelship doctor` both ask here.

import type { Toleration } from "../../core/config/config";

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

/** Whether the taint keeps a pod with these tolerations off the node: NoSchedule or NoExecute, not tolerated. */
export function repels(taint: Taint, tolerations: readonly Toleration[]): boolean {
  if (taint.effect !== "NoSchedule" && taint.effect !== "NoExecute") return false;
  return !tolerations.some((toleration) => tolerates(toleration, taint));
}

function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect !== undefined && toleration.effect !== taint.effect) return false;
  const operator = toleration.operator ?? "Equal";
  if (toleration.key === "") return operator === "Exists";
  if (toleration.key !== taint.key) return false;
  return operator === "Exists" || (toleration.value ?? "") === (taint.value ?? "");
}
