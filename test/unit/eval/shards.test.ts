import { describe, expect, it } from "vitest";
import type { ItemResult, ShardDetail } from "../../../lib/core/eval/eval-results";
import { mergeShardDetails } from "../../../lib/core/eval/merge-shards";
import { shardCount, shardItems } from "../../../lib/core/eval/shard";

const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `item-${i}` }));

function result(id: string, verdict: ItemResult["verdict"] = "correct"): ItemResult {
  return { id, scorer: "exact", prompt: { prompt: id }, expected: "x", verdict, latencyMs: 1, attempts: 1 };
}

describe("shardItems", () => {
  it("splits a suite into shards that do not overlap and together are the whole suite", () => {
    const items = ids(500);
    const shards = Array.from({ length: 7 }, (_, index) => shardItems(items, { index, of: 7 }));
    const all = shards.flat().map((i) => i.id);
    expect(new Set(all).size).toBe(500);
    expect(all.sort()).toEqual(items.map((i) => i.id).sort());
    for (const shard of shards) expect(shard.length).toBeGreaterThan(40);
  });

  it("puts an item in the same shard whatever the order and the other items", () => {
    const items = ids(200);
    const shuffled = [...items].reverse();
    const subset = items.filter((_, i) => i % 3 === 0);
    const shardOf = (list: { id: string }[], id: string) =>
      [0, 1, 2, 3].find((index) => shardItems(list, { index, of: 4 }).some((i) => i.id === id));
    for (const { id } of subset) {
      expect(shardOf(shuffled, id)).toBe(shardOf(items, id));
      expect(shardOf(subset, id)).toBe(shardOf(items, id));
    }
  });

  it("refuses a shard that does not exist", () => {
    expect(() => shardItems(ids(3), { index: 3, of: 3 })).toThrow("There is no shard 3 of 3");
    expect(() => shardItems(ids(3), { index: 0, of: 0 })).toThrow("Not a shard");
  });
});

describe("shardCount", () => {
  it("gives enough shards for the shard size, and at least one", () => {
    expect(shardCount(0, 50)).toBe(1);
    expect(shardCount(50, 50)).toBe(1);
    expect(shardCount(51, 50)).toBe(2);
    expect(shardCount(12_032, 50)).toBe(241);
  });
});

describe("mergeShardDetails", () => {
  const detail = (index: number, of: number, items: ItemResult[], suite = "demo"): ShardDetail => ({
    suite,
    shard: { index, of },
    items,
  });

  it("orders the items by id, numbers by value, and scores the whole suite", () => {
    const merged = mergeShardDetails([
      detail(1, 2, [result("q10"), result("q2", "wrong")]),
      detail(0, 2, [result("q1", "error"), result("q3")]),
    ]);
    expect(merged.items.map((i) => i.id)).toEqual(["q1", "q2", "q3", "q10"]);
    expect(merged.score).toMatchObject({
      suite: "demo",
      items: 4,
      correct: 2,
      wrong: 1,
      errors: 1,
      score: 0.5,
    });
  });

  it("refuses a missing shard, a repeated one, another suite's, and an item in two shards", () => {
    expect(() => mergeShardDetails([detail(0, 3, []), detail(2, 3, [])])).toThrow("shard 2 of 3 is missing");
    expect(() => mergeShardDetails([detail(0, 2, []), detail(0, 2, [])])).toThrow(
      "shard 1 of 2 is there twice",
    );
    expect(() => mergeShardDetails([detail(0, 2, []), detail(1, 2, [], "other")])).toThrow(
      "different suites",
    );
    expect(() => mergeShardDetails([detail(0, 2, [result("a")]), detail(1, 2, [result("a")])])).toThrow(
      "item 'a' is in more than one shard",
    );
    expect(() => mergeShardDetails([])).toThrow("no eval shard results");
  });
});
