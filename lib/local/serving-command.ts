// The command that starts a candidate's server on this machine: the built-in llama.cpp server on the
// model's GGUF file, or the stack's command template (`local.command`, e.g. `vllm serve {dir} --port {port}
// --served-model-name {name}`). A template is split into words first (quotes group words) and only then are
// `{dir}`, `{file}`, `{port}` and `{name}` replaced, each inside its own argv element: it never goes through
// a shell, so a folder or model name cannot inject anything.

import { join } from "node:path";
import { CandidateFailed } from "../core/errors";
import { unreadableEntryFinding } from "../core/weights/unreadable-entry";
import { FolderObjectStore } from "./folder-object-store";
import { type Command, llamaServerCommand } from "./llama-server/launch";

interface CandidateLaunch {
  /** The folder holding the version's weights. */
  readonly dir: string;
  /**
   * The same folder as the local bucket's folder and the version's prefix in it: the GGUF file is found
   * through the bucket's store, as Validate found it, so a link the store refuses is refused here too.
   */
  readonly weights: { readonly bucket: string; readonly prefix: string };
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
    const modelPath = await findGgufFile(launch.weights);
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
    file: used.has("file") ? await findGgufFile(launch.weights) : "",
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

/**
 * The model's GGUF file: the only one at the top of the version's folder, or the first shard of a split model
 * — the files Validate checked (it reads the top of the folder, skips hidden files, and refuses what the
 * store will not read, such as a link out of the bucket).
 */
async function findGgufFile(weights: CandidateLaunch["weights"]): Promise<string> {
  const dir = join(weights.bucket, weights.prefix);
  const prefix = weights.prefix.endsWith("/") ? weights.prefix : `${weights.prefix}/`;
  const gguf = (await new FolderObjectStore(weights.bucket).list(prefix)).filter((object) => {
    const name = object.key.slice(prefix.length);
    return !name.includes("/") && !name.startsWith(".") && name.toLowerCase().endsWith(".gguf");
  });
  const refused = gguf.filter((object) => object.unreadable !== undefined);
  const [firstRefused] = refused;
  if (firstRefused?.unreadable) {
    const finding = unreadableEntryFinding(firstRefused.key, firstRefused.unreadable, weights.bucket);
    throw new CandidateFailed(`${finding.file}: ${finding.message}`, {
      ...(finding.hint !== undefined && { hint: finding.hint }),
    });
  }
  const models = gguf
    .map((object) => object.key.slice(prefix.length))
    .filter((name) => {
      const split = SPLIT_GGUF.exec(name);
      return !split || Number(split[1]) === 1;
    });
  const [only] = models;
  if (models.length === 1 && only !== undefined) return join(dir, only);
  throw new CandidateFailed(
    models.length === 0
      ? `There is no .gguf file in ${dir} for the llama.cpp server to load.`
      : `${dir} holds ${models.length} GGUF models (${models.join(", ")}); the llama.cpp server loads one.`,
    {
      hint:
        models.length === 0
          ? "Upload the model's .gguf file (all shards of a split model) with the manifest."
          : "Keep one model per version folder: one .gguf file, or the shards of one split model.",
    },
  );
}
