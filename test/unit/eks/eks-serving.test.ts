import { request as httpsRequest } from "node:https";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EksServing } from "../../../lib/aws/eks/eks-serving";
import type { ClusterConnection } from "../../../lib/aws/eks/cluster";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../../lib/core/config/config";
import type { CandidateHandle, CandidateSpec, Endpoint } from "../../../lib/ports";
import { FixedClock } from "../../support/fixed-clock";
import { MemoryObjectStore } from "../../support/memory-object-store";
import { KubernetesApiServer } from "./kubernetes-api-server";
import { llamaCandidateSpec } from "../../support/candidate-spec";

const NAMESPACE = "models";
const NAME = "llama-3-8b-v3";
const server = new KubernetesApiServer();
let url = "";
let tokensIssued = 0;

beforeAll(async () => {
  url = await server.start();
});
afterAll(() => server.stop());
beforeEach(() => {
  server.reset();
  tokensIssued = 0;
});

/** A token source that hands out a new token each time it is asked, so a test can tell when it was asked. */
function connection(server_ = url): ClusterConnection {
  return {
    endpoint: async () => ({ server: server_, caData: server.caData }),
    token: async () => `token-${++tokensIssued}`,
  };
}

function serving(
  options: { config?: StackConfig; objects?: MemoryObjectStore; server?: string } = {},
): EksServing {
  return new EksServing({
    config: options.config ?? DEFAULT_STACK_CONFIG,
    connection: connection(options.server),
    region: "us-west-2",
    clock: new FixedClock("2025-06-01T12:00:00.000Z"),
    ...(options.objects && { objects: options.objects }),
  });
}

function spec(overrides: Partial<CandidateSpec> = {}): CandidateSpec {
  return llamaCandidateSpec(overrides);
}

const labelsOf = (object: Record<string, unknown> | undefined) =>
  (object?.metadata as { labels?: Record<string, string> } | undefined)?.labels ?? {};
const calls = (method: string, pattern: RegExp) =>
  server.requests.filter((r) => r.method === method && pattern.test(r.path)).length;

async function failureOf(promise: Promise<unknown>): Promise<Error & { reason?: string; hint?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

describe("EksServing: deploy", () => {
  it("creates the Service and then the Deployment in the stack's namespace, and returns a handle naming them", async () => {
    const handle = await serving().deploy(spec());

    expect(handle).toEqual({
      id: `${NAMESPACE}/${NAME}`,
      model: "llama-3-8b",
      version: "v3",
      rolloutId: "llama-3-8b-v3-0a1b2c3d",
      servedName: "llama-3-8b",
      deployedAt: "2025-06-01T12:00:00.000Z",
      details: { namespace: NAMESPACE, deployment: NAME, service: NAME, port: 8000 },
    });
    const creates = server.requests.filter((r) => r.method === "POST").map((r) => r.path);
    expect(creates).toEqual([
      `/api/v1/namespaces/${NAMESPACE}/serviceaccounts`,
      `/api/v1/namespaces/${NAMESPACE}/services`,
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`,
    ]);
    expect(labelsOf(server.object("deployments", NAMESPACE, NAME))["modelship.io/rollout"]).toBe(
      "llama-3-8b-v3-0a1b2c3d",
    );
  });

  it("adopts the Service and Deployment this rollout already created when deployed again (409)", async () => {
    const first = await serving().deploy(spec());
    const again = await serving().deploy(spec());

    expect(again.id).toBe(first.id);
    expect(again.details).toEqual(first.details);
    // The existing Deployment's creation time, not the retry's.
    expect(again.deployedAt).toBe("2025-06-01T12:00:00.000Z");
    expect(calls("GET", /\/deployments\/llama-3-8b-v3$/)).toBe(1);
    expect(calls("GET", /\/services\/llama-3-8b-v3$/)).toBe(1);
    expect([...server.objects.keys()].filter((k) => k.startsWith("deployments/"))).toHaveLength(1);
  });

  it("refuses a Deployment of the same name made for another rollout, and changes nothing", async () => {
    const other = { ...spec(), rolloutId: "llama-3-8b-v3-99999999" };
    await serving().deploy(other);
    server.requests.length = 0;

    const error = await failureOf(serving().deploy(spec()));

    expect(error.name).toBe("CandidateFailed");
    expect(error.message).toContain("belongs to rollout llama-3-8b-v3-99999999");
    expect(error.message).toContain("llama-3-8b-v3-0a1b2c3d");
    expect(error.hint).toContain(`kubectl -n ${NAMESPACE} delete deployment,service ${NAME}`);
    expect(labelsOf(server.object("deployments", NAMESPACE, NAME))["modelship.io/rollout"]).toBe(
      "llama-3-8b-v3-99999999",
    );
    expect(calls("DELETE", /./)).toBe(0);
  });

  it("deletes the Service it created when creating the Deployment fails, so nothing is left without a handle", async () => {
    server.failNext("POST", /\/deployments$/, 503);

    const error = await failureOf(serving().deploy(spec()));

    expect(error.name).toBe("Transient");
    expect(error.message).toContain(`create Deployment ${NAMESPACE}/${NAME}`);
    expect(server.object("services", NAMESPACE, NAME)).toBeUndefined();
    expect(calls("DELETE", /\/services\/llama-3-8b-v3$/)).toBe(1);
  });

  it("says what to delete by hand when taking back the Service fails too", async () => {
    server.failNext("POST", /\/deployments$/, 503);
    server.failNext("DELETE", /\/services\//, 500);

    const error = await failureOf(serving().deploy(spec()));

    expect(error.name).toBe("CandidateFailed");
    expect(error.message).toContain(`create Deployment ${NAMESPACE}/${NAME}`);
    expect(error.message).toContain(
      `removing the Service ${NAMESPACE}/${NAME} this deploy had created failed too`,
    );
    expect(error.hint).toBe(`Delete it by hand: kubectl -n ${NAMESPACE} delete service ${NAME}.`);
  });

  it("keeps a Service it adopted (a retried deploy made it) when the Deployment fails", async () => {
    await serving().deploy(spec());
    server.objects.delete(`deployments/${NAMESPACE}/${NAME}`);
    server.failNext("POST", /\/deployments$/, 500);

    await failureOf(serving().deploy(spec()));

    expect(server.object("services", NAMESPACE, NAME)).toBeDefined();
  });

  it("says which access is missing, in which namespace, when the cluster forbids creating the Deployment", async () => {
    server.failNext("POST", /\/deployments$/, 403);

    const error = await failureOf(serving().deploy(spec()));

    expect(error.name).toBe("CandidateFailed");
    expect(error.message).toContain(`create Deployment ${NAMESPACE}/${NAME} (403 Forbidden)`);
    expect(error.hint).toContain(`in namespace '${NAMESPACE}'`);
    expect(error.hint).toContain("create, get, list and delete on deployments, services");
    expect(error.hint).toContain("AmazonEKSEditPolicy");
    expect(server.object("services", NAMESPACE, NAME)).toBeUndefined();
  });

  it("refuses an image that is not on the stack's allow-list without calling the cluster", async () => {
    const error = await failureOf(serving().deploy(spec({ image: "attacker/miner:latest" })));

    expect(error.name).toBe("CandidateFailed");
    expect(error.message).toContain(
      "'attacker/miner:latest' is not on the stack's allowed images for runtime vllm",
    );
    expect(server.requests).toEqual([]);
  });

  it("creates the pods' service account when it is missing and leaves one the platform made alone", async () => {
    await serving().deploy(spec());
    expect(server.object("serviceaccounts", NAMESPACE, "modelship-candidate")).toBeDefined();

    server.reset();
    const irsa = { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/weights" };
    server.seed("serviceaccounts", NAMESPACE, {
      metadata: { name: "modelship-candidate", annotations: irsa },
    });
    await serving().deploy(spec());
    expect(server.object("serviceaccounts", NAMESPACE, "modelship-candidate")?.metadata).toEqual({
      name: "modelship-candidate",
      annotations: irsa,
    });
  });

  it("serves a GGUF model from the first shard it finds under the prefix", async () => {
    const objects = new MemoryObjectStore().addFiles(
      "models/tiny/v1/",
      new Map([
        ["tiny-00002-of-00002.gguf", new Uint8Array(10)],
        ["tiny-00001-of-00002.gguf", new Uint8Array(10)],
        ["modelship.yaml", new Uint8Array(1)],
      ]),
    );
    const gguf = spec({
      model: "tiny",
      version: "v1",
      rolloutId: "tiny-v1-12345678",
      servedName: "tiny",
      runtime: "llama.cpp",
      image: "ghcr.io/ggml-org/llama.cpp:server",
      gpus: 0,
      format: "gguf",
      weights: { bucket: "memory-bucket", prefix: "models/tiny/v1/" },
    });

    await serving({ objects }).deploy(gguf);

    const deployment = server.object("deployments", NAMESPACE, "tiny-v1") as {
      spec: { template: { spec: { containers: { args: string[] }[] } } };
    };
    const args = deployment.spec.template.spec.containers[0]!.args;
    expect(args.slice(0, 2)).toEqual(["-m", "/models/weights/tiny-00001-of-00002.gguf"]);
  });
});

describe("EksServing: status", () => {
  const readyStatus = (readyAt: string) => ({
    phase: "Running",
    conditions: [
      { type: "PodScheduled", status: "True" },
      { type: "Ready", status: "True", lastTransitionTime: readyAt },
    ],
    initContainerStatuses: [
      {
        name: "weights",
        ready: true,
        restartCount: 0,
        image: "aws-cli",
        imageID: "",
        state: { terminated: { exitCode: 0, reason: "Completed" } },
      },
    ],
    containerStatuses: [
      { name: "server", ready: true, restartCount: 0, image: "vllm", imageID: "", state: { running: {} } },
    ],
  });

  /** A scheduled pod whose weights are copied, with the server container in `server`'s state. */
  const serverStatus = (server_: Record<string, unknown>) => ({
    phase: "Running",
    conditions: [{ type: "PodScheduled", status: "True" }],
    initContainerStatuses: readyStatus("").initContainerStatuses,
    containerStatuses: [
      { name: "server", ready: false, image: "vllm", imageID: "", restartCount: 0, ...server_ },
    ],
  });

  async function deployed(config: StackConfig = DEFAULT_STACK_CONFIG): Promise<CandidateHandle> {
    return serving({ config }).deploy(spec());
  }

  /**
   * The status of a deployed candidate whose pod's server container is `server_` (see serverStatus) and logged
   * `logs.previous` in its crashed instance, `logs.current` in the running one.
   */
  async function statusWhenServer(
    server_: Record<string, unknown>,
    logs: { readonly previous?: string; readonly current?: string },
    config: StackConfig = DEFAULT_STACK_CONFIG,
  ) {
    const handle = await deployed(config);
    const pod = server.addPod(NAMESPACE, NAME, serverStatus(server_));
    if (logs.previous !== undefined) server.setLog(NAMESPACE, pod, "server", true, logs.previous);
    if (logs.current !== undefined) server.setLog(NAMESPACE, pod, "server", false, logs.current);
    return serving({ config }).status(handle);
  }

  /** A server that exited with code 1 (an error) and is not running. */
  const EXITED_WITH_ERROR = { state: { terminated: { exitCode: 1, reason: "Error" } } };

  it("is pending while the pod copies its weights, then ready, with the seconds it took", async () => {
    const handle = await deployed();
    const pod = server.addPod(NAMESPACE, NAME, {
      phase: "Pending",
      conditions: [{ type: "PodScheduled", status: "True" }],
      initContainerStatuses: [
        {
          name: "weights",
          ready: false,
          restartCount: 0,
          image: "aws-cli",
          imageID: "",
          state: { running: {} },
        },
      ],
      containerStatuses: [
        {
          name: "server",
          ready: false,
          restartCount: 0,
          image: "vllm",
          imageID: "",
          state: { waiting: { reason: "PodInitializing" } },
        },
      ],
    });

    expect(await serving().status(handle)).toEqual({
      phase: "pending",
      reason: "LoadingWeights",
      message: "Copying the weights from S3 into the pod (init container 'weights').",
    });

    server.pods.length = 0;
    server.addPod(NAMESPACE, NAME, readyStatus("2025-06-01T12:01:35Z"));
    server.setDeploymentStatus(NAMESPACE, NAME, { replicas: 1, readyReplicas: 1, availableReplicas: 1 });
    expect(await serving().status(handle)).toEqual({ phase: "ready", readySeconds: 95 });
    expect(pod).toMatch(/^llama-3-8b-v3-/);
  });

  it("is pending while the server loads the model and /health does not answer yet", async () => {
    const handle = await deployed();
    server.addPod(NAMESPACE, NAME, serverStatus({ state: { running: {} } }));

    expect(await serving().status(handle)).toMatchObject({ phase: "pending", reason: "Starting" });
  });

  it.each(["ImagePullBackOff", "ErrImagePull"])(
    "fails on %s, with what to check about the image",
    async (waitingReason) => {
      const handle = await deployed();
      server.addPod(
        NAMESPACE,
        NAME,
        serverStatus({
          state: {
            waiting: { reason: waitingReason, message: 'Back-off pulling image "vllm/vllm-openai:v0.11.0"' },
          },
        }),
      );

      const status = await serving().status(handle);

      expect(status).toMatchObject({ phase: "failed", reason: "ImagePullBackOff" });
      expect(status.message).toBe("The server image could not be pulled.");
      expect(status.hint).toContain("imagePullSecret");
    },
  );

  it("stays pending as Unschedulable, naming the resource no node has, when there is no GPU capacity", async () => {
    const handle = await deployed();
    const message =
      "0/4 nodes are available: 4 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are available.";
    const pod = server.addPod(NAMESPACE, NAME, {
      phase: "Pending",
      conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message }],
    });
    server.addEvent(NAMESPACE, { kind: "Pod", name: pod }, "FailedScheduling", message);

    const status = await serving().status(handle);

    expect(status).toMatchObject({ phase: "pending", reason: "Unschedulable" });
    expect(status.message).toBe("No node can run the candidate yet: Insufficient nvidia.com/gpu.");
    expect(status.hint).toContain("GPU node group");
  });

  it("fails as OOMKilled when the server ran out of host memory", async () => {
    const status = await statusWhenServer(
      {
        restartCount: 2,
        state: {
          waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" },
        },
        lastState: { terminated: { exitCode: 137, reason: "OOMKilled" } },
      },
      { previous: "INFO Loading safetensors checkpoint shards: 50%\n" },
    );

    expect(status).toMatchObject({ phase: "failed", reason: "OOMKilled" });
    expect(status.hint).toContain("serving.memory");
    expect(status.logTail).toEqual(["INFO Loading safetensors checkpoint shards: 50%"]);
  });

  it("fails as CudaOutOfMemory from the crashed instance's log, and shows the log tail", async () => {
    const noise = Array.from({ length: 80 }, (_, i) => `INFO loading layer ${i}`);
    const oom =
      "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.10 GiB";
    const status = await statusWhenServer(
      {
        restartCount: 1,
        state: { waiting: { reason: "CrashLoopBackOff" } },
        lastState: { terminated: { exitCode: 1, reason: "Error" } },
      },
      { previous: [...noise, oom].join("\n"), current: "starting again\n" },
    );

    expect(status).toMatchObject({ phase: "failed", reason: "CudaOutOfMemory" });
    expect(status.message).toMatch(/^The model did not fit in GPU memory/);
    expect(status.hint).toContain("serving.gpus");
    expect(status.logTail).toHaveLength(50);
    expect(status.logTail?.at(-1)).toBe(oom);
    const logRequest = server.requests.find((r) => r.path.endsWith("/log"));
    expect(Object.fromEntries(logRequest?.query ?? [])).toMatchObject({
      container: "server",
      previous: "true",
      tailLines: "50",
    });
  });

  it("fails as UnsupportedArchitecture, naming the architecture from the log", async () => {
    const status = await statusWhenServer(EXITED_WITH_ERROR, {
      current: "ValueError: Model architectures ['FooForCausalLM'] are not supported for now.\n",
    });

    expect(status).toMatchObject({ phase: "failed", reason: "UnsupportedArchitecture" });
    expect(status.message).toContain("FooForCausalLM");
    expect(status.hint).toContain("allowed images");
  });

  it("fails as ModelFilesMissing when the server cannot find a file it needs", async () => {
    const status = await statusWhenServer(EXITED_WITH_ERROR, {
      current: "OSError: /models/weights does not appear to have a file named config.json.\n",
    });

    expect(status).toMatchObject({ phase: "failed", reason: "ModelFilesMissing" });
    expect(status.message).toContain("config.json");
  });

  it("fails as CrashLoopBackOff when the server keeps crashing for a reason no signature knows", async () => {
    const status = await statusWhenServer(
      {
        restartCount: 3,
        state: { waiting: { reason: "CrashLoopBackOff" } },
        lastState: { terminated: { exitCode: 3, reason: "Error" } },
      },
      { previous: "RuntimeError: something nobody has seen before\n" },
    );

    expect(status).toMatchObject({ phase: "failed", reason: "CrashLoopBackOff" });
    expect(status.logTail).toEqual(["RuntimeError: something nobody has seen before"]);
  });

  it("fails as WeightsDownloadFailed when the init container may not read the bucket", async () => {
    const handle = await deployed();
    const pod = server.addPod(NAMESPACE, NAME, {
      phase: "Pending",
      conditions: [{ type: "PodScheduled", status: "True" }],
      initContainerStatuses: [
        {
          name: "weights",
          ready: false,
          restartCount: 1,
          image: "aws-cli",
          imageID: "",
          state: { waiting: { reason: "CrashLoopBackOff" } },
          lastState: { terminated: { exitCode: 1, reason: "Error" } },
        },
      ],
    });
    server.setLog(
      NAMESPACE,
      pod,
      "weights",
      true,
      "fatal error: An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied\n",
    );

    const status = await serving().status(handle);

    expect(status).toMatchObject({ phase: "failed", reason: "WeightsDownloadFailed" });
    expect(status.hint).toContain("Pod Identity");
  });

  it("checks the stack's own failure signatures before the built-in ones", async () => {
    const config: StackConfig = {
      ...DEFAULT_STACK_CONFIG,
      serving: {
        ...DEFAULT_STACK_CONFIG.serving,
        failureSignatures: [
          {
            reason: "NcclTimeout",
            logPattern: "NCCL (watchdog )?timeout",
            terminal: true,
            explanation: "The GPUs could not talk to each other.",
            hint: "Check the node's NVLink/EFA health.",
          },
        ],
      },
    };
    const status = await statusWhenServer(
      { restartCount: 1, state: { waiting: { reason: "CrashLoopBackOff" } } },
      { previous: "RuntimeError: NCCL watchdog timeout after 600000 ms\n" },
      config,
    );
    expect(status).toMatchObject({
      phase: "failed",
      reason: "NcclTimeout",
      hint: "Check the node's NVLink/EFA health.",
    });
  });

  it("stays pending with the ReplicaSet's reason when no pod can be created (a quota)", async () => {
    const handle = await deployed();
    server.addEvent(
      NAMESPACE,
      { kind: "ReplicaSet", name: `${NAME}-7d9c8b6f5` },
      "FailedCreate",
      'pods "llama-3-8b-v3-7d9c8b6f5-abcde" is forbidden: exceeded quota: gpu-quota',
    );
    server.addEvent(
      NAMESPACE,
      { kind: "ReplicaSet", name: `${NAME}-other-7d9c8b6f5` },
      "FailedCreate",
      "not ours",
    );

    const status = await serving().status(handle);

    expect(status).toEqual({
      phase: "pending",
      reason: "FailedCreate",
      message:
        'The Deployment has no pod yet: pods "llama-3-8b-v3-7d9c8b6f5-abcde" is forbidden: exceeded quota: gpu-quota',
    });
  });

  it("fails as CandidateMissing when the Deployment was deleted behind the rollout's back", async () => {
    const handle = await deployed();
    server.objects.delete(`deployments/${NAMESPACE}/${NAME}`);

    expect(await serving().status(handle)).toMatchObject({ phase: "failed", reason: "CandidateMissing" });
  });
});

describe("EksServing: scrapeMetrics", () => {
  const ready = {
    phase: "Running",
    conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2025-06-01T12:00:00Z" }],
  };
  const metrics = 'vllm:request_success_total{finished_reason="stop"} 7.0\n';

  it("reads each ready pod's /metrics through the API server's pods proxy, with the bearer token", async () => {
    const handle = await serving().deploy(spec());
    const a = server.addPod(NAMESPACE, NAME, ready);
    const b = server.addPod(NAMESPACE, NAME, ready);
    server.podMetrics.set(`${NAMESPACE}/${a}:8000`, { status: 200, body: metrics });
    server.podMetrics.set(`${NAMESPACE}/${b}:8000`, { status: 200, body: "vllm:num_requests_waiting 2.0\n" });

    const scraped = await serving().scrapeMetrics(handle);

    expect(scraped).toEqual([
      { pod: a, text: metrics },
      { pod: b, text: "vllm:num_requests_waiting 2.0\n" },
    ]);
    const proxied = server.requests.filter((r) => r.path.endsWith("/proxy/metrics"));
    expect(proxied.map((r) => r.path)).toEqual([
      `/api/v1/namespaces/${NAMESPACE}/pods/${a}:8000/proxy/metrics`,
      `/api/v1/namespaces/${NAMESPACE}/pods/${b}:8000/proxy/metrics`,
    ]);
    expect(proxied.every((r) => /^Bearer token-\d+$/.test(r.authorization ?? ""))).toBe(true);
    const listed = server.requests.find((r) => r.path === `/api/v1/namespaces/${NAMESPACE}/pods`);
    expect(listed?.query.get("labelSelector")).toBe(
      `app.kubernetes.io/instance=${NAME},app.kubernetes.io/managed-by=modelship`,
    );
  });

  it("leaves out pods that are not ready or are terminating: they take no traffic", async () => {
    const handle = await serving().deploy(spec());
    server.addPod(NAMESPACE, NAME, { phase: "Pending", conditions: [{ type: "Ready", status: "False" }] });
    const going = server.addPod(NAMESPACE, NAME, ready);
    const pod = server.pods.find((p) => (p.metadata as { name: string }).name === going);
    (pod?.metadata as Record<string, unknown>).deletionTimestamp = "2025-06-01T12:00:00Z";
    expect(await serving().scrapeMetrics(handle)).toEqual([]);
  });

  it("reports a pod whose /metrics cannot be read by what the proxy answered", async () => {
    const handle = await serving().deploy(spec());
    const a = server.addPod(NAMESPACE, NAME, ready);
    expect(await serving().scrapeMetrics(handle)).toEqual([
      {
        pod: a,
        error: expect.stringMatching(/^GET \/metrics answered 503: .*no endpoints available for pod/),
      },
    ]);
  });

  it("does not read a pod's metrics into memory past the cap", async () => {
    const handle = await serving().deploy(spec());
    const a = server.addPod(NAMESPACE, NAME, ready);
    server.podMetrics.set(`${NAMESPACE}/${a}:8000`, { status: 200, body: "x".repeat(5 * 1024 * 1024) });
    expect(await serving().scrapeMetrics(handle)).toEqual([
      { pod: a, error: "GET /metrics failed: the answer is larger than 4194304 bytes" },
    ]);
  });

  it("fails, naming the access it lacks, when the pods cannot be listed", async () => {
    const handle = await serving().deploy(spec());
    server.failNext("GET", /\/pods$/, 403);
    const failure = await failureOf(serving().scrapeMetrics(handle));
    expect(failure.message).toMatch(/list the pods of models\/llama-3-8b-v3/);
  });
});

describe("EksServing: endpoint", () => {
  it("reaches the candidate for probes through the API server's service proxy, with a bearer token and the cluster CA", async () => {
    const handle = await serving().deploy(spec());

    const endpoint = await serving().endpoint(handle, "probe");

    expect(endpoint).toEqual({
      baseUrl: `${url}/api/v1/namespaces/${NAMESPACE}/services/${NAME}:8000/proxy/v1`,
      headers: { Authorization: expect.stringMatching(/^Bearer token-\d+$/) },
      servedName: "llama-3-8b",
      caCertificate: expect.stringContaining("-----BEGIN CERTIFICATE-----"),
    });
    expect(await getJson(endpoint, "/models")).toEqual({ proxiedTo: `${NAME}:8000`, path: "/v1/models" });
    expect(server.requests.at(-1)?.authorization).toBe(endpoint.headers.Authorization);
  });

  it("sends heavy traffic to the stack's in-cluster URL when it has one, and through the proxy when not", async () => {
    const config: StackConfig = {
      ...DEFAULT_STACK_CONFIG,
      serving: {
        ...DEFAULT_STACK_CONFIG.serving,
        internalUrlTemplate: "http://{service}.{namespace}.svc.cluster.local:{port}/",
      },
    };
    const handle = await serving({ config }).deploy(spec());

    expect(await serving({ config }).endpoint(handle, "load")).toEqual({
      baseUrl: `http://${NAME}.${NAMESPACE}.svc.cluster.local:8000/v1`,
      headers: {},
      servedName: "llama-3-8b",
    });
    expect((await serving({ config }).endpoint(handle, "probe")).baseUrl).toContain("/proxy/v1");
    expect((await serving().endpoint(handle, "load")).baseUrl).toContain("/proxy/v1");
  });

  it("refuses a handle that was not made on EKS, saying what it lacks", async () => {
    const local: CandidateHandle = {
      id: "local-1",
      model: "m",
      version: "v",
      rolloutId: "r",
      servedName: "m",
      deployedAt: "2025-06-01T12:00:00.000Z",
      details: { port: 8080 },
    };
    await expect(serving().endpoint(local, "probe")).rejects.toThrow(/was not deployed on EKS/);
  });
});

describe("EksServing: remove", () => {
  it("deletes the Deployment (foreground, so its pods go first) and the Service; removing twice is fine", async () => {
    const handle = await serving().deploy(spec());

    await serving().remove(handle);
    await serving().remove(handle);

    expect(server.object("deployments", NAMESPACE, NAME)).toBeUndefined();
    expect(server.object("services", NAMESPACE, NAME)).toBeUndefined();
    const deletes = server.requests.filter((r) => r.method === "DELETE");
    expect(deletes.map((r) => r.path)).toEqual([
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${NAME}`,
      `/api/v1/namespaces/${NAMESPACE}/services/${NAME}`,
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${NAME}`,
      `/api/v1/namespaces/${NAMESPACE}/services/${NAME}`,
    ]);
    expect(deletes[0]?.query.get("propagationPolicy")).toBe("Foreground");
  });

  it("finds and deletes a rollout's objects by its label when the state has no handle (a deploy that failed half-way)", async () => {
    await serving().deploy(spec());
    await serving().deploy(spec({ model: "other", version: "v1", rolloutId: "other-v1-99999999" }));

    const removed = await serving().removeRollout("llama-3-8b", "llama-3-8b-v3-0a1b2c3d");

    expect(removed).toEqual([
      `Deleted the Deployment ${NAMESPACE}/${NAME}.`,
      `Deleted the Service ${NAMESPACE}/${NAME}.`,
    ]);
    expect(server.object("deployments", NAMESPACE, NAME)).toBeUndefined();
    expect(server.object("services", NAMESPACE, NAME)).toBeUndefined();
    expect(server.object("deployments", NAMESPACE, "other-v1")).toBeDefined();
    expect(await serving().removeRollout("llama-3-8b", "llama-3-8b-v3-0a1b2c3d")).toEqual([]);
  });

  it("reports a server error while deleting as Transient, for the state machine to retry", async () => {
    const handle = await serving().deploy(spec());
    server.failNext("DELETE", /\/deployments\//, 500);

    const error = await failureOf(serving().remove(handle));

    expect(error.name).toBe("Transient");
    expect(server.object("deployments", NAMESPACE, NAME)).toBeDefined();
  });
});

describe("EksServing: talking to the API server", () => {
  it("asks for a current bearer token on every request, so a renewed token is used at once", async () => {
    const eks = serving();
    const handle = await eks.deploy(spec());
    await eks.status(handle);
    await eks.remove(handle);

    const tokens = server.requests.map((r) => r.authorization);
    expect(tokens.length).toBeGreaterThanOrEqual(7);
    expect(tokens.every((t) => /^Bearer token-\d+$/.test(t ?? ""))).toBe(true);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it("says the access entry or authentication mode is missing when the cluster answers 401", async () => {
    server.failNext("POST", /\/serviceaccounts$/, 401);

    const error = await failureOf(serving().deploy(spec()));

    expect(error.name).toBe("CandidateFailed");
    expect(error.message).toContain("(401)");
    expect(error.hint).toContain("EKS access entry");
    expect(error.hint).toContain("API_AND_CONFIG_MAP");
  });

  it("treats throttling (429) as Transient", async () => {
    server.failNext("POST", /\/services$/, 429);

    expect((await failureOf(serving().deploy(spec()))).name).toBe("Transient");
  });

  it("treats an API server it cannot connect to as Transient", async () => {
    const nobody = new KubernetesApiServer();
    const address = await nobody.start();
    await nobody.stop();

    const error = await failureOf(serving({ server: address }).deploy(spec()));

    expect(error.name).toBe("Transient");
    expect(error.message).toContain("Could not reach the Kubernetes API");
  });
});

/** A GET through the endpoint, trusting its CA, with its headers: what a smoke test does. */
function getJson(endpoint: Endpoint, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      `${endpoint.baseUrl}${path}`,
      { headers: endpoint.headers, ...(endpoint.caCertificate && { ca: endpoint.caCertificate }) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
      },
    );
    request.on("error", reject);
    request.end();
  });
}
