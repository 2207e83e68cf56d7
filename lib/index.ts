// The package's public API (`import … from "modelship"`): the ModelPipeline construct and the types of its
// props, the manifest's types and its parser, and the types of the events' details. Everything else under
// lib/ is internal: the package's `exports` map reaches this file and the CLI's bin, nothing else. The types
// those reference are exported too, so the API reference (`npm run docs`) documents every one of them.

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
  HookFunction,
  HooksConfig,
  LocalServingConfig,
  ManifestDefaults,
  PrometheusConfig,
  PrometheusEndpoint,
  PrometheusQueryTemplates,
  RolloutDefaults,
  ServingConfig,
  ServingDefaults,
  StackConfig,
  Toleration,
} from "./core/config/config";
export type { FailureSignature } from "./core/smoke/failure-signatures";
export type {
  ModelshipFunction,
  PipelineFunction,
  EventFunction,
} from "./core/state-machine/pipeline-functions";

export { parseManifest, type ParsedManifest } from "./core/resolution/manifest";
export type {
  AlarmSources,
  AutoscalingMetric,
  CanaryStepInput,
  ChatMessage,
  HookInput,
  Manifest,
  ResolvedAlarms,
  ResolvedApproval,
  ResolvedEvalSuite,
  ResolvedScaling,
  ResolvedServing,
  ResolvedSmokeGate,
  ResolvedStressGate,
  Runtime,
  Slo,
  SmokePrompt,
} from "./core/manifest/manifest-schema";
export type { Finding, Severity } from "./core/findings";

export type {
  CommandDetailType,
  EmittedDetailType,
  EventDetail,
  EventDetailOf,
  ModelshipEvent,
} from "./core/events/events";
