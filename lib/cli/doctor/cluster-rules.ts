// How Kubernetes decides two things `modelship doctor` judges, as pure functions: whether a label selector
// selects a set of labels (matchLabels and the In/NotIn/Exists/DoesNotExist expressions, ANDed), and which of
// the RBAC verbs a rule set grants on a resource (`*` matching any group, resource or verb). Whether a taint is
// tolerated is lib/aws/eks/taints.ts, shared with the GPU capacity check.

import type { LabelSelector } from "../../aws/doctor/kubernetes-reads";
import type { RbacRule } from "../../infra/cluster-roles";

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
