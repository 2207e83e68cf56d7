// `modelship fault <model> --variant candidate|stable [--delay 800ms] [--abort 503]
// [--server-delay 1500ms --min-prompt-tokens 100] [--percent 50] [--clear]`: injects a fault into the
// requests one variant of a model serves through the running local control plane's gateway (Istio-style: a
// delay and/or an abort on a share of the requests; or a delay the model's own server applies to long
// prompts, which its metrics — and real-traffic alarms — see), or clears it. It finds the control plane by
// `<home>/control-plane.json` and calls its admin API; a new fault replaces the old one.

import { resolve } from "node:path";
import { ControlPlaneClient, ControlPlaneRefused } from "../local/control-plane-client";
import { NoControlPlane } from "../local/control-plane-file";
import type { AdminFaultAnswer } from "../local/gateway/admin-api";
import type { Fault } from "../local/gateway/fault-injection";
import { runCliCommand, UsageError } from "./cli-command";
import { parseCommandLine } from "./command-line";

const USAGE = `Usage: modelship fault <model> --variant candidate|stable [--delay 800ms] [--abort 503] [--percent 50]
       modelship fault <model> --variant candidate|stable --server-delay 1500ms --min-prompt-tokens 100
       modelship fault <model> --variant candidate|stable --clear

Injects a fault into the requests that one variant of a model serves through the local gateway of the
running control plane (\`modelship local\`), to see the canary's alarms roll a slow or failing candidate back.
A new fault replaces the variant's previous one.

  --variant V              candidate or stable
  --delay D                hold the requests this long at the gateway before forwarding them (e.g. 800ms, 2s)
  --abort STATUS           answer the requests with this HTTP status (400–599) instead of forwarding them
  --server-delay D         have the model's server hold requests whose prompt has at least
                           --min-prompt-tokens tokens this long before their turn: slow long prompts, seen
                           by the server's own /metrics (real-traffic alarms), not by the prober's short chats
  --min-prompt-tokens N    with --server-delay: the prompt length from which requests are held
  --percent P              the share of requests affected, 0–100 (default 100)
  --clear                  remove the variant's fault
  --home DIR               the local runtime's folder (default .modelship)

Exit status: 0 done, 1 no control plane runs or it refused (e.g. an unknown model), 2 usage error.`;

export function run(argv: string[]): Promise<number> {
  return runCliCommand({ name: "fault", usage: USAGE, refusals: [NoControlPlane, ControlPlaneRefused] }, () =>
    faultCommand(argv),
  );
}

async function faultCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      variant: { type: "string" },
      delay: { type: "string" },
      abort: { type: "string" },
      "server-delay": { type: "string" },
      "min-prompt-tokens": { type: "string" },
      percent: { type: "string" },
      clear: { type: "boolean", default: false },
      home: { type: "string", default: ".modelship" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("give exactly one model name.");
  const model = positionals[0] as string;
  const variant = values.variant;
  if (variant !== "candidate" && variant !== "stable") {
    throw new UsageError(
      `--variant must be candidate or stable${variant === undefined ? "" : `, not '${variant}'`}.`,
    );
  }
  const fault = values.clear ? undefined : faultFrom(values);
  if (
    values.clear &&
    (values.delay ??
      values.abort ??
      values.percent ??
      values["server-delay"] ??
      values["min-prompt-tokens"]) !== undefined
  ) {
    throw new UsageError(
      "--clear removes the fault; it takes no --delay, --abort, --server-delay, --min-prompt-tokens or --percent.",
    );
  }

  const controlPlane = await ControlPlaneClient.connect(resolve(values.home));
  const path = `faults/${encodeURIComponent(model)}/${variant}`;
  const answer = await controlPlane.call<AdminFaultAnswer>(fault ? "PUT" : "DELETE", path, fault);
  const who = `${model} ${variant}${answer.version ? ` (${answer.version})` : " (no such backend now)"}`;
  console.log(fault ? `✔ ${who}: ${answer.description}.` : `✔ ${who}: fault cleared.`);
  return 0;
}

function faultFrom(values: {
  delay?: string;
  abort?: string;
  percent?: string;
  "server-delay"?: string;
  "min-prompt-tokens"?: string;
}): Fault {
  const serverDelay = values["server-delay"];
  const minPromptTokens = values["min-prompt-tokens"];
  if (values.delay === undefined && values.abort === undefined && serverDelay === undefined) {
    throw new UsageError("give --delay, --abort, --server-delay (or several), or --clear.");
  }
  if ((serverDelay === undefined) !== (minPromptTokens === undefined)) {
    throw new UsageError(
      "--server-delay and --min-prompt-tokens go together: the server holds prompts of at least that many tokens.",
    );
  }
  const percentage = values.percent === undefined ? 100 : Number(values.percent);
  if (values.percent !== undefined && !(/^\d+(\.\d+)?$/.test(values.percent) && percentage <= 100)) {
    throw new UsageError(`--percent must be a number from 0 to 100, not '${values.percent}'.`);
  }
  const fault: { delay?: Fault["delay"]; abort?: Fault["abort"]; serverDelay?: Fault["serverDelay"] } = {};
  if (values.delay !== undefined) fault.delay = { fixedDelayMs: parseDelay(values.delay), percentage };
  if (values.abort !== undefined) {
    const status = Number(values.abort);
    if (!/^\d{3}$/.test(values.abort) || status < 400 || status > 599) {
      throw new UsageError(`--abort must be an HTTP error status from 400 to 599, not '${values.abort}'.`);
    }
    fault.abort = { httpStatus: status, percentage };
  }
  if (serverDelay !== undefined && minPromptTokens !== undefined) {
    if (!/^\d{1,8}$/.test(minPromptTokens)) {
      throw new UsageError(`--min-prompt-tokens must be a whole number of tokens, not '${minPromptTokens}'.`);
    }
    fault.serverDelay = {
      fixedDelayMs: parseDelay(serverDelay, "--server-delay"),
      minPromptTokens: Number(minPromptTokens),
      percentage,
    };
  }
  return fault;
}

/** `800ms`, `2s`, `1.5s` → milliseconds. */
function parseDelay(text: string, flag = "--delay"): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text.trim());
  if (!match) throw new UsageError(`${flag} must be a duration like 800ms or 2s, not '${text}'.`);
  const ms = Number(match[1]) * (match[2] === "s" ? 1000 : 1);
  if (ms > 86_400_000) throw new UsageError(`${flag} must be at most a day, not '${text}'.`);
  return Math.round(ms);
}
