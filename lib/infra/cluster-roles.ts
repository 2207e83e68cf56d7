// The Kubernetes side of least privilege: which rights in the cluster each function gets, derived from the
// port methods its stage declares (lib/pipeline/function-port-use.ts) through the Kubernetes access table
// (lib/aws/port-actions.ts). Managing candidates is the EKS access policy AmazonEKSEditPolicy, scoped to the
// namespace; everything narrower is a Kubernetes group on the function's access entry — EKS access policies
// cannot say "read pods" or "HTTPRoutes" — bound to a Role the platform team applies once per cluster. This
// file also makes those Roles and RoleBindings (docs/eks.md shows them; a test keeps the two equal).

import { KUBERNETES_ACCESS, type KubernetesAccess } from "../aws/port-actions";
import type { ModelshipFunction } from "../core/pipeline-functions";
import { FUNCTION_PORT_USE } from "../pipeline/function-port-use";
import { usedMembers } from "../pipeline/port-use";

export interface RbacRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

const GATEWAY_API = "gateway.networking.k8s.io";

/** What each kind of access allows in the stack's namespace. */
export const KUBERNETES_RULES: Readonly<Record<KubernetesAccess, readonly RbacRule[]>> = {
  // What modelship uses of AmazonEKSEditPolicy, which grants it (and more of the built-in API groups).
  editCandidates: [
    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "create", "delete"] },
    {
      apiGroups: [""],
      resources: ["services", "serviceaccounts"],
      verbs: ["get", "list", "create", "delete"],
    },
    { apiGroups: [""], resources: ["pods", "events"], verbs: ["get", "list"] },
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    { apiGroups: [""], resources: ["services/proxy"], verbs: ["get", "create"] },
  ],
  // `create` on services/proxy is a POST through the proxy: a chat completion.
  readCandidates: [
    { apiGroups: [""], resources: ["pods", "events"], verbs: ["get", "list"] },
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list"] },
    { apiGroups: [""], resources: ["services/proxy"], verbs: ["get", "create"] },
  ],
  readRoutes: [{ apiGroups: [GATEWAY_API], resources: ["httproutes"], verbs: ["get", "list"] }],
  // Read, then written back with the resourceVersion read: no patch, no watch.
  editRoutes: [
    { apiGroups: [GATEWAY_API], resources: ["httproutes"], verbs: ["get", "create", "update", "delete"] },
  ],
  scrapePods: [
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
    { apiGroups: [""], resources: ["pods/proxy"], verbs: ["get"] },
  ],
};

/** The Kubernetes group of each access a Role grants (all but editCandidates, which an access policy grants). */
export const KUBERNETES_GROUPS: Readonly<Record<Exclude<KubernetesAccess, "editCandidates">, string>> = {
  readCandidates: "modelship-candidate-readers",
  readRoutes: "modelship-route-readers",
  editRoutes: "modelship-routes",
  scrapePods: "modelship-pod-metrics",
};

/** What an access already includes, so a function is not given both. */
const INCLUDED: Partial<Record<KubernetesAccess, KubernetesAccess>> = {
  readCandidates: "editCandidates",
  readRoutes: "editRoutes",
};

/**
 * Access a function needs beyond its port methods. The Prober scrapes each serving pod's `/metrics` through
 * the API server's pods proxy (issue 9, real-traffic metrics); when that scrape is a port method, its row in
 * KUBERNETES_ACCESS takes this one's place.
 */
const EXTRA_ACCESS: Partial<Record<ModelshipFunction, readonly KubernetesAccess[]>> = {
  Prober: ["scrapePods"],
};

/** Every kind of Kubernetes access the function's port use needs, the included ones left out. */
export function kubernetesAccessOf(name: ModelshipFunction): KubernetesAccess[] {
  const needed = new Set<KubernetesAccess>(EXTRA_ACCESS[name] ?? []);
  for (const { port, members } of usedMembers(FUNCTION_PORT_USE[name])) {
    if (port !== "serving" && port !== "gateway") continue;
    const table: Readonly<Record<string, KubernetesAccess>> = KUBERNETES_ACCESS[port];
    for (const member of members) {
      const access = table[member];
      if (access) needed.add(access);
    }
  }
  // In the table's order, whichever method asked first.
  return (Object.keys(KUBERNETES_RULES) as KubernetesAccess[]).filter((access) => {
    const includedIn = INCLUDED[access];
    return needed.has(access) && !(includedIn && needed.has(includedIn));
  });
}

/** The function's access entry: the namespace-scoped edit policy, and the Kubernetes groups, if any. */
export function clusterAccessOf(name: ModelshipFunction): {
  readonly editNamespace: boolean;
  readonly kubernetesGroups: readonly string[];
} {
  const accesses = kubernetesAccessOf(name);
  return {
    editNamespace: accesses.includes("editCandidates"),
    kubernetesGroups: accesses.flatMap((access) =>
      access === "editCandidates" ? [] : [KUBERNETES_GROUPS[access]],
    ),
  };
}

/** A Role or RoleBinding, as `kubectl apply` takes it. */
export type RbacObject = Readonly<Record<string, unknown>>;

/** The Role and RoleBinding of every group, in the namespace: what the platform team applies once. */
export function clusterRoleObjects(namespace: string): RbacObject[] {
  return (Object.entries(KUBERNETES_GROUPS) as [keyof typeof KUBERNETES_GROUPS, string][]).flatMap(
    ([access, group]) => [
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: group, namespace },
        rules: KUBERNETES_RULES[access].map((rule) => ({
          apiGroups: [...rule.apiGroups],
          resources: [...rule.resources],
          verbs: [...rule.verbs],
        })),
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: group, namespace },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: group }],
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: group },
      },
    ],
  );
}
