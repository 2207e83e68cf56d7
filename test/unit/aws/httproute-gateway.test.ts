import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ClusterConnection } from "../../../lib/aws/eks/cluster";
import { HttpRouteGateway } from "../../../lib/aws/gateway/httproute-gateway";
import type { HttpRoute } from "../../../lib/aws/gateway/httproute-object";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../../lib/core/config/config";
import type { CandidateHandle } from "../../../lib/ports";
import { KubernetesApiServer } from "../eks/kubernetes-api-server";

// The Gateway API schema is not among the installed packages (kubernetes-models has no Gateway API), so
// the routes are asserted field by field against the v1 HTTPRoute structure instead.

const server = new KubernetesApiServer();
let url = "";
const connection: ClusterConnection = {
  endpoint: async () => ({ server: url, caData: server.caData }),
  token: async () => "test-token",
};
const ROUTE_PATH = /\/apis\/gateway\.networking\.k8s\.io\/v1\/namespaces\/models\/httproutes/;
const MODEL = "llama-3-8b";

beforeAll(async () => {
  url = await server.start();
});
afterAll(() => server.stop());
beforeEach(() => server.reset());

function gatewayWith(config: StackConfig = DEFAULT_STACK_CONFIG): HttpRouteGateway {
  return new HttpRouteGateway({ config, connection });
}

function handle(version: string): CandidateHandle {
  return {
    id: `models/${MODEL}-${version}`,
    model: MODEL,
    version,
    rolloutId: `${MODEL}-${version}-0a1b2c3d`,
    servedName: MODEL,
    deployedAt: "2025-06-01T12:00:00.000Z",
    details: {
      namespace: "models",
      deployment: `${MODEL}-${version}`,
      service: `${MODEL}-${version}`,
      port: 8000,
    },
  };
}

function storedRoute(): HttpRoute {
  const route = server.object("httproutes", "models", MODEL);
  if (!route) throw new Error("no route was stored");
  return route as unknown as HttpRoute;
}

/** Another writer's edit of the stored route. */
function editRoute(change: (route: HttpRoute) => void): void {
  server.edit("httproutes", "models", MODEL, (route) => change(route as unknown as HttpRoute));
}

const path = { type: "PathPrefix", value: "/v1" };
const modelHeader = { type: "Exact", name: "x-model-id", value: MODEL };
const variant = (value: string) => ({ type: "Exact", name: "x-modelship-variant", value });
const ref = (version: string, weight: number) => ({
  group: "",
  kind: "Service",
  name: `${MODEL}-${version}`,
  port: 8000,
  weight,
});
const candidateRule = (version: string) => ({
  matches: [{ path, headers: [modelHeader, variant("candidate")] }],
  backendRefs: [ref(version, 1)],
});
const stableRule = (version: string) => ({
  matches: [{ path, headers: [modelHeader, variant("stable")] }],
  backendRefs: [ref(version, 1)],
});
const weightedRule = (...refs: ReturnType<typeof ref>[]) => ({
  matches: [{ path, headers: [modelHeader] }],
  backendRefs: refs,
});

function writes(): string[] {
  return server.requests.filter((r) => r.method !== "GET").map((r) => r.method);
}

/** v1 released: stable at 100%. */
async function releaseFirstVersion(gateway: HttpRouteGateway): Promise<void> {
  await gateway.register(MODEL, handle("v1"));
  await gateway.setWeights(MODEL, { stable: 0, candidate: 100 });
  await gateway.promote(MODEL, "v1");
}

describe("HttpRouteGateway", () => {
  it("creates the model's route on a first release, the candidate reachable by its variant header only", async () => {
    const gateway = gatewayWith();

    await gateway.register(MODEL, handle("v1"));

    const route = storedRoute();
    expect(route.apiVersion).toBe("gateway.networking.k8s.io/v1");
    expect(route.kind).toBe("HTTPRoute");
    expect(route.metadata).toMatchObject({
      name: MODEL,
      namespace: "models",
      labels: { "app.kubernetes.io/managed-by": "modelship", "modelship.io/model": MODEL },
    });
    expect(route.spec).toEqual({
      parentRefs: [
        {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: "inference-gateway",
          namespace: "gateway",
        },
      ],
      rules: [candidateRule("v1")],
    });
    expect(server.requests.find((r) => r.method === "POST")?.query.get("fieldManager")).toBe("modelship");
    expect(await gateway.describe(MODEL)).toEqual({
      model: MODEL,
      backends: [{ variant: "candidate", version: "v1", weight: 0, handle: handle("v1") }],
    });
  });

  it("sends a first release all of the model's traffic once it goes to 100%, and keeps it there on promotion", async () => {
    const gateway = gatewayWith();
    await gateway.register(MODEL, handle("v1"));

    await gateway.setWeights(MODEL, { stable: 0, candidate: 100 });
    expect(storedRoute().spec.rules).toEqual([candidateRule("v1"), weightedRule(ref("v1", 100))]);

    await gateway.promote(MODEL, "v1");
    expect(storedRoute().spec.rules).toEqual([stableRule("v1"), weightedRule(ref("v1", 100))]);
    expect(await gateway.describe(MODEL)).toEqual({
      model: MODEL,
      backends: [{ variant: "stable", version: "v1", weight: 100, handle: handle("v1") }],
    });
  });

  it("adds a candidate beside the stable at weight 0, then weighs the two by the canary step", async () => {
    const gateway = gatewayWith();
    await releaseFirstVersion(gateway);

    await gateway.register(MODEL, handle("v2"));
    expect(storedRoute().spec.rules).toEqual([
      candidateRule("v2"),
      stableRule("v1"),
      weightedRule(ref("v1", 100)),
    ]);

    await gateway.setWeights(MODEL, { stable: 95, candidate: 5 });
    expect(storedRoute().spec.rules).toEqual([
      candidateRule("v2"),
      stableRule("v1"),
      weightedRule(ref("v1", 95), ref("v2", 5)),
    ]);
    expect(
      (await gateway.describe(MODEL))?.backends.map(({ variant, version, weight }) => [
        variant,
        version,
        weight,
      ]),
    ).toEqual([
      ["stable", "v1", 95],
      ["candidate", "v2", 5],
    ]);
  });

  it("promotes the candidate to 100% and keeps the old stable on the route, so a rollback during the watch returns to it", async () => {
    const gateway = gatewayWith();
    await releaseFirstVersion(gateway);
    await gateway.register(MODEL, handle("v2"));
    await gateway.setWeights(MODEL, { stable: 50, candidate: 50 });

    await gateway.promote(MODEL, "v2");
    expect(storedRoute().spec.rules).toEqual([stableRule("v2"), weightedRule(ref("v2", 100))]);
    expect(await gateway.describe(MODEL)).toEqual({
      model: MODEL,
      backends: [
        { variant: "stable", version: "v2", weight: 100, handle: handle("v2") },
        { variant: "stable", version: "v1", weight: 0, handle: handle("v1") },
      ],
    });

    await gateway.promote(MODEL, "v1");
    expect(storedRoute().spec.rules).toEqual([stableRule("v1"), weightedRule(ref("v1", 100))]);
    await gateway.removeBackend(MODEL, "v2");
    expect(await gateway.describe(MODEL)).toEqual({
      model: MODEL,
      backends: [{ variant: "stable", version: "v1", weight: 100, handle: handle("v1") }],
    });
  });

  it("gives a removed candidate's share back to the stable, which then serves 100%", async () => {
    const gateway = gatewayWith();
    await releaseFirstVersion(gateway);
    await gateway.register(MODEL, handle("v2"));
    await gateway.setWeights(MODEL, { stable: 75, candidate: 25 });

    await gateway.removeBackend(MODEL, "v2");

    expect(storedRoute().spec.rules).toEqual([stableRule("v1"), weightedRule(ref("v1", 100))]);
  });

  it("deletes the route when its last version is removed, and removing again changes nothing", async () => {
    const gateway = gatewayWith();
    await gateway.register(MODEL, handle("v1"));

    await gateway.removeBackend(MODEL, "v1");
    await gateway.removeBackend(MODEL, "v1");

    expect(server.object("httproutes", "models", MODEL)).toBeUndefined();
    expect(writes()).toEqual(["POST", "DELETE"]);
    expect(await gateway.describe(MODEL)).toBeUndefined();
  });

  it("writes nothing when a call is repeated (a retried stage)", async () => {
    const gateway = gatewayWith();
    await releaseFirstVersion(gateway);
    await gateway.register(MODEL, handle("v2"));
    const before = writes().length;

    await gateway.register(MODEL, handle("v2"));
    await gateway.promote(MODEL, "v1");

    expect(writes()).toHaveLength(before);
  });

  describe("a sticky rollout", () => {
    const byHeader = { sessionName: "x-session-id", type: "Header" };
    /** A stack whose gateway implements HTTPRoute session persistence. */
    const keepingSessions = () =>
      gatewayWith({
        ...DEFAULT_STACK_CONFIG,
        gateway: { ...DEFAULT_STACK_CONFIG.gateway, sessionPersistence: true },
      });

    it("is refused, writing nothing, on a stack whose gateway is not set up to keep sessions", async () => {
      const gateway = gatewayWith();
      await releaseFirstVersion(gateway);
      const before = writes().length;

      await expect(gateway.register(MODEL, handle("v2"), { header: "x-session-id" })).rejects.toMatchObject({
        name: "GatewayFailed",
        message: expect.stringContaining("gateway.sessionPersistence is false"),
        hint: expect.stringContaining("set gateway.sessionPersistence: true in the stack config"),
      });
      await expect(
        gateway.setWeights(MODEL, { stable: 50, candidate: 50 }, { cookie: "chat" }),
      ).rejects.toMatchObject({ name: "GatewayFailed" });
      expect(writes()).toHaveLength(before);
    });

    it("puts Gateway API session persistence on the weighted rule from its register to its promotion", async () => {
      const gateway = keepingSessions();
      await releaseFirstVersion(gateway);
      const stickiness = { header: "x-session-id" };

      await gateway.register(MODEL, handle("v2"), stickiness);
      expect(storedRoute().spec.rules).toEqual([
        candidateRule("v2"),
        stableRule("v1"),
        { ...weightedRule(ref("v1", 100)), sessionPersistence: byHeader },
      ]);
      await gateway.setWeights(MODEL, { stable: 75, candidate: 25 }, stickiness);
      expect(storedRoute().spec.rules?.[2]).toEqual({
        ...weightedRule(ref("v1", 75), ref("v2", 25)),
        sessionPersistence: byHeader,
      });
      expect((await gateway.describe(MODEL))?.stickiness).toEqual(stickiness);

      await gateway.promote(MODEL, "v2");
      expect(storedRoute().spec.rules).toEqual([stableRule("v2"), weightedRule(ref("v2", 100))]);
      expect(await gateway.describe(MODEL)).not.toHaveProperty("stickiness");
    });

    it("names a cookie session, with the session cookie lifetime the API server would default", async () => {
      const gateway = keepingSessions();
      await releaseFirstVersion(gateway);
      await gateway.register(MODEL, handle("v2"), { cookie: "chat" });
      await gateway.setWeights(MODEL, { stable: 50, candidate: 50 }, { cookie: "chat" });
      const before = writes().length;
      await gateway.setWeights(MODEL, { stable: 50, candidate: 50 }, { cookie: "chat" });

      expect(storedRoute().spec.rules?.[2]?.["sessionPersistence"]).toEqual({
        sessionName: "chat",
        type: "Cookie",
        cookieConfig: { lifetimeType: "Session" },
      });
      expect(writes()).toHaveLength(before);
    });

    it("takes the session persistence off on a rollback, so no session is held on the candidate", async () => {
      const gateway = keepingSessions();
      await releaseFirstVersion(gateway);
      await gateway.register(MODEL, handle("v2"), { header: "x-session-id" });
      await gateway.setWeights(MODEL, { stable: 25, candidate: 75 }, { header: "x-session-id" });

      await gateway.promote(MODEL, "v1");
      await gateway.removeBackend(MODEL, "v2");

      expect(storedRoute().spec.rules).toEqual([stableRule("v1"), weightedRule(ref("v1", 100))]);
    });

    it("refuses to go on when the cluster's HTTPRoute CRD drops the field (the standard channel's)", async () => {
      const gateway = keepingSessions();
      await releaseFirstVersion(gateway);
      server.prune = (_kind, route) => {
        for (const rule of (route.spec as HttpRoute["spec"]).rules ?? []) delete rule.sessionPersistence;
      };

      const registering = gateway.register(MODEL, handle("v2"), { header: "x-session-id" });
      await expect(registering).rejects.toMatchObject({
        name: "GatewayFailed",
        message: expect.stringContaining(
          "The cluster dropped the session persistence (header x-session-id) modelship wrote on HTTPRoute models/llama-3-8b",
        ),
        hint: expect.stringContaining("experimental channel (v1.1 or later)"),
      });
      // Without stickiness the same cluster is fine.
      await gateway.register(MODEL, handle("v2"));
    });
  });

  describe("a shadow", () => {
    const { weight: _none, ...mirrorRef } = ref("v2", 1);
    const mirrorFilter = (percent: number) => ({
      type: "RequestMirror",
      requestMirror: { backendRef: mirrorRef, percent },
    });

    it("puts a RequestMirror filter with its percent on the weighted rule, and takes it off when the shadow ends", async () => {
      const gateway = gatewayWith();
      await releaseFirstVersion(gateway);
      await gateway.register(MODEL, handle("v2"));

      await gateway.mirror(MODEL, { version: "v2", percent: 20 });
      expect(storedRoute().spec.rules).toEqual([
        candidateRule("v2"),
        stableRule("v1"),
        { ...weightedRule(ref("v1", 100)), filters: [mirrorFilter(20)] },
      ]);
      expect((await gateway.describe(MODEL))?.mirror).toEqual({ version: "v2", percent: 20 });

      await gateway.mirror(MODEL, undefined);
      expect(storedRoute().spec.rules).toEqual([
        candidateRule("v2"),
        stableRule("v1"),
        weightedRule(ref("v1", 100)),
      ]);
      expect(await gateway.describe(MODEL)).not.toHaveProperty("mirror");
    });

    it("keeps the other filters of the rule, and writes nothing when the mirror is set again", async () => {
      const gateway = gatewayWith();
      await releaseFirstVersion(gateway);
      await gateway.register(MODEL, handle("v2"));
      const header = {
        type: "RequestHeaderModifier",
        requestHeaderModifier: { set: [{ name: "x-a", value: "b" }] },
      };
      editRoute((route) => {
        const weighted = route.spec.rules?.at(-1);
        if (weighted) weighted["filters"] = [header];
      });
      await gateway.mirror(MODEL, { version: "v2", percent: 20 });
      const before = writes().length;

      await gateway.mirror(MODEL, { version: "v2", percent: 20 });
      expect(writes().length).toBe(before);
      expect(storedRoute().spec.rules?.at(-1)?.["filters"]).toEqual([header, mirrorFilter(20)]);
    });

    it("is ended by a rollback: the stable promoted again and the candidate removed", async () => {
      const gateway = gatewayWith();
      await releaseFirstVersion(gateway);
      await gateway.register(MODEL, handle("v2"));
      await gateway.mirror(MODEL, { version: "v2", percent: 100 });

      await gateway.promote(MODEL, "v1");
      await gateway.removeBackend(MODEL, "v2");
      expect(storedRoute().spec.rules).toEqual([stableRule("v1"), weightedRule(ref("v1", 100))]);
    });

    it("refuses to mirror to a version that is not the candidate on the route, writing nothing", async () => {
      const gateway = gatewayWith();
      await releaseFirstVersion(gateway);
      const before = writes().length;
      await expect(gateway.mirror(MODEL, { version: "v2", percent: 20 })).rejects.toMatchObject({
        name: "GatewayFailed",
        message: expect.stringContaining("v2 is not the candidate on the route"),
      });
      expect(writes().length).toBe(before);
    });

    it("takes the mirror off again and refuses when the cluster drops its percent (a CRD older than v1.3 would mirror every request)", async () => {
      const gateway = gatewayWith();
      await releaseFirstVersion(gateway);
      await gateway.register(MODEL, handle("v2"));
      server.prune = (_kind, route) => {
        for (const rule of (route.spec as HttpRoute["spec"]).rules ?? []) {
          for (const filter of rule.filters ?? []) delete filter.requestMirror?.percent;
        }
      };

      await expect(gateway.mirror(MODEL, { version: "v2", percent: 20 })).rejects.toMatchObject({
        name: "GatewayFailed",
        message: expect.stringContaining("without its percent (20%)"),
        hint: expect.stringContaining("v1.3.0 or later"),
      });
      expect(storedRoute().spec.rules?.at(-1)).toEqual(weightedRule(ref("v1", 100)));
    });
  });

  it("applies its change again to the route as it is now when someone edited it in between, keeping their edit", async () => {
    const gateway = gatewayWith();
    await releaseFirstVersion(gateway);
    await gateway.register(MODEL, handle("v2"));
    server.beforeNext("PUT", ROUTE_PATH, () =>
      editRoute((route) => {
        route.metadata.annotations!["argocd.argoproj.io/tracking-id"] =
          "platform:gateway.networking.k8s.io/HTTPRoute";
        route.spec.rules![2]!.timeouts = { request: "300s" };
        route.spec.rules!.push({
          matches: [{ path: { type: "PathPrefix", value: "/admin" } }],
          backendRefs: [{ group: "", kind: "Service", name: "admin", port: 80, weight: 1 }],
        });
      }),
    );

    await gateway.setWeights(MODEL, { stable: 75, candidate: 25 });

    const route = storedRoute();
    expect(route.metadata.annotations?.["argocd.argoproj.io/tracking-id"]).toBe(
      "platform:gateway.networking.k8s.io/HTTPRoute",
    );
    expect(route.spec.rules).toEqual([
      candidateRule("v2"),
      stableRule("v1"),
      { ...weightedRule(ref("v1", 75), ref("v2", 25)), timeouts: { request: "300s" } },
      {
        matches: [{ path: { type: "PathPrefix", value: "/admin" } }],
        backendRefs: [{ group: "", kind: "Service", name: "admin", port: 80, weight: 1 }],
      },
    ]);
    expect(writes().slice(-2)).toEqual(["PUT", "PUT"]);
  });

  it("gives up with Transient after a bounded number of conflicts, never overwriting the other writer", async () => {
    const gateway = new HttpRouteGateway({ config: DEFAULT_STACK_CONFIG, connection, maxAttempts: 3 });
    await releaseFirstVersion(gateway);
    await gateway.register(MODEL, handle("v2"));
    for (let i = 0; i < 3; i++) {
      server.beforeNext("PUT", ROUTE_PATH, () =>
        editRoute((route) => {
          route.metadata.annotations!["example.com/edits"] = String(i + 1);
        }),
      );
    }

    await expect(gateway.setWeights(MODEL, { stable: 95, candidate: 5 })).rejects.toMatchObject({
      name: "Transient",
      reason: `HTTPRoute models/${MODEL} changed while modelship tried to set the weights of ${MODEL} to stable 95 / candidate 5, 3 times in a row; nothing was overwritten.`,
    });
    expect(storedRoute().metadata.annotations?.["example.com/edits"]).toBe("3");
    expect(storedRoute().spec.rules?.[2]).toEqual(weightedRule(ref("v1", 100)));
  });

  it("adds its rules to a route the platform team created, keeping their rules and parents", async () => {
    const theirRule = {
      matches: [{ path: { type: "PathPrefix", value: "/healthz" } }],
      backendRefs: [{ group: "", kind: "Service", name: "gateway-health", port: 8080, weight: 1 }],
    };
    const theirParent = {
      group: "gateway.networking.k8s.io",
      kind: "Gateway",
      name: "internal",
      namespace: "gateway",
    };
    server.seed("httproutes", "models", {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: MODEL, namespace: "models", resourceVersion: "7", labels: { team: "platform" } },
      spec: { parentRefs: [theirParent], hostnames: ["llm.example.com"], rules: [theirRule] },
    });

    await gatewayWith().register(MODEL, handle("v1"));

    const route = storedRoute();
    expect(route.metadata.labels).toEqual({
      team: "platform",
      "app.kubernetes.io/managed-by": "modelship",
      "modelship.io/model": MODEL,
    });
    expect(route.spec).toEqual({
      parentRefs: [
        theirParent,
        {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: "inference-gateway",
          namespace: "gateway",
        },
      ],
      hostnames: ["llm.example.com"],
      rules: [candidateRule("v1"), theirRule],
    });
  });

  it("matches on the path prefix alone when the stack names no model header, and attaches to the listener it names", async () => {
    const config: StackConfig = {
      ...DEFAULT_STACK_CONFIG,
      gateway: { ...DEFAULT_STACK_CONFIG.gateway, modelHeader: "", pathPrefix: "/llama/v1" },
      gatewayParent: { name: "edge", namespace: "infra", sectionName: "https" },
    };
    const gateway = gatewayWith(config);

    await gateway.register(MODEL, handle("v1"));
    await gateway.setWeights(MODEL, { stable: 0, candidate: 100 });

    const prefix = { type: "PathPrefix", value: "/llama/v1" };
    expect(storedRoute().spec).toEqual({
      parentRefs: [
        {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: "edge",
          namespace: "infra",
          sectionName: "https",
        },
      ],
      rules: [
        { matches: [{ path: prefix, headers: [variant("candidate")] }], backendRefs: [ref("v1", 1)] },
        { matches: [{ path: prefix }], backendRefs: [ref("v1", 100)] },
      ],
    });
  });

  it("refuses weights that do not add up to 100, naming them, and writes nothing", async () => {
    const gateway = gatewayWith();
    await releaseFirstVersion(gateway);
    await gateway.register(MODEL, handle("v2"));
    const before = writes().length;

    await expect(gateway.setWeights(MODEL, { stable: 90, candidate: 5 })).rejects.toMatchObject({
      name: "GatewayFailed",
      reason: `Cannot set the weights of ${MODEL}'s route: stable 90 + candidate 5 is not 100.`,
    });
    expect(writes()).toHaveLength(before);
  });

  it("refuses to register a new candidate while another one still takes traffic", async () => {
    const gateway = gatewayWith();
    await releaseFirstVersion(gateway);
    await gateway.register(MODEL, handle("v2"));
    await gateway.setWeights(MODEL, { stable: 75, candidate: 25 });

    await expect(gateway.register(MODEL, handle("v3"))).rejects.toMatchObject({
      name: "GatewayFailed",
      reason: `The route of ${MODEL} still sends 25% to candidate v2 (rollout ${MODEL}-v2-0a1b2c3d); v3 cannot replace it.`,
    });
  });

  it("says the cluster does not serve HTTPRoutes when the Gateway API is not installed", async () => {
    server.failNext("POST", ROUTE_PATH, 404);

    await expect(gatewayWith().register(MODEL, handle("v1"))).rejects.toMatchObject({
      name: "GatewayFailed",
      reason: `The cluster does not serve HTTPRoutes (gateway.networking.k8s.io/v1), so modelship cannot create HTTPRoute models/${MODEL} to register ${MODEL} v1.`,
    });
  });

  it("names the Kubernetes permissions on httproutes it needs when the API server forbids the call", async () => {
    server.failNext("GET", ROUTE_PATH, 403);

    const failure = gatewayWith().register(MODEL, handle("v1"));

    await expect(failure).rejects.toMatchObject({ name: "GatewayFailed" });
    await expect(failure).rejects.toThrow(
      /get, create, update and delete on httproutes\.gateway\.networking\.k8s\.io/,
    );
  });

  it("reports throttling and server errors as Transient, for the state machine to retry", async () => {
    const gateway = gatewayWith();
    await releaseFirstVersion(gateway);

    server.failNext("PUT", ROUTE_PATH, 429);
    await expect(gateway.register(MODEL, handle("v2"))).rejects.toMatchObject({ name: "Transient" });
    server.failNext("GET", ROUTE_PATH, 503);
    await expect(gateway.describe(MODEL)).rejects.toMatchObject({ name: "Transient" });
  });

  it("refuses a candidate that was not deployed on the cluster: there is no Service to route to", async () => {
    const { details: _details, ...local } = handle("v1");

    await expect(gatewayWith().register(MODEL, local)).rejects.toMatchObject({
      name: "GatewayFailed",
      reason: `${MODEL} v1 (models/${MODEL}-v1) was not deployed on EKS: its handle names no Service and port to route to.`,
    });
    expect(writes()).toEqual([]);
  });
});
