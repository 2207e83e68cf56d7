// The Serving port on a Kubernetes cluster (EKS): a candidate is a Deployment and a Service in the stack's
// namespace (candidate-objects.ts). Deploying twice adopts what this rollout created; removing twice is
// fine; status classifies what the pods, their events and the crashed container's log show; the candidate
// is reached through the API server's service proxy, or an in-cluster URL for heavy traffic; and each ready
// pod's own `/metrics` is read through the API server's pods proxy (RBAC: list pods, get pods/proxy).

import type { V1Deployment, V1Pod, V1Service } from "@kubernetes/client-node";
import { Agent, request } from "undici";
import type { StackConfig } from "../../core/config";
import { CandidateFailed, Transient } from "../../core/errors";
import { classifyFailure } from "../../core/failure-signatures";
import type {
  CandidateHandle,
  CandidateSpec,
  CandidateStatus,
  Clock,
  Endpoint,
  ObjectStore,
  PodMetrics,
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
