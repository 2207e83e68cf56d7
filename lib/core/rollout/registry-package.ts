// How a model registry entry names the rollout that registered it: the CustomerMetadataProperties keys the
// SageMaker adapter writes (and the local registry's state-change events carry), read back by the Command
// function when a person approves or rejects the version in the registry.

export const REGISTRY_METADATA_KEYS = {
  model: "modelship:model",
  version: "modelship:version",
  rolloutId: "modelship:rolloutId",
  artifact: "modelship:artifact",
  omitted: "modelship:omitted",
} as const;
