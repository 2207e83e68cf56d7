// How Kubernetes decides three things `modelship doctor` judges, as pure functions: whether a toleration
// tolerates a taint (the scheduler's rule: an empty key with Exists tolerates every taint, an empty effect
// every effect, Equal compares the value), whether a label selector selects a set of labels (matchLabels and
// the In/NotIn/Exists/DoesNotExist expressions, ANDed), and which of the RBAC verbs a rule set grants on a
// resource (`*` matching any group, resource or verb).

import type { LabelSelector } from "../../aws/doctor/kubernetes-reads";
import type { Toleration } from "../../core/config/config";
import type { RbacRule } from "../../infra/cluster-roles";

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

/** Whether the selector selects an object with these labels; an empty selector selects everything. */
export function selects(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  return (
    byLabel &&
    (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      const value = labels[key];
      switch (operator) {
        case "In":
          return value !== undefined && values.includes(value);
        case "NotIn":
          return value === undefined || !values.includes(value);
        case "Exists":
          return value !== undefined;
        case "DoesNotExist":
          return value === undefined;
        default:
          return false;
      }
    })
  );
}

/** A rule as a Role holds it (the API's fields may be absent). */
export interface GrantedRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs: readonly string[];
}

/**
 * What `needed` asks that `granted` does not give, as `verb resource` phrases (`update httproutes`); empty when
 * everything is granted.
 */
export function missingGrants(needed: readonly RbacRule[], granted: readonly GrantedRule[]): string[] {
  const missing: string[] = [];
  for (const rule of needed) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        for (const verb of rule.verbs) {
          const given = granted.some(
            (g) =>
              covers(g.apiGroups ?? [], group) &&
              covers(g.resources ?? [], resource) &&
              covers(g.verbs, verb),
          );
          if (!given) missing.push(`${verb} ${resource}`);
        }
      }
    }
  }
  return missing;
}

function covers(values: readonly string[], wanted: string): boolean {
  return values.includes("*") || values.includes(wanted);
}
