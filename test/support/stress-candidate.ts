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

/** A streamed answer of four chunks (16 prompt tokens, 4 completion tokens) at the given delays. */
function streamed(ttftMs: number, gapMs: number): Reply {
  return { kind: "stream", ttftMs, gapMs, chunks: 4, usage: { prompt: 16, completion: 4 } };
}

/** Answers in a few milliseconds: far inside every SLO the passing tests set. */
export const FAST = streamed(10, 2);

/** The stable's speed in a comparison: tens of ms. */
export const STEADY = streamed(50, 20);

/**
 * Every latency fifteen or more times STEADY's, its throughput a sixth. The first token at 1 s: a stall of a
 * few hundred ms on a loaded machine, which inflates the stable's TTFT p95 (a max over a few requests), still
 * leaves SLOW more than 1.2× slower (at 400 ms a 300 ms stall did not).
 */
export const SLOW = streamed(1000, 300);
