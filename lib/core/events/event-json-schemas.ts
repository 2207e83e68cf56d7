// JSON Schemas of the events modelship emits, generated from their zod schemas (events.ts): one file per
// detail-type for the package (schemas/events/), and the documents the construct registers in an EventBridge
// schema registry (`publishEventSchemas`). Both describe what a rule's target receives.
//
// The package's files are draft-07 JSON Schemas of the `detail` object (what validators such as ajv take by
// default). The registry takes OpenApi3 or JSONSchemaDraft4 (AWS::EventSchemas::Schema `Type`); it gets
// OpenApi3 in the shape of the schemas it discovers itself — an `AWSEvent` envelope with
// `x-amazon-events-source` / `x-amazon-events-detail-type` and `detail` a `$ref` to the detail's schema —
// because that is the shape its code-binding generators (and SAM's) read.

import { z } from "zod";
import { EMITTED_DETAIL_TYPES, EVENT_DETAIL_SCHEMAS, EVENT_SOURCE, type EmittedDetailType } from "./events";

/** `Rollout Started` → `RolloutStarted`: the detail-type as a name for files, schemas and types. */
export function eventSchemaName(detailType: EmittedDetailType): string {
  return detailType.replace(/ /g, "");
}

/** The draft-07 JSON Schema of one detail-type's `detail`. */
export function eventDetailJsonSchema(detailType: EmittedDetailType): Record<string, unknown> {
  return {
    ...z.toJSONSchema(EVENT_DETAIL_SCHEMAS[detailType], { target: "draft-07", io: "input" }),
    title: detailType,
  };
}

/** Every detail-type's schema, by file name (`RolloutStarted.json`). */
export function eventDetailJsonSchemas(): Map<string, Record<string, unknown>> {
  return new Map(
    EMITTED_DETAIL_TYPES.map((type) => [`${eventSchemaName(type)}.json`, eventDetailJsonSchema(type)]),
  );
}

/**
 * The OpenAPI 3 document of one detail-type's whole event, for an EventBridge schema registry: the envelope
 * EventBridge delivers (required fields as in the registry's own discovered schemas) with the detail inlined
 * as a component.
 */
export function eventRegistrySchema(detailType: EmittedDetailType, version: string): Record<string, unknown> {
  const name = eventSchemaName(detailType);
  const detail = z.toJSONSchema(EVENT_DETAIL_SCHEMAS[detailType], { target: "openapi-3.0", io: "input" });
  return {
    openapi: "3.0.0",
    info: { version, title: name },
    paths: {},
    components: {
      schemas: {
        AWSEvent: {
          type: "object",
          required: [
            "detail-type",
            "resources",
            "detail",
            "id",
            "source",
            "time",
            "region",
            "version",
            "account",
          ],
          "x-amazon-events-detail-type": detailType,
          "x-amazon-events-source": EVENT_SOURCE,
          properties: {
            detail: { $ref: `#/components/schemas/${name}` },
            account: { type: "string" },
            "detail-type": { type: "string" },
            id: { type: "string" },
            region: { type: "string" },
            resources: { type: "array", items: { type: "string" } },
            source: { type: "string" },
            time: { type: "string", format: "date-time" },
            version: { type: "string" },
          },
        },
        [name]: detail,
      },
    },
  };
}
