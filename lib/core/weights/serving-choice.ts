// What a candidate is served with once its weights are known: the manifest's serving settings where it wrote
// them, and where it did not, what the weights themselves say — as vLLM does. An unset `maxModelLen` is the
// model's own context (capped by the stack default, which sizes the KV cache the GPU plan counts); an unset
// runtime follows the weights' format (safetensors → vLLM, GGUF → llama.cpp); an unset image is the first the
// stack allows for that runtime. Only a value the user wrote can be an error of theirs.

import type { StackConfig } from "../config/config";
import type { ResolvedServing, Runtime } from "../manifest/manifest-schema";
import type { ModelFormat } from "./model-files";

/** The runtime made for each format: the one an unset runtime becomes. */
const RUNTIME_FOR_FORMAT: Readonly<Record<ModelFormat, Runtime>> = {
  safetensors: "vllm",
  gguf: "llama.cpp",
};

/** Where a chosen value came from, for the report and the CLI. */
export type ChoiceSource = "manifest" | "weights" | "stack";

export interface ChosenServing {
  readonly runtime: Runtime;
  readonly image: string;
  readonly gpus: "auto" | number;
  readonly maxModelLen: number;
  readonly extraArgs: readonly string[];
  readonly trustRemoteCode: boolean;
  /** Why each of the three was chosen: written in the manifest, read from the weights, or the stack default. */
  readonly from: {
    readonly runtime: ChoiceSource;
    readonly image: ChoiceSource;
    readonly maxModelLen: ChoiceSource;
  };
  /** One sentence per value the manifest left unset, saying what it became and why. */
  readonly notes: readonly string[];
}

/** The runtime a manifest implies before the weights are read: written, or named by its declared format. */
export function declaredRuntime(
  serving: Pick<ResolvedServing, "runtime">,
  format: ModelFormat | undefined,
): Runtime | undefined {
  return serving.runtime ?? (format === undefined ? undefined : RUNTIME_FOR_FORMAT[format]);
}

/** What of the manifest's serving settings the choice reads (not the replica count). */
export type ServingChoiceInput = Omit<ResolvedServing, "scaling">;

/**
 * The serving settings for weights of `format` whose config or GGUF header gives `contextLength` (undefined
 * when neither says). `format` is undefined only when the folder holds no weights; the stack's defaults apply.
 */
export function chooseServing(
  serving: ServingChoiceInput,
  format: ModelFormat | undefined,
  contextLength: number | undefined,
  config: Pick<StackConfig, "defaults" | "allowedImages">,
): ChosenServing {
  const defaults = config.defaults.serving;
  const notes: string[] = [];

  const formatRuntime = format === undefined ? undefined : RUNTIME_FOR_FORMAT[format];
  const runtime = serving.runtime ?? formatRuntime ?? defaults.runtime;
  const runtimeFrom: ChoiceSource =
    serving.runtime !== undefined ? "manifest" : formatRuntime !== undefined ? "weights" : "stack";
  if (runtimeFrom === "weights") {
    notes.push(
      `runtime ${runtime}: serves ${format === "gguf" ? "GGUF" : "safetensors"} weights (the manifest sets no serving.runtime).`,
    );
  }

  const image =
    serving.image ??
    (runtime === defaults.runtime ? defaults.image : (config.allowedImages[runtime][0] ?? ""));

  const stackLength = defaults.maxModelLen;
  let maxModelLen: number;
  let lengthFrom: ChoiceSource;
  if (serving.maxModelLen !== undefined) {
    maxModelLen = serving.maxModelLen;
    lengthFrom = "manifest";
  } else if (contextLength !== undefined && contextLength <= stackLength) {
    maxModelLen = contextLength;
    lengthFrom = "weights";
    notes.push(
      `maxModelLen ${maxModelLen}: the model's own context (the manifest sets no serving.maxModelLen).`,
    );
  } else {
    maxModelLen = stackLength;
    lengthFrom = "stack";
    notes.push(
      contextLength === undefined
        ? `maxModelLen ${maxModelLen}: the stack default, as the model does not say its context (the manifest sets no serving.maxModelLen).`
        : `maxModelLen ${maxModelLen}: the stack default, below the model's ${contextLength} tokens (the manifest sets no serving.maxModelLen; set it to serve a longer context).`,
    );
  }

  return {
    runtime,
    image,
    gpus: serving.gpus,
    maxModelLen,
    extraArgs: serving.extraArgs,
    trustRemoteCode: serving.trustRemoteCode,
    from: {
      runtime: runtimeFrom,
      image: serving.image !== undefined ? "manifest" : "stack",
      maxModelLen: lengthFrom,
    },
    notes,
  };
}
