// The local gateway's routes keep the Gateway port's rules as the EKS HTTPRoute adapter does — a candidate
// joins at weight 0, weights are whole percents adding up to 100, a promotion keeps the old stable warm for a
// rollback during the watch, a sticky rollout's key lasts as long as its split — and survive a restart of the control plane through `<home>/gateway.json`.

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CandidateHandle } from "../../lib/core/candidate";
import { GatewayFailed } from "../../lib/core/errors";
import { seededRandom } from "../../lib/examples/seeded-random";
import { LocalGateway } from "../../lib/local/gateway/local-gateway";
import { gatewayBench } from "./gateway-bench";
import { endpointOf } from "./gateway-upstream";

const { gateways, ...bench } = gatewayBench("modelship-gateway-routes-", { random: seededRandom(1) });

const openGateway = (home?: string) => bench.openGateway({ home });

function handle(version: string, port = 1): CandidateHandle {
  return {
    id: `local-chat-${version}`,
    model: "chat",
    version,
    rolloutId: `chat-${version}-abcdef01`,
    servedName: "chat",
    deployedAt: "2026-01-01T00:00:00.000Z",
    details: { port },
  };
}

/** `version variant weight` of each backend, in the port's order. */
async function backends(gateway: LocalGateway, model = "chat"): Promise<string[] | undefined> {
  return (await gateway.describe(model))?.backends.map((b) => `${b.version} ${b.variant} ${b.weight}`);
}

describe("LocalGateway routes", () => {
  it("creates a model's route on its first register, with the version at weight 0", async () => {
    const gateway = await openGateway();
    expect(await gateway.describe("chat")).toBeUndefined();
    await gateway.register("chat", handle("v1"));
    expect(await gateway.describe("chat")).toEqual({
      model: "chat",
      backends: [{ variant: "candidate", version: "v1", weight: 0, handle: handle("v1") }],
    });
  });

  it("walks a canary: register, shift weights, promote, then finalize by removing the old stable", async () => {
    const gateway = await openGateway();
    await gateway.register("chat", handle("v1"));
    await gateway.promote("chat", "v1");
    expect(await backends(gateway)).toEqual(["v1 stable 100"]);

    await gateway.register("chat", handle("v2"));
    expect(await backends(gateway)).toEqual(["v1 stable 100", "v2 candidate 0"]);
    await gateway.setWeights("chat", { stable: 75, candidate: 25 });
    expect(await backends(gateway)).toEqual(["v1 stable 75", "v2 candidate 25"]);

    await gateway.promote("chat", "v2");
    // The old stable stays on the route, warm, carrying nothing: shown as a weight-0 stable, as on EKS.
    expect(await backends(gateway)).toEqual(["v2 stable 100", "v1 stable 0"]);
    await gateway.removeBackend("chat", "v1");
    expect(await backends(gateway)).toEqual(["v2 stable 100"]);
  });

  it("rolls back during the watch by promoting the previous stable, still warm", async () => {
    const gateway = await openGateway();
    await gateway.register("chat", handle("v1"));
    await gateway.promote("chat", "v1");
    await gateway.register("chat", handle("v2"));
    await gateway.promote("chat", "v2");
    await gateway.promote("chat", "v1");
    expect(await backends(gateway)).toEqual(["v1 stable 100", "v2 stable 0"]);
    await gateway.removeBackend("chat", "v2");
    expect(await backends(gateway)).toEqual(["v1 stable 100"]);
  });

  it("gives a removed version's share to what remains, and removes a route left empty", async () => {
    const gateway = await openGateway();
    await gateway.register("chat", handle("v1"));
    await gateway.promote("chat", "v1");
    await gateway.register("chat", handle("v2"));
    await gateway.setWeights("chat", { stable: 50, candidate: 50 });
    await gateway.removeBackend("chat", "v2");
    expect(await backends(gateway)).toEqual(["v1 stable 100"]);
    await gateway.removeBackend("chat", "v9");
    await gateway.removeBackend("chat", "v1");
    expect(await gateway.describe("chat")).toBeUndefined();
    await gateway.removeBackend("chat", "v1");
  });

  it("keeps a candidate's weight when it registers again, and refuses to replace one carrying traffic", async () => {
    const gateway = await openGateway();
    await gateway.register("chat", handle("v1"));
    await gateway.promote("chat", "v1");
    await gateway.register("chat", handle("v2"));
    await gateway.setWeights("chat", { stable: 90, candidate: 10 });
    await gateway.register("chat", { ...handle("v2"), id: "redeployed" });
    expect((await gateway.describe("chat"))?.backends[1]).toMatchObject({
      weight: 10,
      handle: { id: "redeployed" },
    });
    await expect(gateway.register("chat", handle("v3"))).rejects.toThrow("still sends 10% to candidate v2");
    await expect(gateway.register("chat", handle("v1"))).rejects.toThrow(GatewayFailed);
  });

  it("replaces a candidate that carries no traffic", async () => {
    const gateway = await openGateway();
    await gateway.register("chat", handle("v1"));
    await gateway.promote("chat", "v1");
    await gateway.register("chat", handle("v2"));
    await gateway.register("chat", handle("v3"));
    expect(await backends(gateway)).toEqual(["v1 stable 100", "v3 candidate 0"]);
  });

  it("refuses weights that are not two whole percents adding up to 100, naming every problem", async () => {
    const gateway = await openGateway();
    await gateway.register("chat", handle("v1"));
    await expect(gateway.setWeights("chat", { stable: 10, candidate: 80 })).rejects.toThrow(
      "stable 10 + candidate 80 is not 100",
    );
    await expect(gateway.setWeights("chat", { stable: 2.5, candidate: 97.5 })).rejects.toThrow(
      "stable is 2.5, not a whole percent from 0 to 100; candidate is 97.5",
    );
    await expect(gateway.setWeights("chat", { stable: 50, candidate: 50 })).rejects.toThrow(
      "chat has no stable version to send traffic to",
    );
    await expect(gateway.setWeights("other", { stable: 100, candidate: 0 })).rejects.toThrow(
      "other has no route",
    );
    expect(await backends(gateway)).toEqual(["v1 candidate 0"]);
  });

  it("keeps a sticky rollout's key from its register through its weight changes, and drops it with the promotion", async () => {
    const gateway = await openGateway();
    await gateway.register("chat", handle("v1"));
    await gateway.promote("chat", "v1");
    const stickiness = { header: "x-session-id" };
    await gateway.register("chat", handle("v2"), stickiness);
    expect((await gateway.describe("chat"))?.stickiness).toEqual(stickiness);
    await gateway.setWeights("chat", { stable: 75, candidate: 25 }, stickiness);
    expect((await gateway.describe("chat"))?.stickiness).toEqual(stickiness);
    await gateway.promote("chat", "v2");
    expect(await gateway.describe("chat")).not.toHaveProperty("stickiness");
  });

  it("drops the key when a weight change or a removal no longer carries it", async () => {
    const gateway = await openGateway();
    await gateway.register("chat", handle("v1"));
    await gateway.promote("chat", "v1");
    await gateway.register("chat", handle("v2"), { cookie: "chat" });
    await gateway.setWeights("chat", { stable: 75, candidate: 25 });
    expect(await gateway.describe("chat")).not.toHaveProperty("stickiness");
    await gateway.setWeights("chat", { stable: 50, candidate: 50 }, { cookie: "chat" });
    await gateway.removeBackend("chat", "v2");
    expect(await gateway.describe("chat")).not.toHaveProperty("stickiness");
  });

  it("refuses to promote a version that is not on the route", async () => {
    const gateway = await openGateway();
    await gateway.register("chat", handle("v1"));
    await expect(gateway.promote("chat", "v7")).rejects.toThrow(
      "chat v7 is not on the model's route (it has candidate v1)",
    );
  });
});

describe("LocalGateway persistence", () => {
  it("restores routes and faults after a restart, and serves them", async () => {
    const home = await bench.home();
    const server = await bench.upstream("v1-server");
    const first = await openGateway(home);
    await first.register("chat", server.handle("chat", "v1"));
    await first.promote("chat", "v1");
    await first.register("chat", handle("v2"));
    await first.setWeights("chat", { stable: 95, candidate: 5 }, { header: "x-session-id" });
    await first.setFault("chat", "candidate", { delay: { fixedDelayMs: 800, percentage: 50 } });
    const described = await first.describe("chat");
    expect(described?.stickiness).toEqual({ header: "x-session-id" });
    await gateways.splice(0)[0]?.close();

    const restarted = await openGateway(home);
    expect(await restarted.describe("chat")).toEqual(described);
    expect(restarted.faultOf("chat", "candidate")).toEqual({ delay: { fixedDelayMs: 800, percentage: 50 } });
    const answer = await fetch(`${restarted.url}/v1/chat/completions`, {
      method: "POST",
      body: '{"model":"chat"}',
      headers: { "x-modelship-variant": "stable" },
    });
    expect(await answer.json()).toMatchObject({ served: "v1-server" });
  });

  it("forgets a removed route's faults", async () => {
    const home = await bench.home();
    const first = await openGateway(home);
    await first.register("chat", handle("v1"));
    await first.setFault("chat", "candidate", { abort: { httpStatus: 503, percentage: 100 } });
    await first.removeBackend("chat", "v1");
    await first.register("chat", handle("v2"));
    expect(first.faultOf("chat", "candidate")).toBeUndefined();
    const saved = JSON.parse(await readFile(join(home, "gateway.json"), "utf8"));
    expect(saved).toMatchObject({ format: "modelship-gateway/1", faults: {} });
  });

  it("refuses a gateway.json that is not its own, listing what is wrong, and leaves it as it is", async () => {
    const home = await bench.home();
    const broken = JSON.stringify({
      format: "modelship-gateway/1",
      routes: {
        chat: { weights: { stable: 150, candidate: 0 }, stable: { id: 1 }, stickiness: { header: "a b" } },
      },
      faults: { chat: { canary: {}, stable: { abort: { httpStatus: 200 } } } },
    });
    await writeFile(join(home, "gateway.json"), broken);
    const opening = openGateway(home);
    await expect(opening).rejects.toThrow(/routes\.chat\.weights: expected/);
    await expect(opening).rejects.toThrow(/routes\.chat\.stable: expected a candidate handle/);
    await expect(opening).rejects.toThrow(
      /routes\.chat\.stickiness: expected \{"header": <name>\} or \{"cookie": <name>\}/,
    );
    await expect(opening).rejects.toThrow(/faults\.chat\.canary: unknown variant/);
    await expect(opening).rejects.toThrow(
      /faults\.chat\.stable: abort\.httpStatus: expected an HTTP error status/,
    );
    await expect(opening).rejects.toThrow("will not overwrite it");
    expect(await readFile(join(home, "gateway.json"), "utf8")).toBe(broken);

    await writeFile(join(home, "gateway.json"), "{not json");
    await expect(openGateway(home)).rejects.toThrow("is not valid JSON");
  });

  it("tells which port is taken when it cannot listen", async () => {
    const taken = await openGateway();
    await expect(
      LocalGateway.open({
        adminSecret: "not-used-by-these-tests",
        home: await bench.home(),
        port: taken.port,
        endpointOf,
      }),
    ).rejects.toThrow(
      `127.0.0.1:${taken.port}: the port is in use. Pass --port with a free port (0 = any), set local.gatewayPort`,
    );
  });
});
