// An entry a folder-backed store lists but never reads, and the finding that names it. A model folder on
// disk can hold what a bucket cannot: a symbolic link (to /etc/passwd, to ~/.aws/credentials, to a Hugging
// Face cache's blobs), a FIFO that blocks whoever opens it, a device. The folder store reads a link only when
// its real path stays inside the store's folder; everything else is listed with the reason it is not read,
// so every reader — validate, the local bucket's stages, serving, `run`'s copy — refuses the same entries and
// says so by name, instead of one stage reading what another cannot see. S3 has no such entries.

import type { Finding } from "../findings";

export interface UnreadableEntry {
  /**
   * `link-outside`: a symbolic link (or a path through a linked folder) whose real path leaves the store's
   * folder; `link-broken`: a link to nothing (a missing target or a loop); `link-to-folder`: a link to a
   * folder, whose files are not listed; `not-a-file`: a FIFO, socket or device.
   */
  readonly reason: "link-outside" | "link-broken" | "link-to-folder" | "not-a-file";
  /** What the link says (its own text, as `readlink` shows it), when the entry is a link. */
  readonly target?: string;
}

const LINK_HINT =
  "Put the file itself in the folder instead of a link (`cp -L`). A Hugging Face cache snapshot is links into its blobs/ folder: download with `huggingface-cli download <repo> --local-dir <folder>`, or copy the snapshot with `cp -rL`.";

/** Why `file` is not read, for a user looking at `location` (the store's folder). */
export function unreadableEntryFinding(file: string, entry: UnreadableEntry, location: string): Finding {
  const target = entry.target && entry.target.length > 200 ? `${entry.target.slice(0, 199)}…` : entry.target;
  const link = target === undefined ? "" : ` to ${JSON.stringify(target)}`;
  switch (entry.reason) {
    case "link-outside":
      return {
        severity: "error",
        code: "model.file.link-outside",
        file,
        message: `A symbolic link${link} whose real path is outside ${location}; modelship reads nothing through a link that leaves its folder.`,
        hint: LINK_HINT,
      };
    case "link-broken":
      return {
        severity: "error",
        code: "model.file.link-broken",
        file,
        message: `A symbolic link${link} that leads to no file (its target is missing, or links loop).`,
        hint: "Replace the link with the file it was meant to point to, or delete it.",
      };
    case "link-to-folder":
      return {
        severity: "error",
        code: "model.file.link-to-folder",
        file,
        message: `A symbolic link${link} to a folder; the files of a linked folder are not read.`,
        hint: "Put the folder itself in place of the link (`cp -rL`).",
      };
    case "not-a-file":
      return {
        severity: "error",
        code: "model.file.not-a-file",
        file,
        message: "Not a regular file (a FIFO, socket or device), so it is not read.",
        hint: "Delete it: a model folder holds only files.",
      };
  }
}
