// The candidate the stress gate's tests load: its handle, and the speeds its test server (test/loadgen's
// StreamingServer) answers at — delays of tens of milliseconds at least where a test compares two speeds, so a
// scheduling hiccup on a busy machine does not double them.

import type { CandidateHandle } from "../../lib/ports";
import type { Reply } from "../loadgen/streaming-server";
import { ROLLOUT } from "./rollout-state";

/** ROLLOUT's candidate, deployed. */
export const STRESS_HANDLE: CandidateHandle = {
  id: "llama-v3-0a1b2c3d",
  model: ROLLOUT.model,
  version: ROLLOUT.version,
  rolloutId: ROLLOUT.id,
  servedName: "tiny",
  deployedAt: "2025-06-01T11:50:00.000Z",
};

/** Answers in a few milliseconds: far inside every SLO the passing tests set. */
export const FAST: Reply = {
  kind: "stream",
  ttftMs: 10,
  gapMs: 2,
  chunks: 4,
  usage: { prompt: 16, completion: 4 },
};

/** The stable's speed in a comparison: tens of ms. */
export const STEADY: Reply = {
  kind: "stream",
  ttftMs: 50,
  gapMs: 20,
  chunks: 4,
  usage: { prompt: 16, completion: 4 },
};

/** Every latency eight or more times STEADY's, its throughput a sixth. */
export const SLOW: Reply = {
  kind: "stream",
  ttftMs: 400,
  gapMs: 300,
  chunks: 4,
  usage: { prompt: 16, completion: 4 },
};
