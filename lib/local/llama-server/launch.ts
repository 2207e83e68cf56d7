// How a parent process starts the local llama.cpp server: with its own Node binary, never through a shell.
// From a checkout the entry is TypeScript, run unbuilt with tsx's loader passed by resolved URL, whether the
// parent itself runs under tsx, vitest or the `modelship` bin; an installed package runs its compiled entry
// with plain Node (tsx is a development tool, not installed with the package). The server exits when its
// stdin closes, so the parent must give it a stdin pipe and keep it open: if the parent dies, even by
// SIGKILL, the server follows.

import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { RUNS_COMPILED } from "../../package-files";

interface LlamaServerLaunch {
  readonly modelPath: string;
  readonly port: number;
  readonly servedName: string;
  readonly threads: number;
  /** Tokens of context (lowered to what the model was trained for). */
  readonly contextSize: number;
}

export interface Command {
  readonly command: string;
  readonly args: readonly string[];
}

export function llamaServerCommand(launch: LlamaServerLaunch): Command {
  const entry = fileURLToPath(new URL(RUNS_COMPILED ? "./main.js" : "./main.ts", import.meta.url));
  const loader = RUNS_COMPILED
    ? []
    : ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href];
  return {
    command: process.execPath,
    args: [
      ...loader,
      entry,
      "--model",
      launch.modelPath,
      "--port",
      String(launch.port),
      "--name",
      launch.servedName,
      "--threads",
      String(launch.threads),
      "--context",
      String(launch.contextSize),
      "--exit-with-stdin",
    ],
  };
}
