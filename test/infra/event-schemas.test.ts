// `publishEventSchemas`: the pipeline's events in an EventBridge schema registry, one OpenAPI 3 schema per
// detail-type in the shape the registry's own discovered schemas have, the detail being the schema the
// package ships — and nothing of it without the prop.

import { Stack, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { EMITTED_DETAIL_TYPES, EVENT_SOURCE } from "../../lib/core/events/events";
import { ModelPipeline } from "../../lib/infra/model-pipeline";
import { testApp } from "./synth";

function synth(publishEventSchemas?: boolean) {
  const app = testApp();
  const stack = new Stack(app, "Events", { env: { account: "123456789012", region: "eu-west-1" } });
  const pipeline = new ModelPipeline(stack, "ModelPipeline", {
    ...(publishEventSchemas !== undefined && { publishEventSchemas }),
  });
  return { app, stack, pipeline, template: Template.fromStack(stack) };
}

type RegistryDocument = {
  openapi: string;
  components: {
    schemas: Record<string, Record<string, unknown>> & {
      AWSEvent: {
        "x-amazon-events-detail-type": string;
        "x-amazon-events-source": string;
        required: string[];
        properties: { detail: { $ref: string } };
      };
    };
  };
};

describe("ModelPipeline: publishEventSchemas", () => {
  it("registers nothing by default", () => {
    const { template, pipeline } = synth();
    template.resourceCountIs("AWS::EventSchemas::Registry", 0);
    template.resourceCountIs("AWS::EventSchemas::Schema", 0);
    expect(pipeline.eventSchemaRegistry).toBeUndefined();
  });

  it("registers one OpenApi3 schema per emitted detail-type, named as the registry names discovered ones", () => {
    const { template, pipeline, stack } = synth(true);
    template.resourceCountIs("AWS::EventSchemas::Registry", 1);
    // Named after the construct, as its bus is: unique in the account and region.
    const [bus] = Object.values(template.findResources("AWS::Events::EventBus"));
    template.hasResourceProperties("AWS::EventSchemas::Registry", { RegistryName: bus?.Properties.Name });
    const registryId = stack.getLogicalId(pipeline.eventSchemaRegistry!.registry);
    const schemas = Object.values(template.findResources("AWS::EventSchemas::Schema")).map(
      (resource) => resource.Properties as Record<string, unknown>,
    );
    expect(schemas.map((s) => s["SchemaName"]).sort()).toEqual(
      EMITTED_DETAIL_TYPES.map((type) => `modelship@${type.replace(/ /g, "")}`).sort(),
    );
    for (const schema of schemas) {
      expect(schema["Type"]).toBe("OpenApi3");
      expect(schema["RegistryName"]).toEqual({ "Fn::GetAtt": [registryId, "RegistryName"] });
    }
  });

  it("describes each whole event: the envelope, its source and detail-type, and the detail by reference", () => {
    const { template } = synth(true);
    const documents = Object.values(template.findResources("AWS::EventSchemas::Schema")).map(
      (resource) => JSON.parse(resource.Properties.Content as string) as RegistryDocument,
    );
    expect(documents.map((d) => d.components.schemas.AWSEvent["x-amazon-events-detail-type"]).sort()).toEqual(
      [...EMITTED_DETAIL_TYPES].sort(),
    );
    for (const document of documents) {
      const envelope = document.components.schemas.AWSEvent;
      expect(document.openapi).toBe("3.0.0");
      expect(envelope["x-amazon-events-source"]).toBe(EVENT_SOURCE);
      expect(envelope.required).toEqual(expect.arrayContaining(["detail", "detail-type", "source", "time"]));
      const detailName = envelope.properties.detail.$ref.replace("#/components/schemas/", "");
      expect(document.components.schemas[detailName]).toMatchObject({ type: "object" });
    }
  });

  it("takes a real detail in its OpenAPI form: nullable fields, unions and all", () => {
    const { template } = synth(true);
    const promoted = Object.values(template.findResources("AWS::EventSchemas::Schema"))
      .map((resource) => JSON.parse(resource.Properties.Content as string) as RegistryDocument)
      .find((d) => d.components.schemas.AWSEvent["x-amazon-events-detail-type"] === "Model Promoted")!;
    // OpenAPI 3.0's schema object: `nullable` is its keyword, which ajv knows; the x- extensions are not JSON Schema.
    const validate = new Ajv({ strict: false }).compile(promoted.components.schemas["ModelPromoted"]!);
    const detail = {
      model: "llama",
      version: "v2",
      rolloutId: "llama-v2-0badf00d",
      executionArn: "arn:aws:states:eu-west-1:123456789012:execution:pipeline:llama-v2-0badf00d",
      stage: "Promote",
      message: "llama v2 takes all traffic.",
      data: { previousStable: null, watchSeconds: 1800, weights: { stable: 0, candidate: 100 } },
    };
    expect(validate(detail)).toBe(true);
    expect(validate({ ...detail, data: { ...detail.data, watchSeconds: "long" } })).toBe(false);
  });

  it("passes cdk-nag's AwsSolutions checks", () => {
    const { app, stack } = synth(true);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const violations = new AwsSolutionsChecks()
      .validateScope(stack)
      .violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`);
    expect(violations).toEqual([]);
  });
});
