// The fuzz suite's long run: every target of test/support/fuzz-targets.ts — each parser that reads what a
// bucket holds, seeded with issue 10's hostile cases — with many more generated inputs than CI runs. Prints
// how many inputs each target answered and the seed of the run; a failing input throws with its
// counterexample and the seed that replays it (`FUZZ_SEED=<seed> npm run bench -- bench/fuzz.ts`).
// `FUZZ_RUNS` sets the inputs per target (default 5,000).

import { FUZZ_TARGETS } from "../test/support/fuzz-targets";

export async function bench(): Promise<void> {
  const runs = Number(process.env["FUZZ_RUNS"] ?? 5_000);
  const seed = Number(process.env["FUZZ_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
  if (!Number.isSafeInteger(runs) || runs < 1 || !Number.isSafeInteger(seed)) {
    throw new Error("FUZZ_RUNS must be a positive integer and FUZZ_SEED an integer.");
  }
  console.log(`fuzz: ${runs} generated inputs per parser after its hostile corpus, seed ${seed}`);
  for (const target of FUZZ_TARGETS) {
    await target.run(runs, seed);
    console.log(`  ${target.name}: ${runs} inputs answered, findings capped per kind`);
  }
}
