import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A 2-core machine: two workers keep CPU-bound suites (synth, llama.cpp) from starving each other.
    maxWorkers: 2,
  },
});
