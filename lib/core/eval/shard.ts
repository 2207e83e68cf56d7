// Splits a suite for the Eval Map: an item belongs to shard hash(id) mod `of`. The split depends only on
// the ids — not on the file's order or on the other items — so every Map iteration, retried or not,
// picks the same items, the shards never overlap, and together they are the whole suite.

import type { ShardRef } from "./eval-results";

/** The shard count for a suite of `items` items with at most `maxShardSize` per shard (on average). */
export function shardCount(items: number, maxShardSize: number): number {
  return Math.max(1, Math.ceil(items / Math.max(1, maxShardSize)));
}

export function shardItems<T extends { readonly id: string }>(items: readonly T[], shard: ShardRef): T[] {
  if (!Number.isInteger(shard.of) || shard.of < 1 || !Number.isInteger(shard.index)) {
    throw new Error(`Not a shard: ${shard.index} of ${shard.of}.`);
  }
  if (shard.index < 0 || shard.index >= shard.of) {
    throw new Error(
      `There is no shard ${shard.index} of ${shard.of}: shards are numbered 0 to ${shard.of - 1}.`,
    );
  }
  return items.filter((item) => fnv1a(item.id) % shard.of === shard.index);
}

/** 32-bit FNV-1a over the id's UTF-16 code units: fast, stable across runs and platforms, well mixed. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
