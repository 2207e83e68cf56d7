// The bucket's key contract: a rollout starts from `models/<name>/<version>/modelship.(yaml|yml|json)`,
// keys from S3 events arrive URL-encoded, and each upload maps to one readable, deterministic execution
// name. Any other key shape is rejected with a finding that says what was expected — never guessed.

import { createHash } from "node:crypto";
import type { Finding } from "../findings";
import { MODEL_NAME_PATTERN, MODEL_VERSION_PATTERN } from "../manifest/manifest-schema";

const MANIFEST_FILE_NAMES = ["modelship.yaml", "modelship.yml", "modelship.json"];
const EXPECTED_SHAPE = "models/<name>/<version>/modelship.yaml (or .yml, .json)";
/** Step Functions caps execution names at 80 characters. */
const MAX_EXECUTION_NAME = 80;
const HASH_HEX_CHARS = 8;

export type ManifestKey =
  | {
      readonly ok: true;
      readonly name: string;
      readonly version: string;
      /** `models/<name>/<version>/` */
      readonly prefix: string;
      readonly fileName: string;
    }
  | { readonly ok: false; readonly finding: Finding };

/** Checks a (decoded) key against the manifest key shape and the name and version rules. */
export function parseManifestKey(key: string): ManifestKey {
  const segments = key.split("/");
  const [root, name, version, fileName] = segments;
  if (segments.length !== 4 || root !== "models" || !name || !version || !fileName) {
    return rejected(
      key,
      "key.shape",
      `expected a manifest key ${EXPECTED_SHAPE}, found '${key}'.`,
      "Upload the model's files under models/<name>/<version>/, then the manifest last as models/<name>/<version>/modelship.yaml.",
    );
  }
  const problems: string[] = [];
  const fixes: string[] = [];
  if (!MANIFEST_FILE_NAMES.includes(fileName)) {
    problems.push(
      `the manifest must be named modelship.yaml, modelship.yml or modelship.json, not '${fileName}'`,
    );
  }
  if (!MODEL_NAME_PATTERN.test(name)) {
    problems.push(
      `model name '${name}' is not valid: expected 1 to 63 lowercase letters, digits or '-', starting with a letter or digit, because it becomes a Kubernetes name`,
    );
    fixes.push(`name the folder '${saneName(name)}'`);
  }
  if (!MODEL_VERSION_PATTERN.test(version) || version === "." || version === "..") {
    problems.push(
      `version '${version}' is not valid: expected 1 to 64 letters, digits, '.', '_' or '-' (and not '.' or '..')`,
    );
    fixes.push(`name the version folder '${saneVersion(version)}'`);
  }
  if (problems.length > 0) {
    const hint = fixes.length
      ? `Upload again under a valid key: ${fixes.join(" and ")}.`
      : `Use a key of the shape ${EXPECTED_SHAPE}.`;
    return rejected(key, "key.invalid", `${problems.join("; ")}.`, hint);
  }
  return { ok: true, name, version, prefix: `models/${name}/${version}/`, fileName };
}

/**
 * Decodes a key as S3 event notifications encode it (`+` for a space, `%XX` for bytes of UTF-8). Malformed
 * escapes are kept as they are and invalid UTF-8 becomes U+FFFD: the key shape check then refuses them.
 */
export function decodeS3EventKey(raw: string): string {
  return raw.replace(/\+/g, " ").replace(/(?:%[0-9A-Fa-f]{2})+/g, (escapes) => {
    const bytes = new Uint8Array(escapes.length / 3);
    for (let i = 0; i < bytes.length; i++)
      bytes[i] = Number.parseInt(escapes.slice(i * 3 + 1, i * 3 + 3), 16);
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  });
}

/**
 * `<model>-<version>-<8 hex>`: readable in the Step Functions console, the same for the same upload
 * (`dedupKey`: key + version-id, or ETag without versioning) so a duplicate delivery is the same
 * execution. At most 80 characters of `[A-Za-z0-9._-]`; a long version is cut, the hash keeps names apart.
 */
export function executionName(model: string, version: string, dedupKey: string): string {
  const hash = createHash("sha256").update(dedupKey).digest("hex").slice(0, HASH_HEX_CHARS);
  const safeModel = onlyNameCharacters(model).slice(0, 63);
  const versionRoom = MAX_EXECUTION_NAME - safeModel.length - HASH_HEX_CHARS - 2;
  return `${safeModel}-${onlyNameCharacters(version).slice(0, versionRoom)}-${hash}`;
}

function onlyNameCharacters(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, "-");
}

function saneName(name: string): string {
  const sane = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return sane || "my-model";
}

function saneVersion(version: string): string {
  const sane = version.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 64);
  return sane === "" || sane === "." || sane === ".." ? "v1" : sane;
}

function rejected(key: string, code: string, message: string, hint: string): ManifestKey {
  return { ok: false, finding: { severity: "error", code, file: key, message, hint } };
}
