// How serving settings a manifest leaves unset are chosen from the weights (core/weights/serving-choice): the
// model's own context capped by the stack default, the runtime made for the format, the stack's image.

import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import {
  type ServingChoiceInput,
  chooseServing,
  declaredRuntime,
} from "../../lib/core/weights/serving-choice";

const config: StackConfig = {
  ...DEFAULT_STACK_CONFIG,
  allowedImages: {
    vllm: ["vllm/vllm-openai:v0.11.0"],
    "llama.cpp": ["ghcr.io/ggml-org/llama.cpp:server-b6000", "other"],
  },
};
const unset: ServingChoiceInput = { gpus: "auto", extraArgs: [], trustRemoteCode: false };

describe("chooseServing", () => {
  it("serves a safetensors model with a short context at its own context, on the stack's vLLM image", () => {
    const chosen = chooseServing(unset, "safetensors", 512, config);
    expect(chosen).toMatchObject({
      runtime: "vllm",
      image: "vllm/vllm-openai:v0.11.0",
      maxModelLen: 512,
      from: { runtime: "weights", image: "stack", maxModelLen: "weights" },
    });
    expect(chosen.notes).toEqual([
      "runtime vllm: serves safetensors weights (the manifest sets no serving.runtime).",
      "maxModelLen 512: the model's own context (the manifest sets no serving.maxModelLen).",
    ]);
  });

  it("caps a long context at the stack default and says how to serve more", () => {
    const chosen = chooseServing(unset, "safetensors", 131072, config);
    expect(chosen.maxModelLen).toBe(8192);
    expect(chosen.from.maxModelLen).toBe("stack");
    expect(chosen.notes[1]).toContain("below the model's 131072 tokens");
    expect(chosen.notes[1]).toContain("set it to serve a longer context");
  });

  it("uses the stack default when the model does not say its context", () => {
    const chosen = chooseServing(unset, "safetensors", undefined, config);
    expect(chosen.maxModelLen).toBe(8192);
    expect(chosen.notes[1]).toContain("as the model does not say its context");
  });

  it("serves GGUF weights with llama.cpp on the first image the stack allows for it", () => {
    const chosen = chooseServing(unset, "gguf", 2048, config);
    expect(chosen).toMatchObject({
      runtime: "llama.cpp",
      image: "ghcr.io/ggml-org/llama.cpp:server-b6000",
      maxModelLen: 2048,
    });
  });

  it("keeps every value the manifest wrote, with no note for it, even a context longer than the model's", () => {
    const written: ServingChoiceInput = {
      ...unset,
      runtime: "vllm",
      image: "vllm/vllm-openai:v0.11.0",
      maxModelLen: 32768,
    };
    const chosen = chooseServing(written, "safetensors", 512, config);
    expect(chosen).toMatchObject({
      runtime: "vllm",
      maxModelLen: 32768,
      from: { runtime: "manifest", image: "manifest", maxModelLen: "manifest" },
    });
    expect(chosen.notes).toEqual([]);
  });

  it("leaves the image empty when the stack allows none for the chosen runtime, for Validate to refuse", () => {
    const none: StackConfig = {
      ...config,
      allowedImages: { vllm: ["vllm/vllm-openai:v0.11.0"], "llama.cpp": [] },
    };
    expect(chooseServing(unset, "gguf", 2048, none).image).toBe("");
  });

  it("takes a written runtime over the one the declared format names", () => {
    expect(declaredRuntime({ runtime: "vllm" }, "gguf")).toBe("vllm");
    expect(declaredRuntime({}, "gguf")).toBe("llama.cpp");
    expect(declaredRuntime({}, undefined)).toBeUndefined();
  });
});
