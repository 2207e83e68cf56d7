// Sorts a model folder's listing into what serving will load and what it will not: which format the model
// is in, which files are its weights, and which files are refused (pickles run code when loaded) or
// unknown. Pure: it sees file names and sizes, never their bytes.

import type { Finding } from "../findings";

export type ModelFormat = "safetensors" | "gguf";

export interface ListedFile {
  /** Relative to the model folder, `/`-separated. */
  readonly path: string;
  readonly size: number;
}

export interface FolderPlan {
  /** The format serving will load; undefined when it cannot be decided (a finding says why). */
  readonly format?: ModelFormat;
  /** The weight files of that format, sorted by path. */
  readonly weights: readonly ListedFile[];
  readonly findings: Finding[];
}

const PICKLE_EXTENSIONS = [".bin", ".pt", ".pth", ".pkl", ".ckpt"];

/** Files a model folder commonly holds beside its weights; anything else earns an info finding. */
const KNOWN_FILES = new Set([
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer.model",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "vocab.json",
  "vocab.txt",
  "merges.txt",
  "chat_template.jinja",
  "chat_template.json",
  "preprocessor_config.json",
  "processor_config.json",
  "params.json",
  "model.safetensors.index.json",
  "pytorch_model.bin.index.json",
  "modelship.yaml",
  "modelship.yml",
  "modelship.json",
  ".gitattributes",
  "LICENSE",
  "NOTICE",
]);

export const SHARD_INDEX_FILE = "model.safetensors.index.json";

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function isTopLevel(path: string): boolean {
  return !path.includes("/");
}

/** `.git/…`, `.cache/…`, `.DS_Store`; `.gitattributes` is an ordinary part of a Hugging Face repository. */
function isHidden(path: string): boolean {
  return path !== ".gitattributes" && path.split("/").some((segment) => segment.startsWith("."));
}

function isPickle(path: string): boolean {
  const lower = path.toLowerCase();
  return PICKLE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

function isKnownMetadata(path: string): boolean {
  const name = baseName(path);
  return KNOWN_FILES.has(name) || /^(LICENSE|README|USE_POLICY|NOTICE)([._-].*)?$/i.test(name);
}

/**
 * Decides the format (the manifest's if it names one, else from the files), picks the weight files, and
 * judges everything else: pickles are refused unless safe weights sit beside them (serving then loads
 * those and never opens the pickles), and a folder with no loadable weights is an error.
 */
export function planModelFolder(files: readonly ListedFile[], declared?: ModelFormat): FolderPlan {
  const findings: Finding[] = [];
  const safetensors = files.filter((f) => isTopLevel(f.path) && f.path.endsWith(".safetensors"));
  const gguf = files.filter((f) => isTopLevel(f.path) && f.path.toLowerCase().endsWith(".gguf"));

  let format: ModelFormat | undefined = declared;
  if (declared) {
    const other = declared === "safetensors" ? gguf : safetensors;
    if (other.length > 0) {
      findings.push({
        severity: "warning",
        code: "model.format.ignored-files",
        file: other[0]?.path,
        message: `The manifest says format ${declared}; ${other.length} ${declared === "safetensors" ? "GGUF" : "safetensors"} file(s) will not be served.`,
        hint: "Remove the files of the other format, or change `format` in the manifest.",
      });
    }
  } else if (safetensors.length > 0 && gguf.length > 0) {
    findings.push({
      severity: "error",
      code: "model.format.ambiguous",
      message: `The folder holds both safetensors (${safetensors.length}) and GGUF (${gguf.length}) weights, so the format is ambiguous.`,
      hint: "Set `format: safetensors` or `format: gguf` in modelship.yaml, or remove one set of weights.",
    });
  } else if (safetensors.length > 0) format = "safetensors";
  else if (gguf.length > 0) format = "gguf";

  const weights = format === "safetensors" ? safetensors : format === "gguf" ? gguf : [];
  const hasSafeWeights = weights.length > 0;
  if (!hasSafeWeights && !findings.some((f) => f.code === "model.format.ambiguous")) {
    findings.push({
      severity: "error",
      code: "model.no-weights",
      message: declared
        ? `The manifest says format ${declared}, but the folder holds no *.${declared === "safetensors" ? "safetensors" : "gguf"} files at its top level.`
        : "The folder holds no weights: no *.safetensors or *.gguf files at its top level.",
      hint: "Upload the model's weights as safetensors (or GGUF) next to config.json.",
    });
  }
  if (format === "gguf") findings.push(...checkGgufFileSet(gguf));

  const chosen = weights[0]?.path;
  const hidden = files.filter((f) => isHidden(f.path));
  if (hidden.length > 0) {
    findings.push({
      severity: "info",
      code: "model.file.hidden",
      file: hidden[0]?.path,
      message: `${hidden.length} hidden file(s) (names starting with '.') are not used for serving.`,
      hint: "Leave .git and other hidden folders out of the upload.",
    });
  }
  for (const file of files) {
    if (isHidden(file.path)) continue;
    if (isPickle(file.path)) {
      findings.push(
        hasSafeWeights
          ? {
              severity: "warning",
              code: "model.pickle.ignored",
              file: file.path,
              message: `A pickle file; serving loads the ${format} weights (${chosen}${weights.length > 1 ? ", …" : ""}) and never opens it.`,
              hint: "Delete it to save upload time and storage.",
            }
          : {
              severity: "error",
              code: "model.pickle.refused",
              file: file.path,
              message:
                "A pickle file: loading it can run arbitrary code, and there are no safetensors weights to use instead.",
              hint: "Convert the checkpoint to safetensors (e.g. `model.save_pretrained(dir, safe_serialization=True)`) and upload that.",
            },
      );
    } else if (
      !weights.includes(file) &&
      (file.path.endsWith(".safetensors") || file.path.toLowerCase().endsWith(".gguf"))
    ) {
      if (!isTopLevel(file.path)) {
        findings.push({
          severity: "info",
          code: "model.file.not-served",
          file: file.path,
          message: "Weights in a subfolder are not loaded; serving reads the top of the model folder.",
        });
      }
    } else if (!weights.includes(file) && !isKnownMetadata(file.path)) {
      findings.push({
        severity: "info",
        code: "model.file.unknown",
        file: file.path,
        message: "Not a file serving uses; it is uploaded but ignored.",
      });
    }
  }
  return { format, weights, findings };
}

/** Several GGUF files are fine only as one split model (`name-00001-of-00003.gguf`, …). */
function checkGgufFileSet(gguf: readonly ListedFile[]): Finding[] {
  if (gguf.length <= 1) return [];
  const split = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;
  const parts = gguf.map((f) => split.exec(f.path));
  const stems = new Set(parts.map((m) => (m ? `${m[1]}/${m[3]}` : undefined)));
  const first = parts[0];
  if (parts.every(Boolean) && stems.size === 1 && first && Number(first[3]) === gguf.length) return [];
  return [
    {
      severity: "error",
      code: "gguf.several-files",
      message: `The folder holds ${gguf.length} GGUF files (${gguf.map((f) => f.path).join(", ")}); a model is one GGUF file or one complete split set.`,
      hint: "Keep the one GGUF file to serve (move other quantizations to their own version).",
    },
  ];
}
