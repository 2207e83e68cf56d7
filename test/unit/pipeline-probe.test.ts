import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { VllmMetricsRecorder } from "../../lib/core/prometheus/vllm-metrics";
import { probeMinute, probeRound, trafficWindowsFor } from "../../lib/pipeline/probe";
import type { ProberTarget } from "../../lib/ports";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";
import { OpenAiTestServer } from "../support/openai-test-server";

describe("The prober", () => {
  const servers = new Map<string, OpenAiTestServer>();
  let gatewayServer: OpenAiTestServer;
  let world: CanaryWorld;
  let v2: ExecutionState;
  let target: ProberTarget;

  async function worldAtFirstStep(
    gatewayUrl = "",
    prometheus?: StackConfig["canaryMetrics"]["prometheus"],
  ): Promise<void> {
    world = canaryWorld({
      config: {
        ...DEFAULT_STACK_CONFIG,
        gateway: { ...DEFAULT_STACK_CONFIG.gateway, url: gatewayUrl },
        canaryMetrics: { ...DEFAULT_STACK_CONFIG.canaryMetrics, ...(prometheus ? { prometheus } : {}) },
      },
      endpointFor: (handle) => ({
        baseUrl: servers.get(handle.version)?.baseUrl ?? "",
        headers: {},
        servedName: handle.servedName,
      }),
    });
    let v1 = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
    v1 = await flow.promote(v1, world);
    await flow.finalize(v1, world);
    v2 = await flow.canaryStep(
      await flow.registerGateway(await rolloutThroughGates(world, "v2"), world),
      world,
    );
    const [running] = world.metrics.running;
    if (!running) throw new Error("CanaryStep started no prober");
    target = running;
    world.metrics.published.length = 0;
  }

  beforeEach(async () => {
    for (const version of ["v1", "v2"]) servers.set(version, await OpenAiTestServer.start(MODEL));
    gatewayServer = await OpenAiTestServer.start(MODEL);
  });
  afterEach(async () => {
    await Promise.all([...servers.values(), gatewayServer].map((s) => s.stop()));
    servers.clear();
  });

  const chats = (server: OpenAiTestServer | undefined) =>
    server?.received.filter((r) => r.path === "/v1/chat/completions") ?? [];

  it("sends a few small chats to the candidate and the stable, one observation per request", async () => {
    await worldAtFirstStep();
    expect(target).toEqual({ model: MODEL, version: "v2", rolloutId: v2.rollout.id, everySeconds: 10 });
    const round = await probeRound(target, world);

    const summary = world.metrics.published.map((o) => `${o.model} ${o.version} ${o.variant} ${o.error}`);
    expect(summary.sort()).toEqual([
      "llama v1 stable false",
      "llama v1 stable false",
      "llama v2 candidate false",
      "llama v2 candidate false",
    ]);
    expect(round.observations).toEqual(world.metrics.published);
    for (const observation of round.observations) {
      expect(observation.latencyMs).toBeGreaterThanOrEqual(0);
      expect(observation.at).toBe("2025-06-01T12:00:00.000Z");
    }
    for (const version of ["v1", "v2"]) {
      expect(chats(servers.get(version)).map((r) => r.body)).toEqual([
        expect.objectContaining({ model: MODEL, max_tokens: 8 }),
        expect.objectContaining({ model: MODEL, max_tokens: 8 }),
      ]);
    }
  });

  it("counts a server error and a timeout as errors", async () => {
    await worldAtFirstStep();
    servers.get("v2")?.behave({ failFirst: { count: 2, status: 503 } });
    servers.get("v1")?.behave({ hang: true });
    const round = await probeRound(target, world, { timeoutMs: 200 });
    expect(round.observations.map((o) => `${o.version} ${o.error}`).sort()).toEqual([
      "v1 true",
      "v1 true",
      "v2 true",
      "v2 true",
    ]);
    expect(chats(servers.get("v2"))).toHaveLength(2);
  });

  it("counts a refused connection as an error", async () => {
    await worldAtFirstStep();
    await servers.get("v2")?.stop();
    const round = await probeRound(target, world);
    expect(round.observations.map((o) => `${o.variant} ${o.error}`).sort()).toEqual([
      "candidate true",
      "candidate true",
      "stable false",
      "stable false",
    ]);
  });

  it("counts every probe of a version whose server cannot be located as an error", async () => {
    await worldAtFirstStep();
    world.serving.endpoint = (handle) =>
      handle.version === "v2"
        ? Promise.reject(new Error('services "llama-v2" not found'))
        : Promise.resolve({ baseUrl: servers.get("v1")?.baseUrl ?? "", headers: {}, servedName: MODEL });
    const round = await probeRound(target, world);
    expect(round.observations.map((o) => `${o.variant} ${o.error} ${o.latencyMs}`).sort()).toEqual([
      "candidate true undefined",
      "candidate true undefined",
      expect.stringMatching(/^stable false \d/),
      expect.stringMatching(/^stable false \d/),
    ]);
  });

  it("during the watch, probes the promoted version as the candidate and the warm previous stable as the stable", async () => {
    await worldAtFirstStep();
    await flow.promote(v2, world);
    const round = await probeRound(target, world);
    expect(round.observations.map((o) => `${o.version} ${o.variant}`).sort()).toEqual([
      "v1 stable",
      "v1 stable",
      "v2 candidate",
      "v2 candidate",
    ]);
  });

  it("goes through the gateway, naming the variant, when the stack gives the gateway's URL", async () => {
    await worldAtFirstStep(gatewayServer.baseUrl.replace(/\/v1$/, ""));
    await probeRound(target, world);
    expect(chats(servers.get("v1"))).toEqual([]);
    expect(chats(servers.get("v2"))).toEqual([]);
    const headers = chats(gatewayServer).map(
      (r) =>
        `${r.headers["x-model-id"]} ${r.headers["x-modelship-variant"]} ${r.headers["x-modelship-probe"]}`,
    );
    expect(headers.sort()).toEqual([
      "llama candidate 1",
      "llama candidate 1",
      "llama stable 1",
      "llama stable 1",
    ]);
  });

  it("during the watch, reaches the previous stable directly: it has no variant on the route any more", async () => {
    await worldAtFirstStep(gatewayServer.baseUrl);
    await flow.promote(v2, world);
    await probeRound(target, world);
    expect(chats(gatewayServer).map((r) => r.headers["x-modelship-variant"])).toEqual(["stable", "stable"]);
    expect(chats(servers.get("v1"))).toHaveLength(2);
  });

  it("publishes every probe as an error, without a latency, when the route cannot be read (a 403)", async () => {
    await worldAtFirstStep(gatewayServer.baseUrl.replace(/\/v1$/, ""));
    world.gateway.describe = () =>
      Promise.reject(new Error('httproutes.gateway.networking.k8s.io "llama" is forbidden'));
    const round = await probeRound(target, world);
    expect(world.metrics.published.map((o) => `${o.version} ${o.variant} ${o.error} ${o.latencyMs}`)).toEqual(
      [
        "v2 candidate true undefined",
        "v2 candidate true undefined",
        "v1 stable true undefined",
        "v1 stable true undefined",
      ],
    );
    expect(round.problems).toEqual([
      'The route of llama could not be read: httproutes.gateway.networking.k8s.io "llama" is forbidden',
    ]);
    expect(chats(gatewayServer)).toEqual([]);
  });

  it("publishes the probes as errors when the route cannot be read again after them", async () => {
    await worldAtFirstStep(gatewayServer.baseUrl.replace(/\/v1$/, ""));
    const describe = world.gateway.describe.bind(world.gateway);
    let calls = 0;
    world.gateway.describe = (model) =>
      ++calls === 2 ? Promise.reject(new Error("connect ETIMEDOUT")) : describe(model);
    const round = await probeRound(target, world);
    expect(round.observations.map((o) => `${o.variant} ${o.error}`).sort()).toEqual([
      "candidate true",
      "candidate true",
      "stable true",
      "stable true",
    ]);
    expect(round.problems).toEqual(["The route of llama could not be read: connect ETIMEDOUT"]);
    expect(chats(gatewayServer)).toHaveLength(4);
  });

  it("publishes the candidate's probes as errors when the rollout record cannot be read", async () => {
    await worldAtFirstStep();
    world.store.get = () => Promise.reject(new Error("AccessDeniedException: not authorized"));
    const round = await probeRound(target, world);
    expect(world.metrics.published).toEqual([
      { model: MODEL, version: "v2", variant: "candidate", error: true, at: "2025-06-01T12:00:00.000Z" },
      { model: MODEL, version: "v2", variant: "candidate", error: true, at: "2025-06-01T12:00:00.000Z" },
    ]);
    expect(round.problems).toEqual([
      "The rollout record of llama could not be read: AccessDeniedException: not authorized",
    ]);
    expect(world.metrics.running).toEqual([target]);
  });

  it("counts a minute of rounds that could not probe as errors, and names the problem once", async () => {
    await worldAtFirstStep(gatewayServer.baseUrl.replace(/\/v1$/, ""));
    world.gateway.describe = () => Promise.reject(new Error("forbidden"));
    const minute = await probeMinute(target, world, async (ms) => world.clock.advance(ms / 1000));
    expect(minute).toEqual({
      rounds: 6,
      requests: 24,
      errors: 24,
      problems: ["The route of llama could not be read: forbidden"],
    });
  });

  it("discards, unpublished, the probes of a version the route moved while the round ran", async () => {
    await worldAtFirstStep(gatewayServer.baseUrl);
    const describe = world.gateway.describe.bind(world.gateway);
    let calls = 0;
    // The promotion lands between the requests going out and the round's second look at the route.
    world.gateway.describe = async (model) => {
      if (++calls === 2) await flow.promote(v2, world);
      return describe(model);
    };
    const round = await probeRound(target, world);
    expect(round.discarded).toBe(4);
    expect(round.observations).toEqual([]);
    expect(world.metrics.published).toEqual([]);
    expect(chats(gatewayServer)).toHaveLength(4);
  });

  it("stops itself, publishing nothing, once the rollout is over", async () => {
    await worldAtFirstStep();
    await flow.rollback({ ...v2, error: { Error: "Transient", Cause: "test" } }, world);
    await world.metrics.startProber(target);
    const round = await probeRound(target, world);
    expect(round).toEqual({
      observations: [],
      stopped: `Rollout ${v2.rollout.id} of llama v2 is over: its prober stopped itself.`,
    });
    expect(world.metrics.running).toEqual([]);
    expect(world.metrics.published).toEqual([]);
  });

  describe("real traffic", () => {
    const recorders = new Map<string, VllmMetricsRecorder>();
    const serve = (version: string, count: number, seconds: number) => {
      for (let i = 0; i < count; i++) {
        recorders
          .get(version)
          ?.finish({ reason: "stop", e2eSeconds: seconds, queueSeconds: 0, ttftSeconds: 0.05 });
      }
    };
    beforeEach(() => {
      recorders.clear();
      for (const version of ["v1", "v2"])
        recorders.set(version, new VllmMetricsRecorder("llama", 1_748_779_000));
    });
    const withPods = () => {
      world.serving.podMetrics = (handle) => [
        { pod: `llama-${handle.version}-pod`, text: recorders.get(handle.version)?.exposition() ?? "" },
      ];
    };

    it("publishes each probed version's traffic since the last round, from its pods' own metrics", async () => {
      await worldAtFirstStep();
      withPods();
      const traffic = trafficWindowsFor(world.config);
      const first = await probeRound(target, world, { traffic });
      expect(first.traffic?.map((p) => [p.version, p.variant, p.source, p.values])).toEqual([
        ["v2", "candidate", "traffic", { ScrapeFailures: 0, RequestsWaiting: 0 }],
        ["v1", "stable", "traffic", { ScrapeFailures: 0, RequestsWaiting: 0 }],
      ]);
      serve("v2", 30, 0.7);
      serve("v1", 10, 0.4);
      world.clock.advance(10);
      await probeRound(target, world, { traffic });
      expect(
        world.metrics.traffic.slice(2).map((p) => [p.version, p.at, p.values.Requests, p.values.LatencyP95]),
      ).toEqual([
        // 30 in (0.5, 0.8] s: 0.5 + 0.3 × 28.5/30 = 0.785 s; 10 in (0.3, 0.5]: 0.3 + 0.2 × 9.5/10 = 0.49 s.
        ["v2", "2025-06-01T12:00:10.000Z", 30, 785],
        ["v1", "2025-06-01T12:00:10.000Z", 10, 490],
      ]);
    });

    it("counts the pods as a scrape failure when they cannot be listed, and still probes", async () => {
      await worldAtFirstStep();
      world.serving.podMetrics = () => {
        throw new Error('pods is forbidden: User "prober" cannot list resource "pods"');
      };
      const round = await probeRound(target, world, { traffic: trafficWindowsFor(world.config) });
      expect(round.traffic?.map((p) => p.values)).toEqual([{ ScrapeFailures: 1 }, { ScrapeFailures: 1 }]);
      expect(round.problems).toContain(
        'Real traffic of llama v2: pod (all): the pods could not be listed: pods is forbidden: User "prober" cannot list resource "pods"',
      );
      expect(round.observations).toHaveLength(4);
    });

    it("asks the stack's Prometheus instead, one query per metric with the version's labels and the window", async () => {
      await worldAtFirstStep("", {
        endpoint: { kind: "url", url: "http://prometheus.test" },
        queries: {
          requests:
            'sum(increase(vllm:request_success_total{model_name="{{model}}-{{version}}"}[{{window}}]))',
          latencyP95Seconds:
            'histogram_quantile(0.95, sum by (le) (increase(vllm:e2e_request_latency_seconds_bucket{model_name="{{model}}-{{version}}",role="{{variant}}"}[{{window}}])))',
        },
      });
      world.metrics.answer = (query) =>
        query.startsWith("sum(") ? 42 : query.includes("v2") ? 1.25 : undefined;
      const round = await probeRound(target, world);
      expect(world.metrics.queries.sort()).toEqual([
        'histogram_quantile(0.95, sum by (le) (increase(vllm:e2e_request_latency_seconds_bucket{model_name="llama-v1",role="stable"}[10s])))',
        'histogram_quantile(0.95, sum by (le) (increase(vllm:e2e_request_latency_seconds_bucket{model_name="llama-v2",role="candidate"}[10s])))',
        'sum(increase(vllm:request_success_total{model_name="llama-v1"}[10s]))',
        'sum(increase(vllm:request_success_total{model_name="llama-v2"}[10s]))',
      ]);
      expect(round.traffic?.map((p) => [p.version, p.source, p.values])).toEqual([
        ["v2", "prometheus", { Requests: 42, LatencyP95: 1250, ScrapeFailures: 0 }],
        ["v1", "prometheus", { Requests: 42, ScrapeFailures: 0 }],
      ]);
    });

    it("counts a Prometheus query that fails as a scrape failure, naming the query", async () => {
      await worldAtFirstStep("", {
        endpoint: { kind: "url", url: "http://prometheus.test" },
        queries: { requests: "sum(up)" },
      });
      world.metrics.answer = () => {
        throw new Error("sum(up) answered 3 series");
      };
      const round = await probeRound(target, world);
      expect(round.traffic?.map((p) => p.values)).toEqual([{ ScrapeFailures: 1 }, { ScrapeFailures: 1 }]);
      expect(round.problems).toContain("Real traffic of llama v2: query requests: sum(up) answered 3 series");
    });

    it("keeps the pods' previous scrapes through a minute of rounds", async () => {
      await worldAtFirstStep();
      withPods();
      let round = 0;
      await probeMinute(target, world, async (ms) => {
        serve("v2", ++round, 0.4);
        world.clock.advance(ms / 1000);
      });
      // Round 1 is the baseline; rounds 2 to 6 see the 1 + 2 + 3 + 4 + 5 requests served before them.
      expect(world.metrics.traffic.filter((p) => p.version === "v2").map((p) => p.values.Requests)).toEqual([
        undefined,
        1,
        2,
        3,
        4,
        5,
      ]);
    });
  });

  describe("on AWS, a minute per invocation", () => {
    it("runs 60 / everySeconds rounds, one period apart", async () => {
      await worldAtFirstStep();
      const sleeps: number[] = [];
      const minute = await probeMinute(target, world, async (ms) => {
        sleeps.push(ms);
        world.clock.advance(ms / 1000);
      });
      expect(minute).toEqual({ rounds: 6, requests: 24, errors: 0 });
      expect(sleeps).toEqual([10_000, 10_000, 10_000, 10_000, 10_000]);
      expect(new Set(world.metrics.published.map((o) => o.at)).size).toBe(6);
    });

    it("stops early when the rollout ends during the minute", async () => {
      await worldAtFirstStep();
      let rounds = 0;
      const minute = await probeMinute(target, world, async () => {
        if (++rounds === 2)
          await flow.rollback({ ...v2, error: { Error: "Transient", Cause: "test" } }, world);
      });
      expect(minute).toMatchObject({ rounds: 2, requests: 8, stopped: expect.stringMatching(/is over/) });
      expect(world.metrics.running).toEqual([]);
    });
  });
});
