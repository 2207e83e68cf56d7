// A draft-07 JSON Schema validator for tests (ajv), as an editor or a CI check would run one over the
// schemas modelship ships: strict, so a schema keyword ajv does not know fails the test instead of being
// skipped.

import { Ajv, type ValidateFunction } from "ajv";

/** Compiles `schema`; throws when the schema itself is not valid draft-07. */
export function compileJsonSchema(schema: object): ValidateFunction {
  const ajv = new Ajv({ strict: true, allErrors: true });
  return ajv.compile(schema);
}

/** Each error as `<instance path> <message>`, for assertions and failure messages. */
export function jsonSchemaErrors(validate: ValidateFunction): string[] {
  return (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? ""}`.trim());
}
