import { describe, expect, it } from "vitest";
import { classifyFailure, type FailureEvidence } from "../../lib/core/smoke/failure-signatures";

const none: FailureEvidence = { reasons: [], messages: [], logTail: [] };

describe("classifyFailure", () => {
  it("names an image that cannot be pulled, with what to check", () => {
    const result = classifyFailure({ ...none, reasons: ["ErrImagePull"] });
    expect(result).toMatchObject({ reason: "ImagePullBackOff", terminal: true });
    expect(result?.hint).toContain("ECR pull permissions");
  });

  it("says which resource no node has, and keeps waiting (an autoscaler may add it)", () => {
    const result = classifyFailure({
      ...none,
      reasons: ["Unschedulable"],
      messages: [
        "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available",
      ],
    });
    expect(result).toMatchObject({ reason: "Unschedulable", terminal: false });
    expect(result?.message).toBe("No node can run the candidate yet: Insufficient nvidia.com/gpu.");
  });

  it("prefers the specific log signature (CUDA out of memory) over the generic crash loop", () => {
    const result = classifyFailure({
      reasons: ["CrashLoopBackOff"],
      messages: [],
      logTail: [
        "INFO loading weights",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
      ],
    });
    expect(result?.reason).toBe("CudaOutOfMemory");
    expect(result?.hint).toContain("serving.gpus");
  });

  it("recognizes OOMKilled by its reason or by exit code 137", () => {
    expect(classifyFailure({ ...none, reasons: ["OOMKilled"] })?.reason).toBe("OOMKilled");
    expect(classifyFailure({ ...none, exitCode: 137 })?.reason).toBe("OOMKilled");
  });

  it("names the architecture llama.cpp does not know", () => {
    const result = classifyFailure({
      ...none,
      exitCode: 1,
      logTail: [
        "llama_model_load: error loading model: error loading model architecture: unknown model architecture: 'mamba9'",
      ],
    });
    expect(result?.reason).toBe("UnsupportedArchitecture");
    expect(result?.message).toContain("mamba9");
  });

  it("tells a corrupt GGUF from a missing file", () => {
    const corrupt = classifyFailure({
      ...none,
      logTail: ["gguf_init_from_file_impl: invalid magic characters: 'XXXX', expected 'GGUF'"],
    });
    expect(corrupt?.reason).toBe("ModelLoadFailed");
    expect(corrupt?.hint).toContain("modelship validate");
    const missing = classifyFailure({
      ...none,
      logTail: ["OSError: /models/x does not appear to have a file named config.json."],
    });
    expect(missing?.reason).toBe("ModelFilesMissing");
  });

  it("checks the stack's own signatures first", () => {
    const result = classifyFailure(
      { ...none, reasons: ["CrashLoopBackOff"], logTail: ["NCCL error: unhandled system error"] },
      [
        {
          reason: "NcclFailure",
          logPattern: "NCCL error",
          terminal: true,
          explanation: "NCCL failed.",
          hint: "Check EFA.",
        },
      ],
    );
    expect(result).toEqual({
      reason: "NcclFailure",
      terminal: true,
      message: "NCCL failed.",
      hint: "Check EFA.",
    });
  });

  it("ignores a stack signature whose pattern does not compile instead of failing the classification", () => {
    const result = classifyFailure({ ...none, reasons: ["ErrImagePull"] }, [
      { reason: "Broken", logPattern: "([", terminal: true, explanation: "x", hint: "y" },
    ]);
    expect(result?.reason).toBe("ImagePullBackOff");
  });

  it("returns nothing when no signature matches", () => {
    expect(classifyFailure({ ...none, reasons: ["ContainerCreating"] })).toBeUndefined();
  });
});
