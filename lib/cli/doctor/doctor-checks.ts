// The checks of `modelship doctor`, in the order a first deploy meets them: the functions' access to the
// cluster, the namespace, the Kubernetes groups' bindings, the gateway parent, the GPU nodes, the candidates'
// credentials, the bucket's events, the API endpoint's reachability and the gateway URL. Each reads through
// the AWS and Kubernetes read adapters (lib/aws/doctor) and says ✓, ✗ with what to run, or why it does not
// apply. A read that fails is that check's ✗, with the reason; the other checks go on — except that once the
// cluster's API server has not answered a read in time, the checks after it that need the API are skipped
// rather than each waiting out the same bound.

import type { Cluster } from "@aws-sdk/client-eks";
import { ApiException } from "@kubernetes/client-node";
import type { ClusterSettings } from "../../core/config/cluster-settings";
import type { AwsDoctorReads } from "../../aws/doctor/aws-reads";
import { POD_IDENTITY_AGENT, withoutScheme } from "../../aws/doctor/aws-reads";
import {
  type Gateway,
  type KubernetesDoctorReads,
  KubernetesUnanswered,
} from "../../aws/doctor/kubernetes-reads";
import { apiMessage } from "../../aws/eks/api-errors";
import { gpuCapacity } from "../../aws/eks/gpu-capacity";
import type { Taint } from "../../aws/eks/taints";
import type { KubernetesAccess } from "../../aws/port-actions";
import {
  CLUSTER_SCOPED,
  KUBERNETES_GROUPS,
  KUBERNETES_RULES,
  PROMETHEUS_READERS_GROUP,
  type RbacRule,
} from "../../infra/cluster-roles";
import { describeAwsFailure } from "../aws-cli";
import { missingGrants, selects } from "./cluster-rules";
import type { CheckResult } from "./doctor-report";
import { irsaTrustPolicy, irsaTrustProblem, STS_AUDIENCE } from "./irsa-trust";

export interface DoctorContext {
  readonly stackName: string;
  readonly region: string;
  /** The AWS partition of the stack (`aws`, `aws-cn`, …), for the ARNs in fix commands. */
  readonly partition: string;
  /** The stack's account: the one whose IAM the doctor reads. */
  readonly account: string;
  readonly settings: ClusterSettings;
  /** The stack's BucketName output. */
  readonly bucket: string | undefined;
  readonly aws: AwsDoctorReads;
  /** The cluster as DescribeCluster returned it, or why it could not be described. */
  readonly cluster: { readonly described: Cluster } | { readonly failure: string };
  /** The cluster's API as the identity running the doctor, connected on first use. */
  readonly kubernetes: () => Promise<KubernetesDoctorReads>;
  /** How long the gateway URL may take to answer. */
  readonly gatewayTimeoutMs: number;
}

/** What `kubernetes()` throws when the cluster could not be described: the checks that need its API are skipped. */
export class ClusterNotDescribed extends Error {
  override readonly name = "ClusterNotDescribed";
}

/** What the checks after cluster access say when DescribeCluster failed (cluster access says why). */
export const CLUSTER_NOT_DESCRIBED = "the cluster could not be described (cluster access)";

/** The cluster DescribeCluster gave; ClusterNotDescribed (the check is skipped) when it failed. */
function describedCluster(context: DoctorContext) {
  if ("failure" in context.cluster) throw new ClusterNotDescribed(CLUSTER_NOT_DESCRIBED);
  return context.cluster.described;
}

/** What `kubernetes()` throws after a read went unanswered: the checks that need the API are skipped. */
class ApiServerUnanswered extends Error {
  override readonly name = "ApiServerUnanswered";
}

type Check = (context: DoctorContext) => Promise<Omit<CheckResult, "id" | "title">>;

const CHECKS: readonly { readonly id: string; readonly title: string; readonly check: Check }[] = [
  { id: "cluster-access", title: "cluster access", check: clusterAccess },
  { id: "namespace", title: "namespace", check: namespaceExists },
  { id: "groups-bound", title: "groups bound", check: groupsBound },
  { id: "gateway-parent", title: "gateway parent", check: gatewayParent },
  { id: "gpu-nodes", title: "GPU nodes", check: gpuNodes },
  { id: "pod-credentials", title: "pod credentials", check: podCredentials },
  { id: "bucket-events", title: "bucket events", check: bucketEvents },
  { id: "api-endpoint", title: "API endpoint", check: apiEndpoint },
  { id: "gateway-url", title: "gateway URL", check: gatewayUrl },
];

/** Every check's result, in order; a check whose read fails is a ✗ naming the failure. */
export async function runDoctorChecks(context: DoctorContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let unanswered: ApiServerUnanswered | undefined;
  // One at a time: they share one connection to the API server, and the output keeps their order.
  for (const { id, title, check } of CHECKS) {
    const silenced = unanswered;
    const checked = silenced
      ? { ...context, kubernetes: () => Promise.reject<KubernetesDoctorReads>(silenced) }
      : context;
    const result = await check(checked).catch((error: unknown) => {
      if (error instanceof ClusterNotDescribed) return { status: "skip" as const, summary: error.message };
      if (error instanceof ApiServerUnanswered) return { status: "skip" as const, summary: error.message };
      if (error instanceof KubernetesUnanswered) {
        unanswered = new ApiServerUnanswered(`the cluster's API server did not answer (${title})`);
        return {
          status: "fail" as const,
          summary: error.message,
          fix: [
            "run doctor from where the API endpoint answers (inside the cluster's VPC for a private endpoint); the checks after this one that read the cluster are skipped",
          ],
        };
      }
      return readFailure(error, context);
    });
    results.push({ id, title, ...result });
  }
  return results;
}

const EDIT_POLICY = "AmazonEKSEditPolicy";
/** Access policies that include what AmazonEKSEditPolicy grants in a namespace. */
const EDIT_OR_MORE = [EDIT_POLICY, "AmazonEKSAdminPolicy", "AmazonEKSClusterAdminPolicy"];
const IRSA_ANNOTATION = "eks.amazonaws.com/role-arn";
const DOCS_ROLES = 'docs/eks.md, "The Roles you apply for the groups"';

async function clusterAccess(context: DoctorContext): Promise<Omit<CheckResult, "id" | "title">> {
  const { settings, partition } = context;
  const cluster = settings.clusterName;
  if ("failure" in context.cluster) {
    return {
      status: "fail",
      summary: `could not describe EKS cluster ${cluster} in ${context.region}: ${context.cluster.failure}`,
      fix: [
        `aws eks list-clusters --region ${context.region}   # then set the stack's clusterName to the cluster that runs candidates`,
      ],
    };
  }
  const mode = context.cluster.described.accessConfig?.authenticationMode ?? "CONFIG_MAP";
  if (mode !== "API" && mode !== "API_AND_CONFIG_MAP") {
    return {
      status: "fail",
      summary: `authentication mode ${mode}: access entries, which the functions' access is, need API or API_AND_CONFIG_MAP`,
      fix: [
        `aws eks update-cluster-config --name ${cluster} --access-config authenticationMode=API_AND_CONFIG_MAP`,
      ],
    };
  }
  const principals = new Set(await context.aws.accessEntryPrincipals(cluster));
  const problems: string[] = [];
  const fix: string[] = [];
  const editPolicyArn = `arn:${partition}:eks::aws:cluster-access-policy/${EDIT_POLICY}`;
  const associate = (role: string) =>
    `aws eks associate-access-policy --cluster-name ${cluster} --principal-arn ${role} --policy-arn ${editPolicyArn} --access-scope type=namespace,namespaces=${settings.namespace}`;
  const functions = Object.entries(settings.functions);
  for (const [name, access] of functions) {
    const role = access.roleArn;
    if (!principals.has(role)) {
      problems.push(`${name}: no access entry for its role ${role}`);
      fix.push(
        `aws eks create-access-entry --cluster-name ${cluster} --principal-arn ${role} --type STANDARD` +
          (access.kubernetesGroups.length > 0
            ? ` --kubernetes-groups ${access.kubernetesGroups.join(" ")}`
            : ""),
      );
      if (access.editNamespace) fix.push(associate(role));
      continue;
    }
    const entry = await context.aws.accessEntry(cluster, role);
    const missing = access.kubernetesGroups.filter((group) => !entry.kubernetesGroups.includes(group));
    if (missing.length > 0) {
      problems.push(
        `${name}: its access entry lacks the group${missing.length === 1 ? "" : "s"} ${missing.join(", ")}`,
      );
      fix.push(
        `aws eks update-access-entry --cluster-name ${cluster} --principal-arn ${role} --kubernetes-groups ${[...entry.kubernetesGroups, ...missing].join(" ")}`,
      );
    }
    const editsNamespace = entry.policies.some(
      ({ policyArn, scope }) =>
        EDIT_OR_MORE.some((policy) => policyArn.endsWith(`/${policy}`)) &&
        (scope.type === "cluster" || scope.namespaces.includes(settings.namespace)),
    );
    if (access.editNamespace && !editsNamespace) {
      problems.push(`${name}: its access entry has no ${EDIT_POLICY} on namespace ${settings.namespace}`);
      fix.push(associate(role));
    }
  }
  if (problems.length > 0) {
    return {
      status: "fail",
      summary: `authentication mode ${mode}, but ${problems.length} access entr${problems.length === 1 ? "y is" : "ies are"} missing or short of what the functions need`,
      details: problems,
      fix,
    };
  }
  return {
    status: "pass",
    summary: `authentication mode ${mode}; the ${functions.length} functions that reach the cluster have their access entries`,
  };
}

async function namespaceExists(context: DoctorContext): Promise<Omit<CheckResult, "id" | "title">> {
  const name = context.settings.namespace;
  const namespace = await (await context.kubernetes()).namespace(name);
  if (!namespace) {
    return {
      status: "fail",
      summary: `namespace ${name} does not exist (modelship never creates namespaces)`,
      fix: [`kubectl create namespace ${name}`],
    };
  }
  if (namespace.status?.phase === "Terminating") {
    return {
      status: "fail",
      summary: `namespace ${name} is being deleted`,
      fix: [`wait until it is gone (kubectl get namespace ${name}), then: kubectl create namespace ${name}`],
    };
  }
  return { status: "pass", summary: `namespace ${name} exists` };
}

/** Which access each group grants, from the groups of KUBERNETES_GROUPS. */
const ACCESS_OF_GROUP = new Map(
  (Object.entries(KUBERNETES_GROUPS) as [Exclude<KubernetesAccess, "editCandidates">, string][]).map(
    ([access, group]) => [group, access],
  ),
);

async function groupsBound(context: DoctorContext): Promise<Omit<CheckResult, "id" | "title">> {
  const { namespace } = context.settings;
  const groups = [
    ...new Set(Object.values(context.settings.functions).flatMap((access) => access.kubernetesGroups)),
  ];
  if (groups.length === 0)
    return { status: "skip", summary: "no function reaches the cluster through a group" };
  const kubernetes = await context.kubernetes();
  const problems: string[] = [];
  const notes: string[] = [];
  const fix: string[] = [];
  for (const group of groups) {
    const access = ACCESS_OF_GROUP.get(group);
    if (access === undefined) {
      notes.push(
        group === PROMETHEUS_READERS_GROUP
          ? `${group} is bound in the Prometheus' own namespace: not checked`
          : `${group} is not a group this modelship knows: not checked`,
      );
      continue;
    }
    const scope = CLUSTER_SCOPED.has(access) ? undefined : namespace;
    const needed = KUBERNETES_RULES[access];
    const bindings = await kubernetes.groupBindings(group, scope);
    if (bindings.length === 0) {
      problems.push(
        `${group}: no ${scope === undefined ? "ClusterRoleBinding" : `RoleBinding in ${scope}`} names the group`,
      );
      const role = await kubernetes.role(group, scope);
      fix.push(...(role ? [] : createRoleCommands(group, scope, needed)), bindCommand(group, scope));
      continue;
    }
    for (const binding of bindings.filter((b) => b.rules === undefined)) {
      problems.push(
        `${group}: ${binding.binding} binds ${binding.roleRef.kind} ${binding.roleRef.name}, which does not exist`,
      );
    }
    // RBAC adds up: what all the group's bindings grant together is what the group may do.
    const granted = bindings.flatMap((binding) => binding.rules ?? []);
    const missing = missingGrants(needed, granted);
    if (missing.length > 0) {
      problems.push(`${group}: its bindings do not grant ${missing.join(", ")}`);
      const roleRef = bindings.find((b) => b.rules !== undefined)?.roleRef ?? bindings[0]!.roleRef;
      const kind = roleRef.kind === "ClusterRole" ? "clusterrole" : "role";
      fix.push(
        `kubectl ${kind === "role" ? `-n ${namespace} ` : ""}edit ${kind} ${roleRef.name}   # let it also ${missing.join(", ")} (${DOCS_ROLES})`,
      );
    }
  }
  if (problems.length > 0) {
    return {
      status: "fail",
      summary: `${problems.length} group binding${problems.length === 1 ? " is" : "s are"} missing or short of the verbs the functions need`,
      details: [...problems, ...notes],
      fix,
    };
  }
  const checked = groups.filter((g) => ACCESS_OF_GROUP.has(g));
  return {
    status: "pass",
    summary: `${checked.length} group${checked.length === 1 ? " is" : "s are"} bound with the verbs the functions need (${checked.join(", ")})`,
    ...(notes.length > 0 && { details: notes }),
  };
}

/**
 * `kubectl create role` for a group's rules when one command can say them exactly — every rule with the same
 * verbs, since kubectl grants each verb on each resource given — else the docs' YAML to apply.
 */
function createRoleCommands(group: string, scope: string | undefined, rules: readonly RbacRule[]): string[] {
  const verbs = rules[0]?.verbs.join(",") ?? "";
  if (rules.some((rule) => rule.verbs.join(",") !== verbs)) {
    return [
      `kubectl apply -f ${group}.yaml   # its ${scope === undefined ? "ClusterRole" : "Role"} from ${DOCS_ROLES}`,
    ];
  }
  const resources = rules.flatMap((rule) =>
    rule.apiGroups.flatMap((apiGroup) =>
      rule.resources.map((resource) => (apiGroup === "" ? resource : `${resource}.${apiGroup}`)),
    ),
  );
  return [
    scope === undefined
      ? `kubectl create clusterrole ${group} --verb=${verbs} --resource=${resources.join(",")}`
      : `kubectl -n ${scope} create role ${group} --verb=${verbs} --resource=${resources.join(",")}`,
  ];
}

function bindCommand(group: string, scope: string | undefined): string {
  return scope === undefined
    ? `kubectl create clusterrolebinding ${group} --clusterrole=${group} --group=${group}`
    : `kubectl -n ${scope} create rolebinding ${group} --role=${group} --group=${group}`;
}

async function gatewayParent(context: DoctorContext): Promise<Omit<CheckResult, "id" | "title">> {
  const { gatewayParent: parent, namespace } = context.settings;
  const where = `Gateway ${parent.namespace}/${parent.name}`;
  const kubernetes = await context.kubernetes();
  const gateway = await kubernetes.gateway(parent.namespace, parent.name);
  if (!gateway) {
    return {
      status: "fail",
      summary: `${where} does not exist`,
      fix: [
        "kubectl get gateways -A   # then set the stack's gatewayParent to the Gateway your models are served through",
      ],
    };
  }
  const listeners = gateway.spec?.listeners ?? [];
  const named =
    parent.sectionName === undefined ? listeners : listeners.filter((l) => l.name === parent.sectionName);
  if (named.length === 0) {
    return {
      status: "fail",
      summary: `${where} has no listener ${parent.sectionName ?? ""} (its listeners: ${listeners.map((l) => l.name).join(", ") || "none"})`,
      fix: [
        "set the stack's gatewayParent.sectionName to one of its listeners, or leave it out to attach to all",
      ],
    };
  }
  const labels = (await kubernetes.namespace(namespace))?.metadata?.labels ?? {};
  const verdicts = named.map((listener) => ({
    listener,
    refusal: listenerRefusal(listener, parent.namespace, namespace, labels),
  }));
  const accepting = verdicts.filter((v) => v.refusal === undefined).map((v) => v.listener.name ?? "");
  // Gateway API's ReferenceGrant: "All cross-namespace references in Gateway API (with the exception of
  // cross-namespace Gateway-route attachment) require a ReferenceGrant" — the routes' backendRefs stay in-namespace.
  const crossNamespace =
    parent.namespace === namespace
      ? []
      : [
          `no ReferenceGrant needed: the route attaches across namespaces through allowedRoutes, and its backends are Services in its own namespace`,
        ];
  if (accepting.length === 0) {
    return {
      status: "fail",
      summary: `no listener of ${where} accepts HTTPRoutes from namespace ${namespace}`,
      details: verdicts.map((v) => `listener ${v.listener.name ?? "?"}: ${v.refusal ?? ""}`),
      fix: verdicts.map((v) => admitCommand(v.listener, listeners.indexOf(v.listener), parent, namespace)),
    };
  }
  return {
    status: "pass",
    summary: `${where} accepts HTTPRoutes from namespace ${namespace} on listener${accepting.length === 1 ? "" : "s"} ${accepting.join(", ")}`,
    ...(crossNamespace.length > 0 && { details: crossNamespace }),
  };
}

type Listener = NonNullable<NonNullable<Gateway["spec"]>["listeners"]>[number];
const GATEWAY_API_GROUP = "gateway.networking.k8s.io";

/**
 * Why the listener does not accept an HTTPRoute from `routeNamespace`, or undefined when it does. Gateway API:
 * `allowedRoutes.namespaces.from` is Same by default, All, or Selector (over the route namespace's labels);
 * `allowedRoutes.kinds`, when empty, is what the listener's protocol takes (HTTPRoute for HTTP and HTTPS).
 */
function listenerRefusal(
  listener: Listener,
  gatewayNamespace: string,
  routeNamespace: string,
  labels: Readonly<Record<string, string>>,
): string | undefined {
  const kinds = listener.allowedRoutes?.kinds ?? [];
  if (kinds.length > 0) {
    if (!kinds.some((k) => k.kind === "HTTPRoute" && (k.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP))
      return `allowedRoutes.kinds (${kinds.map((k) => k.kind).join(", ")}) has no HTTPRoute`;
  } else if (listener.protocol !== "HTTP" && listener.protocol !== "HTTPS") {
    return `protocol ${listener.protocol ?? "unset"} takes no HTTPRoutes (HTTP or HTTPS does)`;
  }
  const from = listener.allowedRoutes?.namespaces?.from ?? "Same";
  if (from === "All") return undefined;
  if (from === "Same") {
    return gatewayNamespace === routeNamespace
      ? undefined
      : `allowedRoutes.namespaces.from is Same${listener.allowedRoutes?.namespaces?.from ? "" : " (the default)"}: only routes in ${gatewayNamespace}`;
  }
  if (from === "Selector") {
    const selector = listener.allowedRoutes?.namespaces?.selector ?? {};
    return selects(selector, labels)
      ? undefined
      : `its namespace selector ${JSON.stringify(selector)} does not select ${routeNamespace} (labels ${JSON.stringify(labels)})`;
  }
  return `allowedRoutes.namespaces.from is ${from}, which Gateway API does not define`;
}

/** The command that lets the listener take routes from the namespace, and only from it. */
function admitCommand(
  listener: Listener,
  index: number,
  parent: ClusterSettings["gatewayParent"],
  namespace: string,
): string {
  const matchLabels = listener.allowedRoutes?.namespaces?.selector?.matchLabels;
  if (
    listener.allowedRoutes?.namespaces?.from === "Selector" &&
    matchLabels &&
    !listener.allowedRoutes.namespaces.selector?.matchExpressions?.length
  ) {
    return `kubectl label namespace ${namespace} ${Object.entries(matchLabels)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}`;
  }
  // Every namespace carries kubernetes.io/metadata.name (Kubernetes 1.21+): a selector for it admits one namespace.
  const allowedRoutes = {
    namespaces: { from: "Selector", selector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } },
  };
  return `kubectl -n ${parent.namespace} patch gateway ${parent.name} --type json -p '${JSON.stringify([
    { op: "add", path: `/spec/listeners/${index}/allowedRoutes`, value: allowedRoutes },
  ])}'`;
}

async function gpuNodes(context: DoctorContext): Promise<Omit<CheckResult, "id" | "title">> {
  const { resourceName, nodeSelector, tolerations } = context.settings.gpu;
  const selectorText =
    Object.entries(nodeSelector)
      .map(([k, v]) => `${k}=${v}`)
      .join(",") || "no node selector";
  const kubernetes = await context.kubernetes();
  const listed = await kubernetes.nodes(nodeSelector);
  const nodePools = await kubernetes.nodePools();
  // The same rule as DeployCandidate's capacity check; no pods, since this asks where candidates can run at
  // all, not how many GPUs are free now.
  const {
    nodes,
    pools,
    gpuNodes: count,
    allocatableGpus,
  } = gpuCapacity({
    nodes: listed,
    pods: [],
    nodePools,
    resourceName,
    nodeSelector,
    tolerations,
  });
  if (count > 0) {
    return {
      status: "pass",
      summary: `${count} node${count === 1 ? "" : "s"} with ${selectorText} advertise${count === 1 ? "s" : ""} ${resourceName} (${allocatableGpus} allocatable), ${count === 1 ? "its" : "their"} taints tolerated`,
    };
  }
  const launching = (pools ?? []).filter((pool) => pool.room > 0 && pool.repelledBy.length === 0);
  if (launching.length > 0) {
    return {
      status: "pass",
      summary: `no GPU node runs now; Karpenter's NodePool ${launching.map((p) => p.name).join(", ")} launches nodes with ${selectorText} when a candidate asks, its taints tolerated`,
    };
  }
  const details: string[] = [];
  const fix: string[] = [];
  const withGpus = nodes.filter((node) => node.allocatableGpus > 0);
  if (nodes.length === 0) {
    details.push(`no node carries ${selectorText}`);
    fix.push(
      `kubectl get nodes --show-labels   # then label the GPU nodes (kubectl label node <node> ${selectorText.replace(/,/g, " ")}) or set the stack's gpu.nodeSelector to labels they carry`,
    );
  } else if (withGpus.length === 0) {
    details.push(
      `${nodes.map((n) => n.name).join(", ")} carr${nodes.length === 1 ? "ies" : "y"} ${selectorText} but advertise${nodes.length === 1 ? "s" : ""} no ${resourceName}`,
    );
    fix.push(
      `install the NVIDIA device plugin (or the GPU Operator) so the nodes advertise ${resourceName}; kubectl describe node <node> shows it under Allocatable`,
    );
  }
  for (const node of withGpus.filter((n) => !n.ready)) {
    details.push(`${node.name}: not Ready`);
    fix.push(`kubectl describe node ${node.name}   # its conditions say why it is not Ready`);
  }
  for (const node of withGpus.filter((n) => n.cordoned)) {
    details.push(`${node.name}: cordoned (spec.unschedulable)`);
    fix.push(`kubectl uncordon ${node.name}   # if it was cordoned for maintenance that is over`);
  }
  const taintText = (taints: readonly Taint[]) =>
    taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`).join(", ");
  for (const { name, repelledBy } of withGpus.filter((n) => n.repelledBy.length > 0)) {
    details.push(`${name}: taint ${taintText(repelledBy)} not tolerated by gpu.tolerations`);
  }
  for (const pool of pools ?? []) {
    if (pool.repelledBy.length > 0) {
      details.push(
        `Karpenter NodePool ${pool.name}: taint ${taintText(pool.repelledBy)} not tolerated by gpu.tolerations`,
      );
    } else if (pool.room === 0) {
      details.push(`Karpenter NodePool ${pool.name}: its ${resourceName} limit is reached`);
      fix.push(
        `kubectl edit nodepool ${pool.name}   # raise spec.limits["${resourceName}"] so it may launch GPU nodes`,
      );
    }
  }
  const untolerated = new Map(
    [...withGpus.flatMap((n) => n.repelledBy), ...(pools ?? []).flatMap((p) => p.repelledBy)].map((t) => [
      `${t.key}:${t.effect}`,
      t,
    ]),
  );
  for (const taint of untolerated.values()) {
    fix.push(
      `add ${JSON.stringify({ key: taint.key, operator: "Exists", effect: taint.effect })} to the stack's gpu.tolerations (cdk.json), then npx cdk deploy`,
    );
  }
  return {
    status: "fail",
    summary: `no node candidates can run on: none with ${selectorText} advertises ${resourceName} with its taints tolerated`,
    details,
    fix,
  };
}

async function podCredentials(context: DoctorContext): Promise<Omit<CheckResult, "id" | "title">> {
  const { settings } = context;
  const described = describedCluster(context);
  const cluster = settings.clusterName;
  const account = `${settings.namespace}/${settings.serviceAccount}`;
  const kubernetes = await context.kubernetes();
  const serviceAccount = await kubernetes.serviceAccount(settings.namespace, settings.serviceAccount);
  const irsaRole = serviceAccount?.metadata?.annotations?.[IRSA_ANNOTATION];
  if (irsaRole !== undefined) return irsaCredentials(context, described, irsaRole);
  const addon = await context.aws.podIdentityAgentAddon(cluster);
  const daemonSet =
    addon === undefined ? await kubernetes.daemonSet("kube-system", POD_IDENTITY_AGENT) : undefined;
  const problems: string[] = [];
  const fix: string[] = [];
  let agent: string;
  if (addon !== undefined) {
    agent = `the ${POD_IDENTITY_AGENT} add-on is ${addon}`;
    if (addon !== "ACTIVE" && addon !== "UPDATING") {
      problems.push(`the ${POD_IDENTITY_AGENT} add-on is ${addon}`);
      fix.push(
        `aws eks describe-addon --cluster-name ${cluster} --addon-name ${POD_IDENTITY_AGENT}   # its health issues say why`,
      );
    }
  } else if (daemonSet) {
    const ready = daemonSet.status?.numberReady ?? 0;
    agent = `the ${POD_IDENTITY_AGENT} DaemonSet has ${ready} ready pod${ready === 1 ? "" : "s"}`;
    if (ready === 0) {
      problems.push(`the ${POD_IDENTITY_AGENT} DaemonSet in kube-system has no ready pod`);
      fix.push(`kubectl -n kube-system describe daemonset ${POD_IDENTITY_AGENT}`);
    }
  } else {
    agent = "";
    problems.push(
      `neither the ${POD_IDENTITY_AGENT} add-on nor its DaemonSet is installed, and ${account} has no IRSA annotation`,
    );
    fix.push(`aws eks create-addon --cluster-name ${cluster} --addon-name ${POD_IDENTITY_AGENT}`);
  }
  const associations = await context.aws.podIdentityAssociations(
    cluster,
    settings.namespace,
    settings.serviceAccount,
  );
  if (associations.length === 0) {
    problems.push(`no Pod Identity association for ${account}`);
    fix.push(
      `aws eks create-pod-identity-association --cluster-name ${cluster} --namespace ${settings.namespace} --service-account ${settings.serviceAccount} --role-arn ${settings.candidateRoleArn ?? "<a role that may read models/* of the bucket>"}`,
    );
  }
  if (problems.length > 0) {
    return {
      status: "fail",
      summary: `the candidates cannot get credentials to read their weights`,
      details: problems,
      fix,
    };
  }
  return {
    status: "pass",
    summary: `Pod Identity: ${agent}; ${account} has an association${serviceAccount ? "" : " (the service account does not exist yet: DeployCandidate creates it)"}`,
  };
}

/**
 * IRSA, as STS judges it when a candidate's pod asks for credentials: the cluster has an OIDC issuer, IAM has a
 * provider for that issuer accepting the audience sts.amazonaws.com, and the annotated role's trust policy allows
 * AssumeRoleWithWebIdentity from that provider for this service account (irsa-trust.ts). IAM is read in the
 * stack's account; a role in another account is not checked.
 */
async function irsaCredentials(
  context: DoctorContext,
  cluster: Cluster,
  roleArn: string,
): Promise<Omit<CheckResult, "id" | "title">> {
  const { settings, partition, region } = context;
  const serviceAccount = `${settings.namespace}/${settings.serviceAccount}`;
  const said = `IRSA: service account ${serviceAccount} names the role ${roleArn}`;
  const issuer = cluster.identity?.oidc?.issuer;
  if (!issuer) {
    return {
      status: "fail",
      summary: `${said}, but the cluster has no OIDC issuer`,
      fix: [
        `eksctl utils associate-iam-oidc-provider --cluster ${settings.clusterName} --region ${region} --approve`,
      ],
    };
  }
  const role = /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  if (!role) {
    return {
      status: "fail",
      summary: `service account ${serviceAccount}'s eks.amazonaws.com/role-arn is ${roleArn}, not an IAM role ARN`,
      fix: [
        `kubectl -n ${settings.namespace} annotate serviceaccount ${settings.serviceAccount} --overwrite eks.amazonaws.com/role-arn=arn:${partition}:iam::<account>:role/<name>`,
      ],
    };
  }
  const [, roleAccount = "", roleName = ""] = role;
  if (roleAccount !== context.account) {
    return {
      status: "pass",
      summary: `${said}; the cluster's OIDC issuer is ${issuer}`,
      details: [
        `not checked: the role is in account ${roleAccount}, and doctor reads the IAM of the stack's account ${context.account}; the OIDC provider and the role's trust policy must be in ${roleAccount}`,
      ],
    };
  }
  const providerUrl = withoutScheme(issuer);
  const target = {
    providerArn: `arn:${partition}:iam::${roleAccount}:oidc-provider/${providerUrl}`,
    providerUrl,
    subject: `system:serviceaccount:${settings.namespace}:${settings.serviceAccount}`,
  };
  let provider: Awaited<ReturnType<AwsDoctorReads["oidcProvider"]>>;
  let trust: unknown;
  try {
    provider = await context.aws.oidcProvider(issuer);
    trust = await context.aws.roleTrustPolicy(roleName);
  } catch (error) {
    return {
      status: "fail",
      summary: `${said}, but IAM could not be read to check its OIDC provider and trust policy: ${describeAwsFailure(error)}`,
      fix: [
        "aws sts get-caller-identity   # the identity doctor reads with; let it call iam:ListOpenIDConnectProviders, iam:GetOpenIDConnectProvider and iam:GetRole",
      ],
    };
  }
  const problems: string[] = [];
  const fix: string[] = [];
  if (provider === undefined) {
    problems.push(`IAM has no OIDC provider for the cluster's issuer ${issuer}`);
    fix.push(
      `eksctl utils associate-iam-oidc-provider --cluster ${settings.clusterName} --region ${region} --approve`,
    );
  } else if (!provider.audiences.includes(STS_AUDIENCE)) {
    problems.push(
      `the IAM OIDC provider ${provider.arn} does not accept the audience ${STS_AUDIENCE} (its audiences: ${provider.audiences.join(", ") || "none"})`,
    );
    fix.push(
      `aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn ${provider.arn} --client-id ${STS_AUDIENCE}`,
    );
  }
  if (trust === undefined) {
    problems.push(`the role ${roleName} does not exist in account ${roleAccount}`);
    fix.push(
      `aws iam create-role --role-name ${roleName} --assume-role-policy-document '${irsaTrustPolicy(target)}'   # then give it read access to models/* of the bucket`,
    );
  } else {
    const problem = irsaTrustProblem(trust, target);
    if (problem !== undefined) {
      problems.push(`the role ${roleName}: ${problem}`);
      // update-assume-role-policy replaces the whole trust policy: other statements the role needs go in too.
      fix.push(
        `aws iam update-assume-role-policy --role-name ${roleName} --policy-document '${irsaTrustPolicy(target)}'   # replaces its trust policy: add any other statement it still needs`,
      );
    }
  }
  if (problems.length > 0) {
    return {
      status: "fail",
      summary: `${said}, but STS will not give the candidates its credentials`,
      details: problems,
      fix,
    };
  }
  return {
    status: "pass",
    summary: `${said}; IAM has the OIDC provider for the cluster's issuer, and the role's trust policy admits the service account`,
  };
}

async function bucketEvents(context: DoctorContext): Promise<Omit<CheckResult, "id" | "title">> {
  const { bucket } = context;
  if (bucket === undefined)
    return { status: "fail", summary: `the stack ${context.stackName} has no BucketName output` };
  const notifications = await context.aws.bucketNotifications(bucket);
  if (notifications.eventBridge) {
    return { status: "pass", summary: `bucket ${bucket} sends its events to EventBridge` };
  }
  // PutBucketNotificationConfiguration replaces the whole configuration: with other notifications, keep them.
  return {
    status: "fail",
    summary: `bucket ${bucket} does not send its events to EventBridge: an upload starts nothing`,
    fix:
      notifications.others === 0
        ? [
            `aws s3api put-bucket-notification-configuration --bucket ${bucket} --notification-configuration '{"EventBridgeConfiguration":{}}'`,
          ]
        : [
            `aws s3api get-bucket-notification-configuration --bucket ${bucket} > notifications.json   # add "EventBridgeConfiguration": {} to it, keeping its ${notifications.others} other notification${notifications.others === 1 ? "" : "s"}, then:`,
            `aws s3api put-bucket-notification-configuration --bucket ${bucket} --notification-configuration file://notifications.json`,
          ],
  };
}

async function apiEndpoint(context: DoctorContext): Promise<Omit<CheckResult, "id" | "title">> {
  const { settings } = context;
  const config = describedCluster(context).resourcesVpcConfig ?? {};
  const isPublic = config.endpointPublicAccess ?? true;
  const isPrivate = config.endpointPrivateAccess ?? false;
  const cidrs = config.publicAccessCidrs ?? ["0.0.0.0/0"];
  const openToAll = cidrs.includes("0.0.0.0/0");
  const cluster = settings.clusterName;
  const functionsVpc = settings.functionsVpcId;
  const inVpc = (clusterVpc: string | undefined) =>
    `npx cdk deploy -c modelshipClusterVpc='{"vpcId":"${clusterVpc ?? "vpc-…"}","availabilityZones":[…],"privateSubnetIds":[…]}'   # the functions in the cluster's VPC (docs/eks.md, Private clusters)`;
  if (functionsVpc === undefined) {
    if (!isPublic) {
      return {
        status: "fail",
        summary:
          "the API endpoint is private only, and the functions run outside any VPC: they cannot reach it",
        fix: [
          inVpc(config.vpcId),
          `or: aws eks update-cluster-config --name ${cluster} --resources-vpc-config endpointPublicAccess=true`,
        ],
      };
    }
    if (!openToAll) {
      return {
        status: "fail",
        summary: `the public endpoint admits only ${cidrs.join(", ")}, and the functions run outside any VPC, from no fixed address`,
        fix: [
          inVpc(config.vpcId),
          `or: aws eks update-cluster-config --name ${cluster} --resources-vpc-config publicAccessCidrs=0.0.0.0/0`,
        ],
      };
    }
    return {
      status: "pass",
      summary: "public endpoint open to 0.0.0.0/0; the functions run outside any VPC and reach it",
    };
  }
  const details = [
    ...(config.vpcId && config.vpcId !== functionsVpc
      ? [
          `the functions run in ${functionsVpc}, the cluster in ${config.vpcId}: they reach it only if the two are connected (peering, Transit Gateway)`,
        ]
      : []),
    `not checked: the cluster's security group must allow the functions' group (output ClusterNetworkSecurityGroups) on 443`,
  ];
  if (isPrivate) {
    return { status: "pass", summary: `private endpoint on; the functions run in ${functionsVpc}`, details };
  }
  return {
    status: "pass",
    summary: `public endpoint only; the functions in ${functionsVpc} reach it through the VPC's NAT gateway`,
    details: openToAll
      ? details
      : [`the NAT gateway's addresses must be among ${cidrs.join(", ")}`, ...details],
  };
}

async function gatewayUrl(context: DoctorContext): Promise<Omit<CheckResult, "id" | "title">> {
  const url = context.settings.gatewayUrl;
  if (url === "")
    return {
      status: "skip",
      summary: "gateway.url is empty: the prober reaches each version's server directly",
    };
  const seconds = context.gatewayTimeoutMs / 1000;
  const where = context.settings.functionsVpcId
    ? [
        `checked from this machine: the prober runs in ${context.settings.functionsVpcId} and may see it differently`,
      ]
    : [];
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(context.gatewayTimeoutMs),
      redirect: "manual",
    });
    await response.body?.cancel();
    return {
      status: "pass",
      summary: `${url} answered (HTTP ${response.status})`,
      ...(where.length > 0 && { details: where }),
    };
  } catch (error) {
    const timedOut = (error as { name?: unknown }).name === "TimeoutError";
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    return {
      status: "fail",
      summary: timedOut
        ? `${url} did not answer within ${seconds} s`
        : `${url} could not be reached: ${typeof cause?.code === "string" ? `${cause.code} ` : ""}${typeof cause?.message === "string" ? cause.message : (error as Error).message}`,
      details: where,
      fix: [
        `kubectl -n ${context.settings.gatewayParent.namespace} get gateway ${context.settings.gatewayParent.name} -o jsonpath='{.status.addresses}'   # then set the stack's gateway.url to the address the prober reaches it at`,
      ],
    };
  }
}

/** A failed read as the check's ✗: what failed and, for a refusal, which access the doctor's identity needs. */
function readFailure(error: unknown, context: DoctorContext): Omit<CheckResult, "id" | "title"> {
  const cluster = context.settings.clusterName;
  if (error instanceof ApiException) {
    const status = error.code;
    const message = apiMessage(error);
    const refused = status === 401 || status === 403;
    return {
      status: "fail",
      summary: `the cluster's API server answered ${status}${message ? `: ${message}` : ""}`,
      ...(refused && {
        fix: [
          `aws sts get-caller-identity   # the identity doctor reads with; give it read access to the cluster:`,
          `aws eks create-access-entry --cluster-name ${cluster} --principal-arn <that role's ARN>`,
          `aws eks associate-access-policy --cluster-name ${cluster} --principal-arn <that role's ARN> --policy-arn arn:${context.partition}:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy --access-scope type=cluster`,
        ],
      }),
    };
  }
  const code = (error as { code?: unknown; cause?: { code?: unknown } }).cause?.code;
  if (typeof code === "string" || (error instanceof TypeError && error.message === "fetch failed")) {
    return {
      status: "fail",
      summary: `could not reach the cluster's API server from this machine (${typeof code === "string" ? code : (error as Error).message})`,
      fix: [
        "run doctor from where the API endpoint is reachable (inside the cluster's VPC for a private endpoint)",
      ],
    };
  }
  return { status: "fail", summary: `could not read: ${describeAwsFailure(error)}` };
}
