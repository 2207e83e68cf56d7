// What the Prepare stage's tests share: llama v3's upload under PREPARE_PREFIX (its weights already in the
// bucket, the manifest written by each test), the stage's ports in memory — fresh for each test — and the two
// ways a test reads Prepare's answer: its result, or the ManifestInvalid it refuses the manifest with.

import { beforeEach, expect } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { ManifestInvalid } from "../../lib/core/errors";
import type { ExecutionInput } from "../../lib/core/rollout/rollout";
import { prepare } from "../../lib/pipeline/prepare";
import { FixedClock } from "./fixed-clock";
import { MemoryEvents } from "./memory-events";
import { MemoryObjectStore } from "./memory-object-store";
import { MemoryRolloutStore } from "./memory-rollout-store";

export const PREPARE_PREFIX = "models/llama/v3/";

/** The execution's input for llama v3, uploaded under PREPARE_PREFIX. */
export const PREPARE_INPUT: ExecutionInput = {
  rollout: {
    id: "llama-v3-0a1b2c3d",
    model: "llama",
    version: "v3",
    source: { bucket: "models-bucket", key: `${PREPARE_PREFIX}modelship.yaml`, prefix: PREPARE_PREFIX },
  },
};

type PrepareDeps = Parameters<typeof prepare>[1];

export interface PrepareBench {
  readonly objects: MemoryObjectStore;
  readonly store: MemoryRolloutStore;
  readonly events: MemoryEvents;
  readonly deps: PrepareDeps;
  /** Writes the upload's manifest. */
  manifest(yaml: string): Promise<void>;
  /** Prepare's refusal of the upload, which must be a ManifestInvalid. */
  rejection(): Promise<ManifestInvalid>;
}

/** Registers a beforeEach giving the bench fresh ports on `config`; read its fields inside the tests. */
export function prepareBench(config: StackConfig = DEFAULT_STACK_CONFIG): PrepareBench {
  let current: Pick<PrepareBench, "objects" | "store" | "events" | "deps"> | undefined;
  const now = () => {
    if (!current) throw new Error("The Prepare bench is set up in beforeEach: read it inside a test.");
    return current;
  };

  beforeEach(async () => {
    const objects = new MemoryObjectStore();
    const store = new MemoryRolloutStore();
    const events = new MemoryEvents();
    const clock = new FixedClock("2025-06-01T12:00:00.000Z");
    current = { objects, store, events, deps: { objects, store, events, clock, config } };
    await objects.put(`${PREPARE_PREFIX}model.gguf`, new Uint8Array(4096));
  });

  return {
    get objects() {
      return now().objects;
    },
    get store() {
      return now().store;
    },
    get events() {
      return now().events;
    },
    get deps() {
      return now().deps;
    },
    manifest: async (yaml) => {
      await now().objects.put(`${PREPARE_PREFIX}modelship.yaml`, yaml);
    },
    rejection: async () => {
      const error = await prepare(PREPARE_INPUT, now().deps).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ManifestInvalid);
      return error as ManifestInvalid;
    },
  };
}
