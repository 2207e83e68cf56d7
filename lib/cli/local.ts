// `modelship local`: the local control plane in the foreground — the AWS stack on one machine. It serves
// every released model through one OpenAI-compatible gateway, starts a rollout for each manifest written
// into the local bucket, runs canaries with their alarms and rolls back on its own, and takes the CLI's
// `--local` commands. Each state and event is printed as one line; Ctrl-C stops everything it started.

import { resolve } from "node:path";
import { ControlPlaneRunning, startControlPlane } from "../local/control-plane";
import { GatewayPortInUse } from "../local/gateway/local-gateway";
import type { StateTransition } from "../local/executor";
import { LOGIN_TOKEN_TTL_MS } from "../local/console/console-auth";
import { localPaths } from "../local/runtime";
import { runCliCommand, UsageError } from "./cli-command";
import { describeLocalConfigInvalid } from "./local-config-error";
import { HomeInvalid, StateFileInvalid } from "../local/state-file-invalid";
import { parseCommandLine } from "./command-line";

const USAGE = `Usage: modelship local [--home .modelship] [--port N] [--time-factor F]

Runs the local control plane in the foreground: one OpenAI-compatible gateway for every model it serves,
a rollout for each manifest copied into the local bucket (<home>/bucket/models/<name>/<version>/, the
manifest last), canaries with alarms that roll back on their own, and the --local side of
\`modelship status|rollback|promote|abort|fault\` and \`modelship run\`.

  --home DIR         the local runtime's folder (default .modelship)
  --port N           the gateway's port (default: local.gatewayPort in <home>/config.json, else 8080; 0 = any free)
  --time-factor F    scale waits (bakes, watch) and retry pauses: 1 = real time (default), 0.1 = 10× faster

Stop it with Ctrl-C: rollouts still running are rolled back, and every server it started is stopped.

Exit status: 0 stopped, 1 bad config or a control plane already runs for this home, 2 usage error.`;

/** Transitions worth a line: Task and Wait states, not the flow's Choice and Pass plumbing. */
const SHOWN_STATE_TYPES = new Set(["Task", "Map", "Wait"]);

export function run(argv: string[]): Promise<number> {
  return runCliCommand(
    {
      name: "local",
      usage: USAGE,
      refusals: [ControlPlaneRunning, GatewayPortInUse, HomeInvalid, StateFileInvalid],
      describe: describeLocalConfigInvalid,
    },
    () => local(argv),
  );
}

async function local(argv: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args: argv,
    options: {
      home: { type: "string", default: ".modelship" },
      port: { type: "string" },
      "time-factor": { type: "string", default: "1" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const timeFactor = Number(values["time-factor"]);
  if (!Number.isFinite(timeFactor) || timeFactor < 0) {
    throw new UsageError(`--time-factor must be a number ≥ 0, got '${values["time-factor"]}'.`);
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`--port must be a port number from 0 to 65535, got '${values.port}'.`);
  }

  const home = resolve(values.home);
  const stamp = () => new Date().toISOString().slice(11, 19);
  const controlPlane = await startControlPlane({
    home,
    timeFactor,
    ...(port === undefined ? {} : { port }),
    onTransition: (executionId, transition) => {
      const line = transitionLine(transition);
      if (line) console.log(`${stamp()} ${executionId.replace(/^local:/, "")}  ${line}`);
    },
    onEvent: (event) => console.log(`${stamp()} ● ${event.detailType}: ${event.detail.message}`),
    onExecutionEnd: (executionId, result) =>
      console.log(
        `${stamp()} ${executionId.replace(/^local:/, "")}  ${result.status === "SUCCEEDED" ? "✔ shipped" : `✖ ${result.status === "FAILED" ? `${result.error.Error}` : result.status}`}`,
      ),
    log: (message) => console.error(`${stamp()} ! ${message}`),
  });
  const paths = localPaths(home);
  console.log(
    [
      `modelship control plane for ${home} (pid ${process.pid})`,
      `  gateway   ${controlPlane.url}/v1   (OpenAI-compatible; the request's "model" picks the model)`,
      `  bucket    ${paths.bucket}/models/<name>/<version>/   (copy the weights, then the manifest)`,
      `  events    ${paths.events}`,
      `  console   ${controlPlane.consoleLoginUrl()}`,
      `            (the web console: this link signs a browser in once, within ${LOGIN_TOKEN_TTL_MS / 60000} minutes)`,
      ...controlPlane.runtime.restored.map((line) => `  restored  ${line}`),
      "Ctrl-C to stop.",
    ].join("\n"),
  );

  await new Promise<void>((done) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      console.error(`\n${signal}: stopping — rolling back what runs, stopping every server…`);
      process.once("SIGINT", () => {
        console.error("SIGINT again: quitting at once.");
        process.exit(130);
      });
      void controlPlane.close().finally(done);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  console.log("Stopped.");
  return 0;
}

function transitionLine(t: StateTransition): string | undefined {
  if (!SHOWN_STATE_TYPES.has(t.stateType) || t.iteration !== undefined) return undefined;
  switch (t.type) {
    case "entered":
      return `▶ ${t.state}${t.wait ? ` (${t.wait.seconds}s${t.wait.scaledSeconds !== t.wait.seconds ? `, scaled to ${t.wait.scaledSeconds}s` : ""})` : ""}`;
    case "failed":
      return `✖ ${t.state}: ${t.error?.Error ?? "failed"}`;
    case "retried":
      return `↻ ${t.state} again in ${t.retryDelaySeconds ?? 0}s`;
    default:
      return undefined;
  }
}
