// How many GPUs of the stack's kind the cluster can still give, from what the API server lists: on the nodes
// the stack's GPU selector picks (schedulable and Ready), each node's allocatable GPUs minus what the pods bound
// to it request; plus what Karpenter may still add — a NodePool's `spec.limits` for the resource minus the
// capacity of the nodes it already launched (karpenter.sh/v1; a NodePool without a limit for it is unbounded).
// Pure: eks-serving.ts lists the objects and asks here.

import type { V1Node, V1Pod } from "@kubernetes/client-node";

/** A Karpenter NodePool as listed (karpenter.sh/v1): only the fields the check reads. */
export interface NodePool {
  readonly metadata?: { readonly name?: string };
  readonly spec?: {
    readonly limits?: Readonly<Record<string, string | number>>;
    readonly template?: { readonly metadata?: { readonly labels?: Readonly<Record<string, string>> } };
  };
}

/** The label Karpenter puts on every node it launches, naming its NodePool. */
const NODEPOOL_LABEL = "karpenter.sh/nodepool";

export interface GpuCapacity {
  /** Allocatable GPUs not requested by pods, on the selected nodes. */
  readonly freeGpus: number;
  readonly gpuNodes: number;
  /** What Karpenter may still add; undefined when no NodePool is listed (none, or no Karpenter). */
  readonly provisionable?: { readonly gpus: number; readonly unboundedPool?: string };
}

/** The GPUs free on the selected nodes, and what matching NodePools may still add. */
export function gpuCapacity(input: {
  readonly nodes: readonly V1Node[];
  readonly pods: readonly V1Pod[];
  readonly nodePools: readonly NodePool[] | undefined;
  readonly resourceName: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
}): GpuCapacity {
  const { resourceName, nodeSelector } = input;
  const selected = input.nodes.filter((node) => matches(node.metadata?.labels, nodeSelector));
  const usable = selected.filter((node) => !node.spec?.unschedulable && isReady(node));
  const names = new Set(usable.map((node) => node.metadata?.name));
  const allocatable = sum(usable.map((node) => count(node.status?.allocatable?.[resourceName])));
  const requested = sum(
    input.pods
      .filter((pod) => names.has(pod.spec?.nodeName) && !isFinished(pod))
      .map((pod) => podRequest(pod, resourceName)),
  );
  const freeGpus = Math.max(0, allocatable - requested);
  if (input.nodePools === undefined) return { freeGpus, gpuNodes: usable.length };
  let gpus = 0;
  for (const pool of input.nodePools.filter((p) =>
    matches(p.spec?.template?.metadata?.labels, nodeSelector),
  )) {
    const name = pool.metadata?.name ?? "";
    const limit = pool.spec?.limits?.[resourceName];
    if (limit === undefined) {
      return { freeGpus, gpuNodes: usable.length, provisionable: { gpus: Infinity, unboundedPool: name } };
    }
    const launched = input.nodes.filter((node) => node.metadata?.labels?.[NODEPOOL_LABEL] === name);
    gpus += Math.max(
      0,
      count(limit) - sum(launched.map((node) => count(node.status?.capacity?.[resourceName]))),
    );
  }
  return { freeGpus, gpuNodes: usable.length, provisionable: { gpus } };
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
