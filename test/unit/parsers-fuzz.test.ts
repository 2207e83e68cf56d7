// The fuzz suite: every parser that reads what a bucket holds (test/support/fuzz-targets.ts), its hostile
// corpus first, then a bounded number of generated inputs — few enough for CI on a busy 2-core machine
// (`npm run bench -- bench/fuzz.ts` runs the same targets many times longer). Each input must get an answer
// with findings capped per kind; across a target's whole run the heap must not keep what the inputs cost.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { FUZZ_TARGETS } from "../support/fuzz-targets";

/** Generated inputs per target in CI. */
const RUNS = 150;
/** What a target's run may leave on the heap: far above any cache, far below a leak of its inputs. */
const RETAINED_BYTES = 32 * 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

describe("the parsers under fuzzing", () => {
  it.each(FUZZ_TARGETS.map((target) => [target.name, target] as const))(
    "%s: answers every input, with findings capped per kind, and keeps nothing of it",
    async (_, target) => {
      gc();
      const before = process.memoryUsage().heapUsed;
      await target.run(RUNS);
      gc();
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(RETAINED_BYTES);
    },
  );
});
