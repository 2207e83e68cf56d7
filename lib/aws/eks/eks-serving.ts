// The Serving port on a Kubernetes cluster (EKS): a candidate is a Deployment and a Service in the stack's
// namespace (candidate-objects.ts). Deploying twice adopts what this rollout created; removing twice is
// fine; status classifies what the pods, their events and the crashed container's log show; the candidate
// is reached through the API server's service proxy, or an in-cluster URL for heavy traffic; and each ready
// pod's own `/metrics` is read through the API server's pods proxy (RBAC: list pods, get pods/proxy).

import type { V1Deployment, V1OwnerReference, V1Pod, V1Service } from "@kubernetes/client-node";
import { Agent, request } from "undici";
import type { StackConfig } from "../../core/config/config";
import { CandidateFailed, Transient } from "../../core/errors";
import { classifyFailure } from "../../core/smoke/failure-signatures";
import type {
  AutoscalerChoice,
  AutoscalingSettings,
  CandidateHandle,
  CandidateSpec,
  CandidateStatus,
  CapacityCheck,
  CapacityNeed,
  Clock,
  Endpoint,
  ObjectStore,
  PodMetrics,
  ReplicaCount,
  ReplicaRange,
  Serving,
} from "../../ports";
import { describeNetworkError, readCappedText } from "../../eval/http";
import { apiStatus, kubernetesFailure } from "./api-errors";
import {
  type CandidateObjects,
  candidateObjects,
  candidatePodSelector,
  ROLLOUT_LABEL,
  rolloutLabelValue,
} from "./candidate-objects";
import { observePods } from "./candidate-evidence";
import { autoscalerObjects, chooseAutoscaler } from "./autoscaler-objects";
import { gpuCapacity, type NodePool } from "./gpu-capacity";
import { type ClusterConnection, connectKubernetes, type KubernetesClients } from "./cluster";

export interface EksServingOptions {
  readonly config: StackConfig;
  readonly connection: ClusterConnection;
  /** The region the candidate pods read the bucket in. */
  readonly region: string;
  readonly clock: Clock;
  /** The bucket the weights are in: a GGUF model's file is found by listing its prefix. */
  readonly objects?: ObjectStore;
}

/** Where a deployed candidate is, as `CandidateHandle.details` carries it. */
interface CandidateRef {
  readonly namespace: string;
  readonly deployment: string;
  readonly service: string;
  readonly port: number;
}

/** A vLLM pod's /metrics is a few hundred kilobytes; more is read as a failure, not into memory. */
const METRICS_BYTES = 4 * 1024 * 1024;
/** Milliseconds one pod's /metrics may take through the proxy: a probe round lasts a few seconds. */
const METRICS_TIMEOUT_MS = 5000;
/** Pods read per version in one round (more are left out, and counted as failures by the prober). */
const METRICS_PODS = 64;
const LOG_LINES = 50;
const LOG_BYTES = 64 * 1024;
const GGUF_SHARD = /-(\d{5})-of-\d{5}\.gguf$/;
const KEDA = { group: "keda.sh", version: "v1alpha1" } as const;
const KARPENTER_NODEPOOLS = { group: "karpenter.sh", version: "v1", plural: "nodepools" } as const;
/** The range an autoscaler had before a canary pinned it, as `<min>-<max>`: what `scale(…, "autoscaled")` restores. */
const RANGE_ANNOTATION = "modelship.io/autoscaler-range";

type Json = Record<string, unknown>;

export class EksServing implements Serving {
  private readonly config: StackConfig;
  private readonly connection: ClusterConnection;
  private readonly region: string;
  private readonly clock: Clock;
  private readonly objects: ObjectStore | undefined;
  private clients: Promise<KubernetesClients> | undefined;
  /** Keep-alive connections to the API server for the pods proxy, trusting the cluster's CA. */
  private proxyAgent: Agent | undefined;

  constructor(options: EksServingOptions) {
    this.config = options.config;
    this.connection = options.connection;
    this.region = options.region;
    this.clock = options.clock;
    this.objects = options.objects;
  }

  async deploy(spec: CandidateSpec): Promise<CandidateHandle> {
    const modelFile = spec.format === "gguf" ? await this.ggufModelFile(spec) : undefined;
    const objects = candidateObjects(spec, {
      config: this.config,
      region: this.region,
      ...(modelFile !== undefined && { modelFile }),
    });
    const { namespace, name } = objects;
    const api = await this.api();
    await this.ensureServiceAccount(api, objects);

    const service = await this.createOrAdopt<V1Service>(
      "Service",
      objects,
      () => api.core.createNamespacedService({ namespace, body: objects.service }),
      () => api.core.readNamespacedService({ name, namespace }),
    );
    let deployment: { readonly object: V1Deployment; readonly created: boolean };
    try {
      deployment = await this.createOrAdopt<V1Deployment>(
        "Deployment",
        objects,
        () => api.apps.createNamespacedDeployment({ namespace, body: objects.deployment }),
        () => api.apps.readNamespacedDeployment({ name, namespace }),
      );
    } catch (error) {
      // Without a handle nobody would remove it: take back what this call created.
      if (service.created) await this.deleteIgnoringMissing("Service", namespace, name, error);
      throw error;
    }

    const created = deployment.object.metadata?.creationTimestamp;
    const deployedAt = deployment.created || !created ? this.clock.now() : new Date(created);
    const ref: CandidateRef = { namespace, deployment: name, service: name, port: this.config.serving.port };
    return {
      id: `${namespace}/${name}`,
      model: spec.model,
      version: spec.version,
      rolloutId: spec.rolloutId,
      servedName: spec.servedName,
      deployedAt: deployedAt.toISOString(),
      details: { ...ref },
    };
  }

  async status(handle: CandidateHandle): Promise<CandidateStatus> {
    const ref = candidateRef(handle);
    const { namespace } = ref;
    const api = await this.api();
    const deployment = await api.apps
      .readNamespacedDeployment({ name: ref.deployment, namespace })
      .catch((error: unknown) => {
        if (apiStatus(error) === 404) return undefined;
        throw kubernetesFailure(error, `read Deployment ${namespace}/${ref.deployment}`, namespace);
      });
    if (!deployment) {
      return {
        phase: "failed",
        reason: "CandidateMissing",
        message: `The candidate's Deployment ${namespace}/${ref.deployment} does not exist (any more).`,
        hint: "Something deleted it while the rollout ran (a person, or a namespace cleanup): start the rollout again.",
      };
    }
    const selector = deployment.spec?.selector.matchLabels ?? {};
    const labelSelector = Object.entries(selector)
      .map(([key, value]) => `${key}=${value}`)
      .join(",");
    const pods = (
      await api.core.listNamespacedPod({ namespace, labelSelector }).catch((error: unknown) => {
        throw kubernetesFailure(error, `list the pods of ${namespace}/${ref.deployment}`, namespace);
      })
    ).items;

    const { readyReplicas = 0, availableReplicas = 0 } = deployment.status ?? {};
    if (readyReplicas > 0 && availableReplicas > 0) {
      const readyAt = pods.map(readySince).find((time) => time !== undefined) ?? this.clock.now();
      const seconds = (readyAt.getTime() - new Date(handle.deployedAt).getTime()) / 1000;
      return { phase: "ready", readySeconds: Math.max(0, Math.round(seconds)) };
    }

    const events = (
      await api.core
        .listNamespacedEvent({ namespace, fieldSelector: "type=Warning" })
        .catch((error: unknown) => {
          throw kubernetesFailure(error, `list the events of namespace ${namespace}`, namespace);
        })
    ).items;
    const observation = observePods(ref.deployment, pods, events);
    const logTail = observation.logSource ? await this.logTail(api, namespace, observation.logSource) : [];
    const classified = classifyFailure(
      { ...observation.evidence, logTail },
      this.config.serving.failureSignatures,
    );
    const withLog = logTail.length > 0 ? { logTail } : {};
    if (!classified) return { phase: "pending", ...observation.progress, ...withLog };
    return {
      phase: classified.terminal ? "failed" : "pending",
      reason: classified.reason,
      message: classified.message,
      hint: classified.hint,
      ...withLog,
    };
  }

  /**
   * The service proxy's URL carries a bearer token that expires within 15 minutes: ask for the endpoint in
   * each stage invocation, never keep one in the execution state.
   */
  async endpoint(handle: CandidateHandle, purpose: "probe" | "load"): Promise<Endpoint> {
    const ref = candidateRef(handle);
    const template = this.config.serving.internalUrlTemplate;
    if (purpose === "load" && template) {
      const root = template
        .replaceAll("{service}", ref.service)
        .replaceAll("{namespace}", ref.namespace)
        .replaceAll("{port}", String(ref.port));
      return { baseUrl: `${root.replace(/\/+$/, "")}/v1`, headers: {}, servedName: handle.servedName };
    }
    const { server, caData } = await this.connection.endpoint();
    const token = await this.connection.token();
    const proxy = `${server.replace(/\/+$/, "")}/api/v1/namespaces/${ref.namespace}/services/${ref.service}:${ref.port}/proxy`;
    return {
      baseUrl: `${proxy}/v1`,
      headers: { Authorization: `Bearer ${token}` },
      servedName: handle.servedName,
      caCertificate: Buffer.from(caData, "base64").toString("utf8"),
    };
  }

  async scrapeMetrics(handle: CandidateHandle): Promise<PodMetrics[]> {
    const ref = candidateRef(handle);
    const { namespace } = ref;
    const api = await this.api();
    const pods = (
      await api.core
        .listNamespacedPod({ namespace, labelSelector: candidatePodSelector(ref.deployment) })
        .catch((error: unknown) => {
          throw kubernetesFailure(error, `list the pods of ${namespace}/${ref.deployment}`, namespace);
        })
    ).items;
    // A pod that is not ready takes no traffic (its Service leaves it out), and a terminating one is going.
    const serving = pods
      .filter((pod) => readySince(pod) !== undefined && !pod.metadata?.deletionTimestamp)
      .map((pod) => pod.metadata?.name)
      .filter((name): name is string => typeof name === "string");
    return Promise.all(
      serving.slice(0, METRICS_PODS).map((pod) => this.podMetrics(namespace, pod, ref.port)),
    );
  }

  async scale(handle: CandidateHandle, replicas: number | "autoscaled"): Promise<void> {
    const ref = candidateRef(handle);
    if (replicas !== "autoscaled" && (!Number.isInteger(replicas) || replicas < 0)) {
      throw new Error(`Cannot scale ${handle.id} to ${replicas} replicas: a count is a whole number ≥ 0.`);
    }
    const api = await this.api();
    // The autoscaler first: pinned after the Deployment, it could undo the new count in between.
    const range = await this.pinAutoscaler(api, ref, replicas);
    const count = replicas === "autoscaled" ? range?.minReplicas : replicas;
    if (count === undefined) return;
    const where = `Deployment ${ref.namespace}/${ref.deployment}`;
    const deployment = await this.readDeployment(api, ref);
    if (!deployment.spec) throw new Error(`${where} has no spec.`);
    // An autoscaler given its range back keeps the replicas it runs now if they are in it.
    const current = deployment.spec.replicas ?? 1;
    const wanted =
      replicas === "autoscaled" && range
        ? Math.min(range.maxReplicas, Math.max(range.minReplicas, current))
        : count;
    if (current === wanted) return;
    deployment.spec.replicas = wanted;
    await api.apps
      .replaceNamespacedDeployment({ name: ref.deployment, namespace: ref.namespace, body: deployment })
      .catch((error: unknown) => {
        if (apiStatus(error) === 409) {
          throw new Transient(`${where} changed while it was scaled to ${wanted} replicas.`, {
            hint: "Something else wrote it at the same moment; the state machine tries again.",
            cause: error,
          });
        }
        throw kubernetesFailure(error, `scale ${where} to ${wanted} replicas`, ref.namespace);
      });
  }

  async replicas(handle: CandidateHandle): Promise<ReplicaCount> {
    const ref = candidateRef(handle);
    const deployment = await this.readDeployment(await this.api(), ref);
    const status = deployment.status ?? {};
    // Ready only once the Deployment has seen its latest spec: a count read before that is the old one's.
    const current = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
    return {
      desired: deployment.spec?.replicas ?? 1,
      ready: current
        ? Math.min(status.readyReplicas ?? 0, status.updatedReplicas ?? status.readyReplicas ?? 0)
        : 0,
    };
  }

  async autoscale(
    handle: CandidateHandle,
    settings: AutoscalingSettings,
    range: ReplicaRange,
  ): Promise<AutoscalerChoice> {
    const ref = candidateRef(handle);
    const { namespace } = ref;
    const api = await this.api();
    const deployment = await this.readDeployment(api, ref);
    const prometheus = this.config.canaryMetrics.prometheus?.endpoint;
    const choice = chooseAutoscaler(await this.kedaInstalled(api, namespace), prometheus);
    const target = { name: ref.deployment, namespace, labels: deployment.metadata?.labels ?? {} };
    const objects = autoscalerObjects(target, settings, range, choice.kind, prometheus, this.region);
    // Owned by the Deployment: the garbage collector deletes the autoscaler with it, on every path that removes it.
    const owner: V1OwnerReference = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: ref.deployment,
      uid: deployment.metadata?.uid ?? "",
    };
    // Made pinned (min = max, e.g. DeployCandidate's one replica for the gates), it keeps the manifest's range
    // where a pin keeps it, so `scale(…, "autoscaled")` at Promote gives that back rather than the pin (the
    // local runtime keeps the settings themselves for the same reason).
    const own = { minReplicas: settings.minReplicas, maxReplicas: settings.maxReplicas };
    const pinned =
      range.minReplicas === range.maxReplicas &&
      (range.minReplicas !== own.minReplicas || range.maxReplicas !== own.maxReplicas);
    const owned = <T extends { metadata?: object }>(object: T): T => {
      const metadata: Json = { ...object.metadata, ownerReferences: [owner] };
      if (pinned) setRangeAnnotation({ metadata }, own);
      return { ...object, metadata };
    };
    if (objects.kind === "keda") {
      if (objects.triggerAuthentication) {
        await this.applyKeda(api, namespace, "triggerauthentications", owned(objects.triggerAuthentication));
      }
      await this.applyKeda(api, namespace, "scaledobjects", owned(objects.scaledObject));
    } else {
      const body = owned(objects.hpa);
      const name = ref.deployment;
      await api.autoscaling
        .createNamespacedHorizontalPodAutoscaler({ namespace, body })
        .catch(async (error: unknown) => {
          if (apiStatus(error) !== 409) {
            throw kubernetesFailure(error, `create HorizontalPodAutoscaler ${namespace}/${name}`, namespace);
          }
          const existing = await api.autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace });
          const replaced = {
            ...body,
            metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion },
          };
          await api.autoscaling
            .replaceNamespacedHorizontalPodAutoscaler({ name, namespace, body: replaced })
            .catch((failure: unknown) => {
              throw kubernetesFailure(
                failure,
                `update HorizontalPodAutoscaler ${namespace}/${name}`,
                namespace,
              );
            });
        });
    }
    return choice;
  }

  /** GPUs are what a cluster runs out of: the replicas count only through the GPUs they hold. */
  async checkCapacity({ gpus }: CapacityNeed): Promise<CapacityCheck> {
    const { resourceName, nodeSelector, tolerations } = this.config.gpu;
    if (gpus <= 0) {
      return {
        enough: true,
        neededGpus: 0,
        freeGpus: 0,
        reason: "No GPUs are needed beyond what already runs.",
      };
    }
    const api = await this.api();
    const labelSelector = Object.entries(nodeSelector)
      .map(([key, value]) => `${key}=${value}`)
      .join(",");
    const nodes = (
      await api.core.listNode(labelSelector ? { labelSelector } : {}).catch((error: unknown) => {
        throw kubernetesFailure(error, "list the cluster's nodes", this.config.namespace);
      })
    ).items;
    const pods = (
      await api.core
        .listPodForAllNamespaces({ fieldSelector: "status.phase!=Succeeded,status.phase!=Failed" })
        .catch((error: unknown) => {
          throw kubernetesFailure(error, "list the pods of all namespaces", this.config.namespace);
        })
    ).items;
    const nodePools = await api.custom
      .listClusterCustomObject(KARPENTER_NODEPOOLS)
      .then((list) => ((list as { items?: NodePool[] }).items ?? []) as NodePool[])
      .catch((error: unknown) => {
        // No Karpenter: the NodePool resource does not exist.
        if (apiStatus(error) === 404) return undefined;
        throw kubernetesFailure(error, "list Karpenter's NodePools", this.config.namespace);
      });
    const capacity = gpuCapacity({ nodes, pods, nodePools, resourceName, nodeSelector, tolerations });
    const provisionable = capacity.provisionable;
    const more = provisionable === undefined ? 0 : provisionable.gpus;
    const enough = capacity.freeGpus + more >= gpus;
    const selector = labelSelector ? ` matching ${labelSelector}` : "";
    const karpenter =
      provisionable === undefined
        ? ""
        : provisionable.unboundedPool !== undefined
          ? `; Karpenter NodePool ${provisionable.unboundedPool} has no ${resourceName} limit, so it may add more`
          : `; Karpenter's NodePools may add ${provisionable.gpus} more within their limits`;
    return {
      enough,
      neededGpus: gpus,
      freeGpus: capacity.freeGpus,
      ...(provisionable && Number.isFinite(provisionable.gpus) && { provisionableGpus: provisionable.gpus }),
      reason: `The rollout needs ${gpus} more ${resourceName}; ${capacity.freeGpus} are free on ${capacity.gpuNodes} ready node${capacity.gpuNodes === 1 ? "" : "s"}${selector}${karpenter}.`,
    };
  }

  async remove(handle: CandidateHandle): Promise<void> {
    const { namespace, deployment, service } = candidateRef(handle);
    await this.deleteIgnoringMissing("Deployment", namespace, deployment);
    await this.deleteIgnoringMissing("Service", namespace, service);
  }

  async removeRollout(_model: string, rolloutId: string): Promise<string[]> {
    const api = await this.api();
    const namespace = this.config.namespace;
    const labelSelector = `${ROLLOUT_LABEL}=${rolloutLabelValue(rolloutId)}`;
    const list = async <T>(kind: string, request: () => Promise<{ items: T[] }>) =>
      (
        await request().catch((error: unknown) => {
          throw kubernetesFailure(error, `list the ${kind}s of rollout ${rolloutId}`, namespace);
        })
      ).items;
    const deployments = await list("Deployment", () =>
      api.apps.listNamespacedDeployment({ namespace, labelSelector }),
    );
    const services = await list("Service", () =>
      api.core.listNamespacedService({ namespace, labelSelector }),
    );
    const removed: string[] = [];
    for (const [kind, items] of [
      ["Deployment", deployments],
      ["Service", services],
    ] as const) {
      for (const item of items) {
        const name = item.metadata?.name;
        if (!name) continue;
        await this.deleteIgnoringMissing(kind, namespace, name);
        removed.push(`Deleted the ${kind} ${namespace}/${name}.`);
      }
    }
    return removed;
  }

  private async readDeployment(api: KubernetesClients, ref: CandidateRef): Promise<V1Deployment> {
    const where = `Deployment ${ref.namespace}/${ref.deployment}`;
    return api.apps
      .readNamespacedDeployment({ name: ref.deployment, namespace: ref.namespace })
      .catch((error: unknown) => {
        if (apiStatus(error) === 404) {
          throw new CandidateFailed(`The ${where} does not exist (any more).`, {
            hint: "Something deleted it while the rollout ran (a person, or a namespace cleanup): start the rollout again.",
          });
        }
        throw kubernetesFailure(error, `read ${where}`, ref.namespace);
      });
  }

  /** Whether KEDA's ScaledObject CRD is installed: listing ScaledObjects answers 404 when it is not. */
  private async kedaInstalled(api: KubernetesClients, namespace: string): Promise<boolean> {
    return api.custom
      .listNamespacedCustomObject({ ...KEDA, namespace, plural: "scaledobjects", limit: 1 })
      .then(() => true)
      .catch((error: unknown) => {
        if (apiStatus(error) === 404) return false;
        throw kubernetesFailure(error, "list KEDA ScaledObjects", namespace);
      });
  }

  /** Creates a KEDA object, or replaces the one of the same name with the resourceVersion it has. */
  private async applyKeda(
    api: KubernetesClients,
    namespace: string,
    plural: "scaledobjects" | "triggerauthentications",
    body: { readonly metadata: { readonly name: string } },
  ): Promise<void> {
    const { name } = body.metadata;
    const where = `${plural} ${namespace}/${name}`;
    try {
      await api.custom.createNamespacedCustomObject({ ...KEDA, namespace, plural, body });
      return;
    } catch (error) {
      if (apiStatus(error) !== 409) throw kubernetesFailure(error, `create ${where}`, namespace);
    }
    const existing = (await api.custom
      .getNamespacedCustomObject({ ...KEDA, namespace, plural, name })
      .catch((error: unknown) => {
        throw kubernetesFailure(error, `read ${where}`, namespace);
      })) as { metadata?: { resourceVersion?: string } };
    const replaced = {
      ...body,
      metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion },
    };
    await api.custom
      .replaceNamespacedCustomObject({ ...KEDA, namespace, plural, name, body: replaced })
      .catch((error: unknown) => {
        throw kubernetesFailure(error, `update ${where}`, namespace);
      });
  }

  /**
   * Pins the workload's autoscaler (a ScaledObject or an HPA of its name) to `replicas`, keeping the range it
   * had in an annotation, or gives that range back for `"autoscaled"`; answers the range it had, or undefined
   * when the workload has no autoscaler.
   */
  private async pinAutoscaler(
    api: KubernetesClients,
    ref: CandidateRef,
    replicas: number | "autoscaled",
  ): Promise<ReplicaRange | undefined> {
    const { namespace, deployment: name } = ref;
    const scaledObject = (await api.custom
      .getNamespacedCustomObject({ ...KEDA, namespace, plural: "scaledobjects", name })
      .catch((error: unknown) => {
        if (apiStatus(error) === 404) return undefined;
        throw kubernetesFailure(error, `read ScaledObject ${namespace}/${name}`, namespace);
      })) as Json | undefined;
    if (scaledObject) {
      const spec = scaledObject.spec as Json;
      const range = pinnedRange(scaledObject, spec.minReplicaCount, spec.maxReplicaCount);
      const next = replicas === "autoscaled" ? range : { minReplicas: replicas, maxReplicas: replicas };
      spec.minReplicaCount = next.minReplicas;
      spec.maxReplicaCount = next.maxReplicas;
      setRangeAnnotation(scaledObject, replicas === "autoscaled" ? undefined : range);
      await api.custom
        .replaceNamespacedCustomObject({
          ...KEDA,
          namespace,
          plural: "scaledobjects",
          name,
          body: scaledObject,
        })
        .catch((error: unknown) => {
          throw kubernetesFailure(error, `update ScaledObject ${namespace}/${name}`, namespace);
        });
      return range;
    }
    const hpa = await api.autoscaling
      .readNamespacedHorizontalPodAutoscaler({ name, namespace })
      .catch((error: unknown) => {
        if (apiStatus(error) === 404) return undefined;
        throw kubernetesFailure(error, `read HorizontalPodAutoscaler ${namespace}/${name}`, namespace);
      });
    if (!hpa?.spec) return undefined;
    const range = pinnedRange(hpa as unknown as Json, hpa.spec.minReplicas, hpa.spec.maxReplicas);
    const next = replicas === "autoscaled" ? range : { minReplicas: replicas, maxReplicas: replicas };
    hpa.spec.minReplicas = next.minReplicas;
    hpa.spec.maxReplicas = next.maxReplicas;
    setRangeAnnotation(hpa as unknown as Json, replicas === "autoscaled" ? undefined : range);
    await api.autoscaling
      .replaceNamespacedHorizontalPodAutoscaler({ name, namespace, body: hpa })
      .catch((error: unknown) => {
        throw kubernetesFailure(error, `update HorizontalPodAutoscaler ${namespace}/${name}`, namespace);
      });
    return range;
  }

  /** `GET /api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/metrics`, capped in size and time. */
  private async podMetrics(namespace: string, pod: string, port: number): Promise<PodMetrics> {
    const { server, caData } = await this.connection.endpoint();
    const token = await this.connection.token();
    this.proxyAgent ??= new Agent({ connect: { ca: Buffer.from(caData, "base64").toString("utf8") } });
    const url = `${server.replace(/\/+$/, "")}/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy/metrics`;
    try {
      const response = await request(url, {
        headers: { authorization: `Bearer ${token}`, accept: "text/plain;version=0.0.4" },
        dispatcher: this.proxyAgent,
        signal: AbortSignal.timeout(METRICS_TIMEOUT_MS),
      });
      const text = await readCappedText(response.body, METRICS_BYTES);
      if (response.statusCode !== 200) {
        return { pod, error: `GET /metrics answered ${response.statusCode}: ${text.slice(0, 200).trim()}` };
      }
      return { pod, text };
    } catch (error) {
      return { pod, error: `GET /metrics failed: ${describeNetworkError(error)}` };
    }
  }

  private api(): Promise<KubernetesClients> {
    this.clients ??= connectKubernetes(this.connection).catch((error: unknown) => {
      this.clients = undefined;
      throw error;
    });
    return this.clients;
  }

  /** Creates the object, or adopts the one of the same name if this rollout made it; anything else is a conflict. */
  private async createOrAdopt<T extends V1Deployment | V1Service>(
    kind: "Deployment" | "Service",
    objects: CandidateObjects,
    create: () => Promise<T>,
    read: () => Promise<T>,
  ): Promise<{ readonly object: T; readonly created: boolean }> {
    const { namespace, name } = objects;
    const where = `${kind} ${namespace}/${name}`;
    try {
      return { object: await create(), created: true };
    } catch (error) {
      if (apiStatus(error) !== 409) throw kubernetesFailure(error, `create ${where}`, namespace);
    }
    const existing = await read().catch((error: unknown) => {
      if (apiStatus(error) === 404) {
        return Promise.reject(
          new Transient(`${where} existed a moment ago and is gone now (deleted while deploying).`, {
            hint: "Another process removed it while this rollout deployed; the state machine tries again.",
          }),
        );
      }
      throw kubernetesFailure(error, `read ${where}`, namespace);
    });
    const ours = objects.deployment.metadata?.labels?.[ROLLOUT_LABEL];
    const theirs = existing.metadata?.labels?.[ROLLOUT_LABEL];
    if (theirs === ours) return { object: existing, created: false };
    const owner = existing.metadata?.annotations?.[ROLLOUT_LABEL] ?? theirs;
    throw new CandidateFailed(
      `${where} already exists and ${owner ? `belongs to rollout ${owner}` : "was not created by modelship"}, not to this rollout ${objects.rolloutId}; nothing was changed.`,
      {
        hint: `If that rollout is over, delete what it left (kubectl -n ${namespace} delete deployment,service ${name}) and start this rollout again. modelship never takes over a workload another rollout created.`,
      },
    );
  }

  /**
   * The pods' service account, created when missing. Without permission to create it, the platform team
   * manages it (e.g. with an IRSA annotation): go on, the pods will use theirs.
   */
  private async ensureServiceAccount(api: KubernetesClients, objects: CandidateObjects): Promise<void> {
    const { namespace } = objects;
    await api.core
      .createNamespacedServiceAccount({ namespace, body: objects.serviceAccount })
      .catch((error: unknown) => {
        const status = apiStatus(error);
        if (status === 409 || status === 403) return;
        const name = objects.serviceAccount.metadata?.name ?? "";
        throw kubernetesFailure(error, `create ServiceAccount ${namespace}/${name}`, namespace);
      });
  }

  /**
   * Deletes with foreground propagation (the pods go before the Deployment does); a missing object is fine.
   * When `during` is given the delete is cleaning up after that failure, and its own failure is added to it.
   */
  private async deleteIgnoringMissing(
    kind: "Deployment" | "Service",
    namespace: string,
    name: string,
    during?: unknown,
  ): Promise<void> {
    const api = await this.api();
    const request = { name, namespace, propagationPolicy: "Foreground" };
    try {
      if (kind === "Deployment") await api.apps.deleteNamespacedDeployment(request);
      else await api.core.deleteNamespacedService(request);
    } catch (error) {
      if (apiStatus(error) === 404) return;
      const failure = kubernetesFailure(error, `delete ${kind} ${namespace}/${name}`, namespace);
      if (during === undefined) throw failure;
      throw new CandidateFailed(
        `${(during as Error).message}\nThen removing the ${kind} ${namespace}/${name} this deploy had created failed too: ${failure.message}`,
        {
          hint: `Delete it by hand: kubectl -n ${namespace} delete ${kind.toLowerCase()} ${name}.`,
          cause: during,
        },
      );
    }
  }

  /** The last lines of a crashed container's log; none when the log cannot be read (the container never started). */
  private async logTail(
    api: KubernetesClients,
    namespace: string,
    source: { readonly pod: string; readonly container: string; readonly previous: boolean },
  ): Promise<string[]> {
    const text = await api.core
      .readNamespacedPodLog({
        name: source.pod,
        namespace,
        container: source.container,
        previous: source.previous,
        tailLines: LOG_LINES,
        limitBytes: LOG_BYTES,
      })
      .catch((error: unknown) => {
        const status = apiStatus(error);
        if (status === 400 || status === 404) return "";
        throw kubernetesFailure(error, `read the log of ${namespace}/${source.pod}`, namespace);
      });
    const lines = String(text).split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines.slice(-LOG_LINES);
  }

  /** The GGUF file a server opens: the first shard of a split model, else the largest GGUF file. */
  private async ggufModelFile(spec: CandidateSpec): Promise<string> {
    const { bucket } = spec.weights;
    const prefix = spec.weights.prefix.replace(/\/?$/, "/");
    if (!this.objects || this.objects.location !== `s3://${bucket}`) {
      throw new CandidateFailed(
        `Cannot list s3://${bucket}/${prefix} to find the GGUF file to serve: this function reads only ${this.objects?.location ?? "no bucket"}.`,
        { hint: "GGUF candidates are served from the stack's own bucket." },
      );
    }
    const files = (await this.objects.list(prefix)).filter((o) => o.key.toLowerCase().endsWith(".gguf"));
    const first =
      files.find((o) => GGUF_SHARD.exec(o.key)?.[1] === "00001") ??
      files.filter((o) => !GGUF_SHARD.test(o.key)).sort((a, b) => b.size - a.size)[0];
    if (!first) {
      throw new CandidateFailed(
        `No GGUF file under s3://${bucket}/${prefix}, but Validate said the model is GGUF.`,
        {
          hint: "The files changed after Validate: upload the model again.",
        },
      );
    }
    return first.key.slice(prefix.length);
  }
}

/** The autoscaler's own range: the one kept when it was first pinned, else the one it has. */
function pinnedRange(object: Json, min: unknown, max: unknown): ReplicaRange {
  const kept = /^(\d+)-(\d+)$/.exec(
    ((object.metadata as Json | undefined)?.annotations as Record<string, string> | undefined)?.[
      RANGE_ANNOTATION
    ] ?? "",
  );
  if (kept) return { minReplicas: Number(kept[1]), maxReplicas: Number(kept[2]) };
  const minReplicas = typeof min === "number" ? min : 1;
  return { minReplicas, maxReplicas: typeof max === "number" ? max : minReplicas };
}

/** Keeps the autoscaler's own range while it is pinned; removed when it gets the range back. */
function setRangeAnnotation(object: Json, range: ReplicaRange | undefined): void {
  const metadata = (object.metadata ??= {}) as Json;
  const annotations = { ...((metadata.annotations as Record<string, string> | undefined) ?? {}) };
  if (range) annotations[RANGE_ANNOTATION] = `${range.minReplicas}-${range.maxReplicas}`;
  else delete annotations[RANGE_ANNOTATION];
  metadata.annotations = annotations;
}

function readySince(pod: V1Pod): Date | undefined {
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True");
  return ready?.lastTransitionTime ? new Date(ready.lastTransitionTime) : undefined;
}

/** The handle's details, checked: it crossed the execution state's JSON. */
function candidateRef(handle: CandidateHandle): CandidateRef {
  const { namespace, deployment, service, port } = handle.details ?? {};
  if (
    typeof namespace !== "string" ||
    typeof deployment !== "string" ||
    typeof service !== "string" ||
    typeof port !== "number"
  ) {
    throw new Error(
      `Candidate ${handle.id} was not deployed on EKS: its handle lacks details.namespace, deployment, service and port.`,
    );
  }
  return { namespace, deployment, service, port };
}
