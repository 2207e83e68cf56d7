// The JSON Schema of modelship.yaml, generated from the zod schema (manifest-schema.ts) with zod's own
// converter, so the file editors check manifests with cannot drift from the parser. `modelship schema` prints
// it; `npm run schemas` writes the copy the package ships (schemas/modelship.schema.json).
//
// Draft-07, not 2020-12: the VS Code YAML extension (yaml-language-server) validates with draft-07 and
// reports 2020-12 schemas as "not yet fully supported" (redhat-developer/vscode-yaml#726, yaml-language-server
// #856). `io: "input"` describes what a user writes — every field optional — not what the parser returns.
// Rules zod checks with code (refinements) have no JSON Schema form; the schema's description names them.

import { z } from "zod";
import { manifestSchema } from "./manifest-schema";

/** The JSON Schema (draft-07) of a modelship.yaml / .json manifest. */
export function manifestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(manifestSchema, { target: "draft-07", io: "input", unrepresentable: "throw" });
}
