import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Holds 127.0.0.1:8080 (the default gateway port) for the whole run: no test may bind a fixed port.
    globalSetup: ["test/setup/hold-default-port.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A 2-core machine: two workers keep CPU-bound suites (synth, llama.cpp) from starving each other.
    maxWorkers: 2,
  },
});
