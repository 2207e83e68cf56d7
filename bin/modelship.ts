// The modelship CLI. Each command lives in lib/cli/<command>.ts and exports `run(argv): Promise<number>`
// (the exit code: 0 ok, 1 the input is bad, 2 usage error). Loaded lazily so `--help` stays instant.

import { suggestNearest } from "../lib/core/suggest";

const commands: Record<
  string,
  { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }
> = {
  validate: {
    summary: "validate <folder | s3://bucket/prefix> [--json]   check a model folder before uploading it",
    load: () => import("../lib/cli/validate"),
  },
  init: {
    summary:
      "init <folder> [--force] [--schema <path | URL>]  write a commented modelship.yaml for a model folder",
    load: () => import("../lib/cli/init"),
  },
  schema: {
    summary:
      "schema [--out <file>]                         print the JSON Schema editors check modelship.yaml with",
    load: () => import("../lib/cli/schema"),
  },
  example: {
    summary:
      "example <dir> --format safetensors|gguf [--size tiny|small] [--seed N]  write a generated model to try things on",
    load: () => import("../lib/cli/example"),
  },
  bench: {
    summary:
      "bench <base-url> --model <name> [--concurrency N | --rate R] [--duration 60s] [--json]  load-test an OpenAI-compatible endpoint",
    load: () => import("../lib/cli/bench"),
  },
  run: {
    summary:
      "run <folder> --local                          run one rollout of a model folder on this machine",
    load: () => import("../lib/cli/run"),
  },
  local: {
    summary:
      "local [--home .modelship] [--port 8080]        the local control plane: gateway, bucket watcher, canaries, rollbacks",
    load: () => import("../lib/cli/local"),
  },
  status: {
    summary: "status [model] [--json] [--table NAME | --local]  what serves each model, with its alarms",
    load: () => import("../lib/cli/status"),
  },
  doctor: {
    summary:
      "doctor [--stack NAME] [--json]                 check a deployed stack's cluster and bucket before the first rollout",
    load: () => import("../lib/cli/doctor"),
  },
  rollback: {
    summary: 'rollback <model> [--reason "…"] [--bus NAME | --local]  roll the running rollout back',
    load: () => import("../lib/cli/rollback"),
  },
  promote: {
    summary:
      'promote <model> [--reason "…"] [--bus NAME | --local]  skip the running canary\'s remaining steps',
    load: () => import("../lib/cli/promote"),
  },
  abort: {
    summary: 'abort <model> [--reason "…"] [--bus NAME | --local]  stop the running rollout (a rollback)',
    load: () => import("../lib/cli/abort"),
  },
  approve: {
    summary:
      'approve <model> [--reason "…"] [--bus NAME | --local]  let a rollout waiting for approval go on',
    load: () => import("../lib/cli/approve"),
  },
  reject: {
    summary:
      'reject <model> [--reason "…"] [--bus NAME | --local]  reject a rollout waiting for approval (a rollback)',
    load: () => import("../lib/cli/reject"),
  },
  mcp: {
    summary:
      "mcp --local | --table NAME [--http]               modelship's tools for agents over the Model Context Protocol",
    load: () => import("../lib/cli/mcp"),
  },
  eval: {
    summary:
      "eval <base-url> --model <name> --suite <file.jsonl | sanity> [--compare stable.json] [--json]  score a served model on eval suites",
    load: () => import("../lib/cli/eval"),
  },
  forget: {
    summary:
      "forget <model> [--version V] --local           remove a model, or a version, that no longer serves from a local home",
    load: () => import("../lib/cli/forget"),
  },
  fault: {
    summary:
      "fault <model> --variant candidate|stable [--delay 800ms] [--abort 503] [--percent 50] [--clear]  inject a fault through the local gateway",
    load: () => import("../lib/cli/fault"),
  },
};

function usage(): string {
  const lines = Object.values(commands).map((c) => `  modelship ${c.summary}`);
  return ["Usage:", ...lines, "", "Run `modelship <command> --help` for a command's options."].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    const nearest = suggestNearest(name, Object.keys(commands));
    console.error(
      `modelship: unknown command '${name}'${nearest ? `: did you mean ${nearest}?` : "."}\n\n${usage()}`,
    );
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}

process.exitCode = await main(process.argv.slice(2));
