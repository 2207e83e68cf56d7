// Checks an emitted event's detail against the JSON Schema modelship publishes for its detail-type
// (schemas/events/, generated from core/events/events.ts), with ajv as an automation's validator would: every
// in-memory event sink and the local e2e tests run their real events through it.

import type { ValidateFunction } from "ajv";
import { eventDetailJsonSchemas, eventSchemaName } from "../../lib/core/events/event-json-schemas";
import type { ModelshipEvent } from "../../lib/core/events/events";
import { compileJsonSchema, jsonSchemaErrors } from "./json-schema-validator";

let validators: Map<string, ValidateFunction> | undefined;

/** What is wrong with the event against its published schema; empty when it matches. */
export function eventSchemaViolations(event: Pick<ModelshipEvent, "detailType" | "detail">): string[] {
  validators ??= new Map(
    [...eventDetailJsonSchemas()].map(([file, schema]) => [file, compileJsonSchema(schema)]),
  );
  const validate = validators.get(`${eventSchemaName(event.detailType)}.json`);
  if (!validate) return [`no schema is published for detail-type '${event.detailType}'`];
  return validate(event.detail) ? [] : jsonSchemaErrors(validate);
}

/** Throws, naming the event and what is wrong, unless it matches its published schema. */
export function assertEventMatchesSchema(event: Pick<ModelshipEvent, "detailType" | "detail">): void {
  const violations = eventSchemaViolations(event);
  if (violations.length > 0) {
    throw new Error(
      `"${event.detailType}" from ${event.detail.stage} does not match schemas/events/${eventSchemaName(event.detailType)}.json: ${violations.join("; ")}\n${JSON.stringify(event.detail, null, 2)}`,
    );
  }
}
