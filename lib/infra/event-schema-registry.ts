// The EventBridge schema registry of a pipeline's events (`publishEventSchemas`): one schema per detail-type
// modelship emits, generated from the zod schemas of core/events/events.ts — the same as schemas/events/ in the
// package — so a team can download code bindings for them from the registry (console, SAM, the Toolkits).

import * as eventschemas from "aws-cdk-lib/aws-eventschemas";
import type { Construct } from "constructs";
import { eventRegistrySchema, eventSchemaName } from "../core/events/event-json-schemas";
import { EMITTED_DETAIL_TYPES, EVENT_SOURCE } from "../core/events/events";

/**
 * The OpenAPI document's `info.version`. The registry versions a schema itself on every change of its
 * content; this stays at 1.0.0 until a detail changes incompatibly (a field removed or retyped).
 */
const EVENT_SCHEMA_VERSION = "1.0.0";

export interface EventSchemaRegistry {
  readonly registry: eventschemas.CfnRegistry;
  /** The schemas, by detail-type. */
  readonly schemas: Readonly<Record<string, eventschemas.CfnSchema>>;
}

/** A registry named `registryName` holding a schema per emitted detail-type, named `modelship@<DetailType>`. */
export function createEventSchemaRegistry(scope: Construct, registryName: string): EventSchemaRegistry {
  const registry = new eventschemas.CfnRegistry(scope, "EventSchemaRegistry", {
    registryName,
    description: `The events modelship emits on its bus (source ${EVENT_SOURCE}), one schema per detail-type.`,
  });
  const schemas: Record<string, eventschemas.CfnSchema> = {};
  for (const detailType of EMITTED_DETAIL_TYPES) {
    const name = eventSchemaName(detailType);
    // `<source>@<DetailType>`, the names the registry gives the schemas it discovers on a bus.
    schemas[detailType] = new eventschemas.CfnSchema(scope, `EventSchema${name}`, {
      registryName: registry.attrRegistryName,
      schemaName: `${EVENT_SOURCE}@${name}`,
      type: "OpenApi3",
      content: JSON.stringify(eventRegistrySchema(detailType, EVENT_SCHEMA_VERSION)),
      description: `modelship's "${detailType}" event.`,
    });
  }
  return { registry, schemas };
}
