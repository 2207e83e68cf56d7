// The package's public API (`import … from "modelship"`): the ModelPipeline construct and the types of its
// props, the manifest's types and its parser, and the types of the events' details. Everything else under
// lib/ is internal: the package's `exports` map reaches this file and the CLI's bin, nothing else.

export {
  ModelPipeline,
  type ModelBucketProps,
  type ModelPipelineProps,
  type PartialConfig,
} from "./infra/model-pipeline";
export type { ClusterNetworkProps } from "./infra/cluster-network";
export type { EventSchemaRegistry } from "./infra/event-schema-registry";
export type {
  CanaryMetricsConfig,
  GatewayConfig,
  GpuConfig,
  ManifestDefaults,
  ServingConfig,
  StackConfig,
} from "./core/config";
export type { ModelshipFunction, PipelineFunction, EventFunction } from "./core/pipeline-functions";

export { parseManifest, type ParsedManifest } from "./core/manifest";
export type {
  CanaryStepInput,
  ChatMessage,
  HookInput,
  Manifest,
  Slo,
  SmokePrompt,
} from "./core/manifest-schema";
export type { Finding, Severity } from "./core/findings";

export type {
  CommandDetailType,
  EmittedDetailType,
  EventDetail,
  EventDetailOf,
  ModelshipEvent,
} from "./core/events";
