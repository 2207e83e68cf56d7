// The Kubernetes side of least privilege: which rights in the cluster each function gets, derived from the
// port methods its stage declares (lib/pipeline/function-port-use.ts) through the Kubernetes access table
// (lib/aws/port-actions.ts). Managing candidates is the EKS access policy AmazonEKSEditPolicy, scoped to the
// namespace; everything narrower is a Kubernetes group on the function's access entry — EKS access policies
// cannot say "read pods" or "HTTPRoutes" — bound to a Role the platform team applies once per cluster. This
// file also makes those Roles and RoleBindings (docs/eks.md shows them; a test keeps the two equal).

import { KUBERNETES_ACCESS, type KubernetesAccess } from "../aws/port-actions";
import type { StackConfig } from "../core/config/config";
import type { ModelshipFunction } from "../core/state-machine/pipeline-functions";
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
  // Replicas are set by reading the Deployment and writing it back with the resourceVersion read; an
  // autoscaler is created once and then updated the same way. The ScaledObject list also tells whether
  // KEDA's CRD is installed (404 when not).
  scaleCandidates: [
    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "update"] },
    {
      apiGroups: ["autoscaling"],
      resources: ["horizontalpodautoscalers"],
      verbs: ["get", "create", "update"],
    },
    {
      apiGroups: ["keda.sh"],
      resources: ["scaledobjects", "triggerauthentications"],
      verbs: ["get", "list", "create", "update"],
    },
  ],
  // Cluster-scoped: a ClusterRole (nodes and NodePools have no namespace; GPU pods run in any namespace).
  readCapacity: [
    { apiGroups: [""], resources: ["nodes", "pods"], verbs: ["list"] },
    { apiGroups: ["karpenter.sh"], resources: ["nodepools"], verbs: ["list"] },
  ],
};

/** The accesses granted cluster-wide (a ClusterRole and ClusterRoleBinding) rather than in the namespace. */
export const CLUSTER_SCOPED: ReadonlySet<KubernetesAccess> = new Set(["readCapacity"]);

/** The Kubernetes group of each access a Role grants (all but editCandidates, which an access policy grants). */
export const KUBERNETES_GROUPS: Readonly<Record<Exclude<KubernetesAccess, "editCandidates">, string>> = {
  readCandidates: "modelship-candidate-readers",
  readRoutes: "modelship-route-readers",
  editRoutes: "modelship-routes",
  scrapePods: "modelship-pod-metrics",
  scaleCandidates: "modelship-scalers",
  readCapacity: "modelship-capacity-readers",
};

/** What an access already includes, so a function is not given both. */
const INCLUDED: Partial<Record<KubernetesAccess, KubernetesAccess>> = {
  readCandidates: "editCandidates",
  readRoutes: "editRoutes",
};

/** Every kind of Kubernetes access the function's port use needs, the included ones left out. */
export function kubernetesAccessOf(name: ModelshipFunction): KubernetesAccess[] {
  const needed = new Set<KubernetesAccess>();
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

/**
 * The group of the functions that query an in-cluster Prometheus through the API server's service proxy
 * (`canaryMetrics.prometheus` of kind `service`): a Role in the Prometheus' own namespace, not the stack's.
 */
export const PROMETHEUS_READERS_GROUP = "modelship-prometheus-readers";

/** The in-cluster Prometheus the stack queries, if its config names one. */
function inClusterPrometheus(config: StackConfig | undefined) {
  const endpoint = config?.canaryMetrics.prometheus?.endpoint;
  return endpoint?.kind === "service" ? endpoint : undefined;
}

/** The function's access entry: the namespace-scoped edit policy, and the Kubernetes groups, if any. */
export function clusterAccessOf(
  name: ModelshipFunction,
  config?: StackConfig,
): {
  readonly editNamespace: boolean;
  readonly kubernetesGroups: readonly string[];
} {
  const accesses = kubernetesAccessOf(name);
  const queriesPrometheus =
    inClusterPrometheus(config) !== undefined &&
    usedMembers(FUNCTION_PORT_USE[name]).some(
      (used) => used.port === "metrics" && used.members.includes("queryPrometheus"),
    );
  return {
    editNamespace: accesses.includes("editCandidates"),
    kubernetesGroups: [
      ...accesses.flatMap((access) => (access === "editCandidates" ? [] : [KUBERNETES_GROUPS[access]])),
      ...(queriesPrometheus ? [PROMETHEUS_READERS_GROUP] : []),
    ],
  };
}

/** A Role or RoleBinding, as `kubectl apply` takes it. */
export type RbacObject = Readonly<Record<string, unknown>>;

/**
 * The Role and RoleBinding of every group, in the namespace: what the platform team applies once; with an
 * in-cluster Prometheus in the config, also the one that lets the prober query it, in its namespace.
 */
export function clusterRoleObjects(namespace: string, config?: StackConfig): RbacObject[] {
  const prometheus = inClusterPrometheus(config);
  const prometheusRole = prometheus
    ? roleAndBinding(PROMETHEUS_READERS_GROUP, prometheus.namespace, [
        // A query is a GET through the service proxy.
        { apiGroups: [""], resources: ["services/proxy"], verbs: ["get"] },
      ])
    : [];
  return [
    ...(Object.entries(KUBERNETES_GROUPS) as [keyof typeof KUBERNETES_GROUPS, string][]).flatMap(
      ([access, group]) =>
        roleAndBinding(group, CLUSTER_SCOPED.has(access) ? undefined : namespace, KUBERNETES_RULES[access]),
    ),
    ...prometheusRole,
  ];
}

/** A Role and RoleBinding in `namespace`, or a ClusterRole and ClusterRoleBinding without one. */
function roleAndBinding(
  group: string,
  namespace: string | undefined,
  rules: readonly RbacRule[],
): RbacObject[] {
  const role = namespace === undefined ? "ClusterRole" : "Role";
  const metadata = namespace === undefined ? { name: group } : { name: group, namespace };
  return [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: role,
      metadata,
      rules: rules.map((rule) => ({
        apiGroups: [...rule.apiGroups],
        resources: [...rule.resources],
        verbs: [...rule.verbs],
      })),
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: `${role}Binding`,
      metadata,
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: group }],
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: role, name: group },
    },
  ];
}
