// The stack's defaults for what a manifest leaves unset — its serving settings, its gates, its rollout — as
// shipped. A stack overrides them (the ModelPipeline construct's `defaults`, the local config); the manifest
// schema states them in its descriptions (manifest-schema.ts), and config.ts types them as ManifestDefaults
// where the stack config takes them. They live here, below both, so the manifest imports no room above it.

export const MANIFEST_DEFAULTS = {
  serving: {
    runtime: "vllm",
    image: "vllm/vllm-openai:v0.11.0",
    gpus: "auto",
    maxModelLen: 8192,
    extraArgs: [],
    trustRemoteCode: false,
  },
  gates: {
    smoke: { enabled: true, prompts: [], rejectDegenerate: true },
    stress: {
      enabled: true,
      mode: "concurrency",
      concurrency: 16,
      rate: 4,
      burstiness: 1,
      durationSeconds: 120,
      warmupSeconds: 10,
      inputTokens: 512,
      outputTokens: 128,
      workers: 4,
      slo: { errorRate: 0.01 },
    },
    // One item in ten without an answer still leaves the score meaning something; more is a server problem.
    eval: { enabled: true, suites: [], maxErrorRate: 0.1 },
  },
  rollout: {
    steps: [5, 25, 50, 100],
    bakeSeconds: 600,
    watchSeconds: 1800,
    // Fifteen minutes: about what Karpenter takes to bring up a GPU node and pull a vLLM image onto it, so a
    // rollout that a new node would serve gets it; longer is a decision for the person, not the rollout.
    capacityWaitSeconds: 900,
    alarms: {
      latencyP95Ms: 2000,
      errorRate: 0.02,
      ttftP95Ms: undefined,
      vsStable: { latencyP95Ratio: 1.25, errorRateDelta: 0.01 },
      sources: { latencyP95Ms: "auto", errorRate: "auto", vsStable: "auto" },
      minRequests: 20,
      periodSeconds: 10,
      datapointsToAlarm: 3,
      evaluationPeriods: 3,
      treatMissingData: "notBreaching",
    },
    // A person's day: an approval nobody gives within 24 h rolls the rollout back.
    approval: { mode: "auto", at: "beforePromote", timeoutSeconds: 24 * 3600 },
  },
  evalSuite: { minScore: 0, maxRegression: 0.02 },
} as const;
