// How a parent process starts the local llama.cpp server: with its own Node binary and tsx's loader passed
// by resolved URL, so the TypeScript entry runs unbuilt whether the parent itself runs under tsx, vitest or
// the `modelship` bin — and never through a shell. The server exits when its stdin closes, so the parent must
// give it a stdin pipe and keep it open: if the parent dies, even by SIGKILL, the server follows.

import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

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
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const entry = fileURLToPath(new URL("./main.ts", import.meta.url));
  return {
    command: process.execPath,
    args: [
      "--import",
      tsxLoader,
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
