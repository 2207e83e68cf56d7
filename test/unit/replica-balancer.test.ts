import { describe, expect, it } from "vitest";
import { ReplicaBalancer } from "../../lib/local/gateway/replica-balancer";

const replicas = ["a", "b", "c"];
const key = (replica: string) => replica;

describe("ReplicaBalancer", () => {
  it("sends a request to the replica with the fewest requests in flight", () => {
    const balancer = new ReplicaBalancer();
    const held = [balancer.pick("v1", replicas, key), balancer.pick("v1", replicas, key)];
    const busy = held.map((p) => p?.replica);
    expect(new Set(busy).size).toBe(2);
    const idle = replicas.find((r) => !busy.includes(r));
    expect(balancer.pick("v1", replicas, key)?.replica).toBe(idle);
    held[0]?.done();
    expect(balancer.pick("v1", replicas, key)?.replica).toBe(held[0]?.replica);
  });

  it("breaks ties round robin, so an idle version's requests go to every replica in turn", () => {
    const balancer = new ReplicaBalancer();
    const served = Array.from({ length: 6 }, () => {
      const picked = balancer.pick("v1", replicas, key);
      picked?.done();
      return picked?.replica;
    });
    expect(served).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  it("counts a request in flight until done, once, however often done is called", () => {
    const balancer = new ReplicaBalancer();
    const picked = balancer.pick("v1", ["a"], key);
    balancer.pick("v1", ["a"], key);
    expect(balancer.inFlightOf("a")).toBe(2);
    picked?.done();
    picked?.done();
    expect(balancer.inFlightOf("a")).toBe(1);
  });

  it("sends nothing to a replica left out of the set, and nothing at all to an empty one", () => {
    const balancer = new ReplicaBalancer();
    const picks = Array.from({ length: 4 }, () => balancer.pick("v1", ["a", "c"], key)?.replica);
    expect(picks).not.toContain("b");
    expect(balancer.pick("v1", [], key)).toBeUndefined();
  });
});
