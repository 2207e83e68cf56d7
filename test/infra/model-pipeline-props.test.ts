import { RemovalPolicy, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as events from "aws-cdk-lib/aws-events";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { ModelPipeline, type ModelPipelineProps } from "../../lib/infra/model-pipeline";
import { ModelshipStack } from "../../lib/infra/sample-stack";
import { flatArn, roleStatements, testApp } from "./synth";

function pipelineIn(props: ModelPipelineProps): { pipeline: ModelPipeline; stack: Stack } {
  const stack = new Stack(testApp(), "Pipeline");
  return { pipeline: new ModelPipeline(stack, "ModelPipeline", props), stack };
}

describe("ModelPipeline props: bring your own resources", () => {
  it("refuses an existing bucket together with bucketProps, naming both", () => {
    const stack = new Stack(testApp(), "Conflict");
    expect(
      () =>
        new ModelPipeline(stack, "ModelPipeline", {
          existingBucket: s3.Bucket.fromBucketName(stack, "Mine", "my-models"),
          bucketProps: { versioned: false },
        }),
    ).toThrow(/existingBucket and bucketProps/);
  });

  it("refuses an existing bus together with eventBusProps, and reports both conflicts at once", () => {
    const stack = new Stack(testApp(), "Conflict");
    let message = "";
    try {
      new ModelPipeline(stack, "ModelPipeline", {
        existingBucket: s3.Bucket.fromBucketName(stack, "Mine", "my-models"),
        bucketProps: {},
        existingEventBus: events.EventBus.fromEventBusName(stack, "Bus", "platform"),
        eventBusProps: { eventBusName: "other" },
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("existingBucket and bucketProps");
    expect(message).toContain("existingEventBus and eventBusProps");
  });

  it("uses an existing bucket and bus: creates neither, triggers on the bucket, grants on both", () => {
    const stack = new Stack(testApp(), "Existing");
    const pipeline = new ModelPipeline(stack, "ModelPipeline", {
      existingBucket: s3.Bucket.fromBucketName(stack, "Mine", "my-models"),
      existingEventBus: events.EventBus.fromEventBusName(stack, "Bus", "platform"),
    });
    const template = Template.fromStack(stack);

    template.resourceCountIs("AWS::S3::Bucket", 0);
    template.resourceCountIs("AWS::Events::EventBus", 0);
    template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: Match.objectLike({ detail: Match.objectLike({ bucket: { name: ["my-models"] } }) }),
    });
    template.hasResourceProperties("AWS::Events::Rule", {
      EventBusName: "platform",
      EventPattern: { "detail-type": ["Rollout Requested"] },
    });
    const validateReads = roleStatements(template, pipeline.functions.Validate)
      .filter((s) => s.actions.includes("s3:GetObject"))
      .flatMap((s) => s.resources.map(flatArn));
    expect(validateReads).toEqual(["arn:<AWS::Partition>:s3:::my-models/models/*"]);
    const putEvents = roleStatements(template, pipeline.functions.Prepare)
      .filter((s) => s.actions.includes("events:PutEvents"))
      .flatMap((s) => s.resources.map(flatArn));
    expect(putEvents).toEqual([
      "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/platform",
    ]);
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });

  it("applies bucketProps but keeps KMS encryption, TLS only and the public access block", () => {
    const { stack } = pipelineIn({
      bucketProps: {
        versioned: false,
        // A JavaScript caller can pass what the type leaves out; the construct still decides these.
        ...({ encryption: s3.BucketEncryption.UNENCRYPTED, enforceSSL: false } as object),
      },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::S3::Bucket", {
      VersioningConfiguration: Match.absent(),
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: "aws:kms" }) }),
        ],
      },
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("applies the log retention and removal policy it is given", () => {
    const { stack } = pipelineIn({
      logRetention: logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const template = Template.fromStack(stack);
    template.allResourcesProperties("AWS::Logs::LogGroup", { RetentionInDays: 7 });
    template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Delete" });
    template.allResources("AWS::S3::Bucket", { DeletionPolicy: "Delete" });
  });
});

describe("ModelPipeline props: the stack config", () => {
  it("merges a partial config over the defaults and hands the functions the result", () => {
    const { pipeline } = pipelineIn({ clusterName: "gpu-east", gpu: { memoryGiB: 24 } });
    expect(pipeline.config.clusterName).toBe("gpu-east");
    expect(pipeline.config.gpu.memoryGiB).toBe(24);
    expect(pipeline.config.gpu.maxPerNode).toBe(8);
    expect(pipeline.config.namespace).toBe("models");
  });

  it("hands the serving settings to the functions and names their service account in the Pod Identity association", () => {
    const { pipeline, stack } = pipelineIn({ serving: { serviceAccountName: "llm-runner", port: 9000 } });
    expect(pipeline.config.serving.port).toBe(9000);
    expect(pipeline.config.serving.weightsLoader).toBe("init-container");
    Template.fromStack(stack).hasResourceProperties("AWS::EKS::PodIdentityAssociation", {
      ServiceAccount: "llm-runner",
    });
  });

  it("leaves the cluster's access alone with manageClusterAccess: false, but still lets the functions describe it", () => {
    const { pipeline, stack } = pipelineIn({ manageClusterAccess: false });
    const template = Template.fromStack(stack);
    template.resourceCountIs("AWS::EKS::AccessEntry", 0);
    template.resourceCountIs("AWS::EKS::PodIdentityAssociation", 0);
    expect(pipeline.candidateRole).toBeUndefined();
    expect(pipeline.clusterAccessEntries).toEqual({});
    const describes = roleStatements(template, pipeline.functions.DeployCandidate).filter((s) =>
      s.actions.includes("eks:DescribeCluster"),
    );
    expect(describes).toHaveLength(1);
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });

  it("refuses an invalid config at synth, listing every problem with its field", () => {
    const attempt = () =>
      pipelineIn({
        namespace: "Not_A_Kubernetes_Name",
        gpu: { memoryGiB: -1 },
        defaults: { serving: { image: "evil/miner:latest" } },
      });
    expect(attempt).toThrow(/stack config is invalid/);
    let message = "";
    try {
      attempt();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("namespace");
    expect(message).toContain("gpu.memoryGiB");
  });

  it("refuses a config too large to travel in the functions' environment, saying what to shorten", () => {
    const images = Array.from({ length: 80 }, (_, i) => `registry.example.com/team/vllm-openai:v0.11.${i}`);
    expect(() => pipelineIn({ allowedImages: { vllm: images } })).toThrow(
      /4 KiB of environment.*allow-lists/s,
    );
  });
});

describe("The sample stack", () => {
  it("names cdk.json's context and the misspelt key when the config there is wrong", () => {
    const app = testApp({ modelship: { clustername: "gpu" } });
    expect(() => new ModelshipStack(app, "Modelship")).toThrow(
      /cdk\.json[\s\S]*clustername[\s\S]*clusterName/,
    );
  });

  it("reads a config given on the command line as JSON (-c modelship='{…}')", () => {
    const stack = new ModelshipStack(testApp({ modelship: '{"clusterName":"from-cli"}' }), "Modelship");
    expect(stack.pipeline.config.clusterName).toBe("from-cli");
  });

  it("leaves the cluster's access to another stack with -c modelshipManageClusterAccess=false", () => {
    const managed = new ModelshipStack(testApp({}), "Modelship");
    expect(Object.keys(managed.pipeline.clusterAccessEntries).length).toBeGreaterThan(0);
    const unmanaged = new ModelshipStack(testApp({ modelshipManageClusterAccess: "false" }), "Modelship");
    expect(unmanaged.pipeline.clusterAccessEntries).toEqual({});
    Template.fromStack(unmanaged).resourceCountIs("AWS::EKS::PodIdentityAssociation", 0);
    expect(() => new ModelshipStack(testApp({ modelshipManageClusterAccess: "no" }), "Modelship")).toThrow(
      /"modelshipManageClusterAccess" must be true or false/,
    );
  });

  it("says so when a command-line config is not JSON", () => {
    expect(() => new ModelshipStack(testApp({ modelship: "{clusterName: x}" }), "Modelship")).toThrow(
      /"modelship".*not JSON/,
    );
  });
});
