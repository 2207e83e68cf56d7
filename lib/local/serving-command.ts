// The command that starts a candidate's server on this machine: the built-in llama.cpp server on the
// model's GGUF file, or the stack's command template (`local.command`, e.g. `vllm serve {dir} --port {port}
// --served-model-name {name}`). A template is split into words first (quotes group words) and only then are
// `{dir}`, `{file}`, `{port}` and `{name}` replaced, each inside its own argv element: it never goes through
// a shell, so a folder or model name cannot inject anything.

import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { CandidateFailed } from "../core/errors";
import { type Command, llamaServerCommand } from "./llama-server/launch";

interface CandidateLaunch {
  /** The folder holding the version's weights. */
  readonly dir: string;
  readonly port: number;
  readonly servedName: string;
  readonly format: "safetensors" | "gguf";
  readonly contextSize: number;
  readonly threads: number;
}

interface CandidateCommand extends Command {
  /** The built-in server exits when its stdin closes (its parent is gone); a template's command reads none. */
  readonly stdin: "pipe" | "ignore";
}

const PLACEHOLDERS = ["dir", "file", "port", "name"] as const;
const SPLIT_GGUF = /-(\d{5})-of-(\d{5})\.gguf$/i;

export async function candidateCommand(template: string, launch: CandidateLaunch): Promise<CandidateCommand> {
  if (template.trim() === "") {
    if (launch.format !== "gguf") {
      throw new CandidateFailed(
        `The built-in llama.cpp server serves GGUF weights, and this model's are ${launch.format}.`,
        {
          hint: "Convert the model to GGUF, or set `local.command` in the local config.json to a server for these weights, e.g. `vllm serve {dir} --port {port} --served-model-name {name}`.",
        },
      );
    }
    const modelPath = await findGgufFile(launch.dir);
    return {
      ...llamaServerCommand({
        modelPath,
        port: launch.port,
        servedName: launch.servedName,
        threads: launch.threads,
        contextSize: launch.contextSize,
      }),
      stdin: "pipe",
    };
  }
  const words = splitCommandTemplate(template);
  const used = new Set(words.flatMap((word) => [...word.matchAll(/\{([^{}]*)\}/g)].map((match) => match[1])));
  const unknown = [...used].filter((name) => !PLACEHOLDERS.some((known) => known === name));
  if (unknown.length > 0) {
    throw new CandidateFailed(
      `The local serving command template uses ${unknown.map((name) => `{${name}}`).join(", ")}, which modelship does not fill in.`,
      { hint: `Use only ${PLACEHOLDERS.map((name) => `{${name}}`).join(", ")} in \`local.command\`.` },
    );
  }
  const values: Record<(typeof PLACEHOLDERS)[number], string> = {
    dir: launch.dir,
    file: used.has("file") ? await findGgufFile(launch.dir) : "",
    port: String(launch.port),
    name: launch.servedName,
  };
  const argv = words.map((word) =>
    word.replace(/\{(dir|file|port|name)\}/g, (_, name: keyof typeof values) => values[name]),
  );
  const [command = "", ...args] = argv;
  return { command, args, stdin: "ignore" };
}

/** Words separated by whitespace; single or double quotes group a word that holds spaces. */
function splitCommandTemplate(template: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: string | undefined;
  for (const char of template) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote !== undefined) {
    throw new CandidateFailed(
      `The local serving command template has an unclosed ${quote} quote: ${template}`,
      {
        hint: "Close the quote in `local.command` in the local config.json.",
      },
    );
  }
  if (inWord) words.push(word);
  return words;
}

/** The model's GGUF file in its folder: the only one, or the first shard of a split model. */
async function findGgufFile(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith(".gguf"))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter(
      (path) =>
        !relative(dir, path)
          .split(/[\\/]/)
          .some((segment) => segment.startsWith(".")),
    )
    .sort();
  const models = files.filter((path) => {
    const split = SPLIT_GGUF.exec(path);
    return !split || Number(split[1]) === 1;
  });
  const [only] = models;
  if (models.length === 1 && only !== undefined) return only;
  const listed = models.map((path) => relative(dir, path)).join(", ");
  throw new CandidateFailed(
    models.length === 0
      ? `There is no .gguf file in ${dir} for the llama.cpp server to load.`
      : `${dir} holds ${models.length} GGUF models (${listed}); the llama.cpp server loads one.`,
    {
      hint:
        models.length === 0
          ? "Upload the model's .gguf file (all shards of a split model) with the manifest."
          : "Keep one model per version folder: one .gguf file, or the shards of one split model.",
    },
  );
}
