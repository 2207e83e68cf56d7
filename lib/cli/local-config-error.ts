// The local runtime's config.json refused: the file and every finding, for the commands that open a runtime.

import { formatFinding } from "../core/findings";
import { LocalConfigInvalid } from "../local/runtime";

export function describeLocalConfigInvalid(error: unknown): string | undefined {
  if (!(error instanceof LocalConfigInvalid)) return undefined;
  return `${error.message}\n${error.findings.map((f) => `  ${formatFinding(f)}`).join("\n")}`;
}
