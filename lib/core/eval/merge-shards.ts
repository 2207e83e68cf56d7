// Puts a suite's shard results back together (the MergeEval side of the Eval Map). The merge is exact:
// items are ordered by id, so merging the shards of a run equals the report of the same suite run in one
// piece. A missing, repeated or foreign shard is a flow bug, not a score, and stops the merge loudly.

import { scoreSuite, type ItemResult, type ShardDetail, type SuiteReport } from "./eval-results";

const collator = new Intl.Collator("en", { numeric: true });

/** "q2" before "q10"; ids the collator calls equal ("q1", "q01") in plain string order, so the order is total. */
function byId(a: ItemResult, b: ItemResult): number {
  return collator.compare(a.id, b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function mergeShardDetails(details: readonly ShardDetail[]): SuiteReport {
  const [first] = details;
  if (!first) throw new Error("There are no eval shard results to merge.");
  const { suite, shard } = first;
  const seen = new Set<number>();
  for (const detail of details) {
    if (detail.suite !== suite) {
      throw new Error(`Eval shards of different suites cannot be merged: '${suite}' and '${detail.suite}'.`);
    }
    if (detail.shard.of !== shard.of) {
      throw new Error(
        `Suite '${suite}' has shards of ${shard.of} and of ${detail.shard.of}; they come from different runs.`,
      );
    }
    if (!Number.isInteger(detail.shard.index) || detail.shard.index < 0 || detail.shard.index >= shard.of) {
      throw new Error(`Suite '${suite}': there is no shard ${detail.shard.index + 1} of ${shard.of}.`);
    }
    if (seen.has(detail.shard.index)) {
      throw new Error(`Suite '${suite}': shard ${detail.shard.index + 1} of ${shard.of} is there twice.`);
    }
    seen.add(detail.shard.index);
  }
  const missing = Array.from({ length: shard.of }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0) {
    throw new Error(
      `Suite '${suite}': shard${missing.length === 1 ? "" : "s"} ${missing.map((i) => i + 1).join(", ")} of ${shard.of} ${missing.length === 1 ? "is" : "are"} missing.`,
    );
  }
  const items: ItemResult[] = details.flatMap((d) => d.items).sort(byId);
  const repeated = items.find((item, i) => i > 0 && items[i - 1]!.id === item.id);
  if (repeated) throw new Error(`Suite '${suite}': item '${repeated.id}' is in more than one shard.`);
  return { score: scoreSuite(suite, items), items };
}
