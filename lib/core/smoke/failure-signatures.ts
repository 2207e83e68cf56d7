// Why a candidate failed to start, from what the platform shows: Kubernetes waiting/terminated reasons,
// events and condition messages, the last log lines, a process's exit code. One data table, in order (the
// more specific first), shared by the EKS and the local serving adapters; a stack can add its own entries
// (StackConfig.serving.failureSignatures), checked before these — an experience library that grows with
// every failure seen.

export interface FailureSignature {
  /** The classified reason a user sees, e.g. `ImagePullBackOff`, `CudaOutOfMemory`. */
  readonly reason: string;
  /** Matches when any of these is among the evidence's reasons (exact, e.g. `OOMKilled`). */
  readonly reasons?: readonly string[];
  /** A regular expression (source, case-insensitive) matched against event and condition messages. */
  readonly messagePattern?: string;
  /** A regular expression (source, case-insensitive) matched against the log tail. */
  readonly logPattern?: string;
  /** Matches a process that exited with one of these codes. */
  readonly exitCodes?: readonly number[];
  /**
   * True: the candidate has failed. False: it is still pending for this reason (e.g. waiting for GPU
   * capacity a node autoscaler may add) and the readiness budget decides.
   */
  readonly terminal: boolean;
  /** What happened, as a sentence; `{1}` is replaced by the pattern's first capture group. */
  readonly explanation: string;
  /** What a platform engineer can do about it. */
  readonly hint: string;
}

/** What an adapter saw of a candidate that is not ready. */
export interface FailureEvidence {
  readonly reasons: readonly string[];
  readonly messages: readonly string[];
  readonly logTail: readonly string[];
  readonly exitCode?: number;
}

export interface Classification {
  readonly reason: string;
  readonly terminal: boolean;
  readonly message: string;
  readonly hint: string;
}

export const DEFAULT_FAILURE_SIGNATURES: readonly FailureSignature[] = [
  {
    reason: "ImagePullBackOff",
    reasons: ["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"],
    terminal: true,
    explanation: "The server image could not be pulled.",
    hint: "Check that the image and tag exist, and that the nodes can pull it (ECR pull permissions on the node role, or an imagePullSecret for a private registry).",
  },
  {
    reason: "CudaOutOfMemory",
    logPattern:
      "(CUDA out of memory|torch\\.OutOfMemoryError|cudaErrorMemoryAllocation|No available memory for the cache blocks|not enough memory.*KV cache|ggml_backend_cuda_buffer_type_alloc_buffer: allocating .* failed)",
    terminal: true,
    explanation: "The model did not fit in GPU memory: {1}.",
    hint: "Give it more GPUs (serving.gpus), lower serving.maxModelLen, or lower --gpu-memory-utilization / --max-num-seqs.",
  },
  {
    reason: "OOMKilled",
    reasons: ["OOMKilled"],
    exitCodes: [137],
    terminal: true,
    explanation: "The server ran out of host memory and was killed (OOMKilled, exit 137).",
    hint: "Raise the container's memory request/limit (the stack's serving.memory), or load the weights with less host memory (safetensors, not pickle).",
  },
  {
    reason: "UnsupportedArchitecture",
    logPattern:
      "(Model architectures? \\[?'?([A-Za-z0-9_]+)'?\\]? (are|is) not supported|unknown model architecture: '([^']+)'|ValueError: .*architecture.*not supported)",
    terminal: true,
    explanation: "The server does not support this model's architecture: {1}.",
    hint: "Use a server image whose version supports the architecture (add it to the stack's allowed images), or convert the model.",
  },
  {
    reason: "TrustRemoteCodeRequired",
    logPattern: "(trust_remote_code=True|--trust-remote-code)",
    terminal: true,
    explanation: "The model needs custom Python code from its folder (trust-remote-code).",
    hint: "Running code from the bucket needs the stack's allowTrustRemoteCode and serving.trustRemoteCode in the manifest; prefer a model supported natively.",
  },
  {
    reason: "ModelFilesMissing",
    logPattern:
      "(does not appear to have a file named [^ ]+|No such file or directory: '([^']+)'|Can't load (the )?(config|tokenizer) for|failed to open ([^:]+): No such file|model file not found)",
    terminal: true,
    explanation: "The server could not find model files: {1}.",
    hint: "Check the upload is complete (config.json, tokenizer, every shard) and that the weights loader copied them (its logs, and the volume size).",
  },
  {
    reason: "ModelLoadFailed",
    logPattern:
      "(invalid magic characters|gguf_init_from_file[^:]*: failed|llama_model_load: error loading model[^\\n]*|error loading model: [^\\n]*|SafetensorError[^\\n]*|HeaderTooLarge|InvalidHeaderDeserialization)",
    terminal: true,
    explanation: "The server could not load the weights: {1}.",
    hint: "The weight files are corrupt or truncated: run `modelship validate` on them and upload them again.",
  },
  {
    reason: "PortInUse",
    logPattern: "(EADDRINUSE|address already in use)",
    terminal: true,
    explanation: "The server's port is already in use.",
    hint: "Stop whatever listens on that port, or let modelship choose a free port.",
  },
  {
    reason: "Unschedulable",
    reasons: ["Unschedulable", "FailedScheduling"],
    messagePattern:
      "(Insufficient [a-zA-Z0-9./-]+|didn't match Pod's node affinity/selector|untolerated taint)",
    terminal: false,
    explanation: "No node can run the candidate yet: {1}.",
    hint: "Add capacity for the requested resource (a GPU node group or Karpenter NodePool matching the stack's node selector and tolerations), or ask for fewer GPUs (serving.gpus).",
  },
  {
    reason: "CreateContainerConfigError",
    reasons: ["CreateContainerConfigError", "CreateContainerError"],
    terminal: true,
    explanation: "Kubernetes could not create the server container.",
    hint: "Check the pod's events: a missing service account, secret or config map in the model namespace is the usual cause.",
  },
  {
    reason: "WeightsDownloadFailed",
    logPattern: "(AccessDenied|An error occurred \\((403|NoSuchBucket|NoSuchKey)\\)|fatal error: [^\\n]*)",
    terminal: true,
    explanation: "The weights could not be copied from S3: {1}.",
    hint: "Check the candidate service account's IAM role can read the model prefix (EKS Pod Identity or IRSA).",
  },
  {
    reason: "CrashLoopBackOff",
    reasons: ["CrashLoopBackOff", "Error"],
    terminal: true,
    explanation: "The server keeps crashing on start.",
    hint: "Read the log tail below for the first error.",
  },
  {
    reason: "ServerExited",
    exitCodes: [1, 2, 127, 134, 139],
    terminal: true,
    explanation: "The server process exited on start.",
    hint: "Read the log tail below for the first error.",
  },
];

function firstMatch(pattern: string | undefined, texts: readonly string[]): RegExpExecArray | undefined {
  if (!pattern) return undefined;
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, "i");
  } catch {
    // A bad pattern from the stack config must not hide the built-in ones; the config validation reports it.
    return undefined;
  }
  for (const text of texts) {
    const match = regex.exec(text);
    if (match) return match;
  }
  return undefined;
}

/** The first signature the evidence matches: the stack's own first, then the built-in table. */
export function classifyFailure(
  evidence: FailureEvidence,
  extra: readonly FailureSignature[] = [],
): Classification | undefined {
  for (const signature of [...extra, ...DEFAULT_FAILURE_SIGNATURES]) {
    const logMatch = firstMatch(signature.logPattern, evidence.logTail);
    const messageMatch = firstMatch(signature.messagePattern, evidence.messages);
    const reasonMatch = signature.reasons?.some((r) => evidence.reasons.includes(r)) ?? false;
    const exitMatch =
      evidence.exitCode !== undefined && (signature.exitCodes?.includes(evidence.exitCode) ?? false);
    if (!logMatch && !messageMatch && !reasonMatch && !exitMatch) continue;
    const captured = (logMatch ?? messageMatch)?.slice(1).find((group) => group !== undefined) ?? "";
    const detail = captured || (logMatch ?? messageMatch)?.[0] || evidence.reasons.join(", ");
    return {
      reason: signature.reason,
      terminal: signature.terminal,
      message: signature.explanation.replace("{1}", detail.trim().replace(/\.$/, "")).replace(/: \.$/, "."),
      hint: signature.hint,
    };
  }
  return undefined;
}
