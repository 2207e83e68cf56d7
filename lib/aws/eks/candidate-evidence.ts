// What the cluster shows about a candidate that is not ready yet, read out of its pods and their events:
// the reasons, messages and exit code that classifyFailure (lib/core/smoke/failure-signatures.ts) matches, which
// container's log explains a crash, and — when nothing went wrong — what the candidate is busy with.

import type { CoreV1Event, V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import type { FailureEvidence } from "../../core/smoke/failure-signatures";

export interface PodObservation {
  readonly evidence: Omit<FailureEvidence, "logTail">;
  /** The container whose log tells why it failed (its previous instance after a restart); none when nothing crashed. */
  readonly logSource?: { readonly pod: string; readonly container: string; readonly previous: boolean };
  /** What the candidate is doing, for a candidate that is pending with nothing wrong. */
  readonly progress: { readonly reason: string; readonly message: string };
}

/** Events kept as evidence, newest last: enough to explain, few enough for a state payload. */
const MAX_EVENT_MESSAGES = 10;

/**
 * @param deploymentName the candidate's Deployment: its ReplicaSets are `<name>-<hash>`
 * @param pods the candidate's pods (by its label selector)
 * @param events warning events of the namespace; those about the candidate's objects are used
 */
export function observePods(
  deploymentName: string,
  pods: readonly V1Pod[],
  events: readonly CoreV1Event[],
): PodObservation {
  const podNames = new Set(pods.map((p) => p.metadata?.name ?? ""));
  const replicaSet = new RegExp(`^${deploymentName}-[a-z0-9]+$`);
  const relevant = events
    .filter(({ involvedObject: { kind, name = "" } }) =>
      kind === "Pod"
        ? podNames.has(name)
        : kind === "ReplicaSet"
          ? replicaSet.test(name)
          : kind === "Deployment" && name === deploymentName,
    )
    .sort((a, b) => eventTime(a) - eventTime(b))
    .slice(-MAX_EVENT_MESSAGES);

  const reasons: string[] = [];
  const messages: string[] = [];
  let exitCode: number | undefined;
  let logSource: PodObservation["logSource"];
  for (const pod of pods) {
    for (const condition of pod.status?.conditions ?? []) {
      if (condition.status !== "False") continue;
      if (condition.reason) reasons.push(condition.reason);
      if (condition.message) messages.push(condition.message);
    }
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const status of statuses) {
      const { waiting, terminated } = status.state ?? {};
      const last = status.lastState?.terminated;
      if (waiting?.reason) reasons.push(waiting.reason);
      if (waiting?.message) messages.push(waiting.message);
      for (const ended of [terminated, last]) {
        if (!ended || ended.exitCode === 0) continue;
        if (ended.reason) reasons.push(ended.reason);
        if (ended.message) messages.push(ended.message);
        exitCode ??= ended.exitCode;
      }
      if (!logSource && crashed(status)) {
        // A container that is dead now has its own log; one that restarted has the crash in its previous one.
        logSource = { pod: pod.metadata?.name ?? "", container: status.name, previous: !terminated };
      }
    }
  }
  for (const event of relevant) {
    if (event.reason) reasons.push(event.reason);
    if (event.message) messages.push(event.message);
  }

  return {
    evidence: {
      reasons: unique(reasons),
      messages: unique(messages),
      ...(exitCode !== undefined && { exitCode }),
    },
    ...(logSource && { logSource }),
    progress: progressOf(pods, relevant),
  };
}

function crashed(status: V1ContainerStatus): boolean {
  const terminated = status.state?.terminated;
  return (terminated !== undefined && terminated.exitCode !== 0) || status.restartCount > 0;
}

function progressOf(pods: readonly V1Pod[], events: readonly CoreV1Event[]): PodObservation["progress"] {
  const pod = pods[0];
  if (!pod) {
    const last = events.at(-1);
    return last?.message
      ? { reason: last.reason ?? "NoPod", message: `The Deployment has no pod yet: ${last.message}` }
      : { reason: "NoPod", message: "Waiting for the Deployment to create the candidate's pod." };
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status !== "True") {
    return { reason: "Scheduling", message: "Waiting for a node to run the candidate's pod." };
  }
  const loader = pod.status?.initContainerStatuses?.find((s) => s.state?.terminated?.exitCode !== 0);
  if (loader) {
    return {
      reason: "LoadingWeights",
      message: `Copying the weights from S3 into the pod (init container '${loader.name}').`,
    };
  }
  const server = pod.status?.containerStatuses?.[0];
  const waiting = server?.state?.waiting?.reason;
  if (waiting) return { reason: waiting, message: `The server container is not running yet (${waiting}).` };
  return { reason: "Starting", message: "The server is loading the model: /health does not answer yet." };
}

function eventTime(event: CoreV1Event): number {
  const time =
    event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata.creationTimestamp;
  return time ? new Date(time).getTime() : 0;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
