// The local llama.cpp server process, one per candidate: an OpenAI-compatible HTTP server on 127.0.0.1 over a
// GGUF model (see launch.ts for how a parent starts it). It listens first and loads second, so `/health`
// says 503 while loading; if the model cannot be loaded it prints llama.cpp's messages and the error to
// stderr and exits 1; SIGTERM or SIGINT (and, with --exit-with-stdin, its parent going away) stop it.

import type { AddressInfo } from "node:net";
import { VllmMetricsRecorder } from "../../core/prometheus/vllm-metrics";
import { createLlamaHttpServer } from "./http-server";
import { LoadedModel } from "./loaded-model";
import { parseServerArgs, type ServerArgs, ServerArgsInvalid } from "./server-args";

const log = (line: string) => process.stderr.write(`${line}\n`);

function readArgs(): ServerArgs {
  try {
    return parseServerArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof ServerArgsInvalid)) throw error;
    log(error.message);
    process.exit(2);
  }
}

const args = readArgs();
let model: LoadedModel | undefined;
const server = createLlamaHttpServer({
  servedName: args.servedName,
  model: () => model,
  maxBodyBytes: args.maxBodyBytes,
  // process_start_time_seconds: a restarted server's counters start again, and the scrape can tell.
  metrics: new VllmMetricsRecorder(args.servedName, Math.round(Date.now() - process.uptime() * 1000) / 1000),
});

let stopping = false;
function stop(why: string): void {
  if (stopping) return;
  stopping = true;
  log(`stopping: ${why}`);
  server.close();
  server.closeAllConnections();
  // The process ends here; the OS frees the model's memory faster than disposing it piece by piece would.
  process.exit(0);
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
if (args.exitWithStdin) {
  process.stdin.on("end", () => stop("stdin closed: the parent process is gone"));
  process.stdin.on("error", () => stop("stdin failed: the parent process is gone"));
  process.stdin.resume();
}

try {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(args.port, "127.0.0.1", () => resolve());
  });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  log(`error: cannot listen on 127.0.0.1:${args.port}: ${code} ${(error as Error).message}`);
  process.exit(1);
}
const { port } = server.address() as AddressInfo;
console.log(`listening on http://127.0.0.1:${port}; loading ${args.modelPath}`);

try {
  model = await LoadedModel.load({
    modelPath: args.modelPath,
    threads: args.threads,
    ...(args.contextSize === undefined ? {} : { contextSize: args.contextSize }),
    log,
  });
} catch (error) {
  log(`error loading model: ${(error as Error).message}`);
  process.exit(1);
}
console.log(
  `ready: serving ${args.servedName} from ${args.modelPath} (context ${model.contextSize} tokens, ${args.threads} thread(s))`,
);
