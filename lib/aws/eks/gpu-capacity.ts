// Where the stack's candidates can get GPUs of its kind, from what the API server lists: the nodes the stack's
// GPU selector picks that advertise the resource, are Ready, not cordoned and carry no taint the candidates do
// not tolerate (each one's allocatable GPUs minus what the pods bound to it request); plus what Karpenter may
// still add — a matching NodePool whose template's taints are tolerated, its `spec.limits` for the resource
// minus the capacity of the nodes it already launched (karpenter.sh/v1; a NodePool without a limit for it is
// unbounded). Pure: eks-serving.ts (DeployCandidate's capacity check) and `modelship doctor` list the objects
// and ask here, so both judge a node by the same rule.

import type { V1Node, V1Pod } from "@kubernetes/client-node";
import type { Toleration } from "../../core/config/config";
import { repels, type Taint } from "./taints";

/** A Karpenter NodePool as listed (karpenter.sh/v1): only the fields the check reads. */
export interface NodePool {
  readonly metadata?: { readonly name?: string };
  readonly spec?: {
    readonly limits?: Readonly<Record<string, string | number>>;
    readonly template?: {
      readonly metadata?: { readonly labels?: Readonly<Record<string, string>> };
      readonly spec?: { readonly taints?: readonly Taint[] };
    };
  };
}

/** The label Karpenter puts on every node it launches, naming its NodePool. */
const NODEPOOL_LABEL = "karpenter.sh/nodepool";

/** A node the selector picks, and what keeps candidates off it. */
export interface SelectedNode {
  readonly name: string;
  readonly allocatableGpus: number;
  readonly ready: boolean;
  /** `spec.unschedulable` (kubectl cordon). */
  readonly cordoned: boolean;
  /** Its NoSchedule/NoExecute taints the stack's tolerations do not tolerate. */
  readonly repelledBy: readonly Taint[];
}

/** A NodePool whose template carries the selector's labels. */
export interface MatchingPool {
  readonly name: string;
  /** GPUs it may still launch within its limit; Infinity without a limit for the resource. */
  readonly room: number;
  /** Taints of its template the stack's tolerations do not tolerate: its nodes would not take candidates. */
  readonly repelledBy: readonly Taint[];
}

export interface GpuCapacity {
  /** Allocatable GPUs not requested by pods, on the usable nodes. */
  readonly freeGpus: number;
  /** Allocatable GPUs on the usable nodes. */
  readonly allocatableGpus: number;
  /** Usable nodes: GPUs advertised, Ready, not cordoned, taints tolerated. */
  readonly gpuNodes: number;
  readonly nodes: readonly SelectedNode[];
  /** Matching NodePools; undefined when none is listed (Karpenter not installed). */
  readonly pools?: readonly MatchingPool[];
  /** What Karpenter may still add from the NodePools whose nodes would take candidates; undefined without Karpenter. */
  readonly provisionable?: { readonly gpus: number; readonly unboundedPool?: string };
}

/** Whether candidates can be placed on the node. */
function usable(node: SelectedNode): boolean {
  return node.allocatableGpus > 0 && node.ready && !node.cordoned && node.repelledBy.length === 0;
}

/** The GPUs free on the usable selected nodes, and what matching NodePools may still add. */
export function gpuCapacity(input: {
  readonly nodes: readonly V1Node[];
  /** The pods bound to nodes (their requests are not free); none to count every allocatable GPU. */
  readonly pods: readonly V1Pod[];
  readonly nodePools: readonly NodePool[] | undefined;
  readonly resourceName: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly Toleration[];
}): GpuCapacity {
  const { resourceName, nodeSelector, tolerations } = input;
  const repelling = (taints: readonly Taint[] | undefined) =>
    (taints ?? []).filter((taint) => repels(taint, tolerations));
  const nodes: SelectedNode[] = input.nodes
    .filter((node) => matches(node.metadata?.labels, nodeSelector))
    .map((node) => ({
      name: node.metadata?.name ?? "",
      allocatableGpus: count(node.status?.allocatable?.[resourceName]),
      ready: isReady(node),
      cordoned: node.spec?.unschedulable === true,
      repelledBy: repelling(node.spec?.taints),
    }));
  const placeable = nodes.filter(usable);
  const names = new Set(placeable.map((node) => node.name));
  const allocatableGpus = sum(placeable.map((node) => node.allocatableGpus));
  const requested = sum(
    input.pods
      .filter((pod) => names.has(pod.spec?.nodeName ?? "") && !isFinished(pod))
      .map((pod) => podRequest(pod, resourceName)),
  );
  const onNodes = {
    freeGpus: Math.max(0, allocatableGpus - requested),
    allocatableGpus,
    gpuNodes: placeable.length,
    nodes,
  };
  if (input.nodePools === undefined) return onNodes;
  const pools: MatchingPool[] = input.nodePools
    .filter((pool) => matches(pool.spec?.template?.metadata?.labels, nodeSelector))
    .map((pool) => {
      const name = pool.metadata?.name ?? "";
      const limit = pool.spec?.limits?.[resourceName];
      const launched = input.nodes.filter((node) => node.metadata?.labels?.[NODEPOOL_LABEL] === name);
      const room =
        limit === undefined
          ? Infinity
          : Math.max(
              0,
              count(limit) - sum(launched.map((node) => count(node.status?.capacity?.[resourceName]))),
            );
      return { name, room, repelledBy: repelling(pool.spec?.template?.spec?.taints) };
    });
  const launching = pools.filter((pool) => pool.repelledBy.length === 0);
  const unbounded = launching.find((pool) => pool.room === Infinity);
  const provisionable =
    unbounded !== undefined
      ? { gpus: Infinity, unboundedPool: unbounded.name }
      : { gpus: sum(launching.map((pool) => pool.room)) };
  return { ...onNodes, pools, provisionable };
}

/** A pod's GPUs: its containers' requests (an extended resource's request defaults to its limit). */
function podRequest(pod: V1Pod, resourceName: string): number {
  return sum(
    (pod.spec?.containers ?? []).map((container) =>
      count(container.resources?.requests?.[resourceName] ?? container.resources?.limits?.[resourceName]),
    ),
  );
}

function matches(
  labels: Readonly<Record<string, string>> | undefined,
  selector: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function isFinished(pod: V1Pod): boolean {
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
}

/** A GPU quantity is a whole number ("4"); anything else counts as none rather than as a guess. */
function count(quantity: string | number | undefined): number {
  const value = typeof quantity === "number" ? quantity : Number(quantity);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
