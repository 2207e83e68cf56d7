import { Match } from "aws-cdk-lib/assertions";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { PIPELINE_FUNCTIONS, substitutionKey } from "../../lib/core/state-machine/pipeline-functions";
import type { ModelshipFunction } from "../../lib/core/state-machine/pipeline-functions";
import { type ModelPipeline, TASK_TIMEOUT_MARGIN_SECONDS } from "../../lib/infra/model-pipeline";
import { PIPELINE_DEFINITION_FILE } from "../../lib/infra/pipeline-definition";
import { flatArn, roleStatements, synthSampleStack } from "./synth";

let pipeline: ModelPipeline;
let template: ReturnType<typeof synthSampleStack>["template"];
let id: (construct: { node: { defaultChild?: unknown } }) => string;

beforeAll(() => {
  const synth = synthSampleStack();
  pipeline = synth.stack.pipeline;
  template = synth.template;
  id = (construct) => synth.stack.getLogicalId(construct.node.defaultChild as never);
});

const statementsOf = (name: ModelshipFunction) => roleStatements(template, pipeline.functions[name]);
/** Readable resources of the statements granting `action`. */
const resourcesFor = (name: ModelshipFunction, action: string) =>
  statementsOf(name)
    .filter((s) => s.actions.includes(action))
    .flatMap((s) => s.resources.map(flatArn));

describe("ModelPipeline: the model bucket", () => {
  it("encrypts objects with the pipeline's KMS key, which rotates", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: "aws:kms",
              KMSMasterKeyID: { "Fn::GetAtt": [id(pipeline.key), "Arn"] },
            },
          },
        ],
      },
    });
    template.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true });
  });

  it("blocks every kind of public access", () => {
    template.hasResource("AWS::S3::Bucket", {
      Properties: Match.objectLike({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        NotificationConfiguration: Match.anyValue(),
      }),
    });
  });

  it("denies every request that does not use TLS", () => {
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: id(pipeline.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Action: "s3:*",
            Principal: { AWS: "*" },
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });

  it("keeps object versions and writes server access logs to a bucket of its own", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      VersioningConfiguration: { Status: "Enabled" },
      LoggingConfiguration: { DestinationBucketName: { Ref: id(pipeline.accessLogsBucket!) } },
    });
  });

  it("sends its events to EventBridge without a custom-resource Lambda", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    template.resourceCountIs("Custom::S3BucketNotifications", 0);
  });
});

describe("ModelPipeline: what starts a rollout", () => {
  it("sends a manifest uploaded as models/<name>/<version>/modelship.* to Start", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      EventBusName: Match.absent(),
      EventPattern: {
        source: ["aws.s3"],
        "detail-type": ["Object Created"],
        detail: {
          bucket: { name: [{ Ref: id(pipeline.bucket) }] },
          object: { key: [{ wildcard: "models/*/*/modelship.*" }] },
        },
      },
      Targets: [
        {
          Arn: { "Fn::GetAtt": [id(pipeline.functions.Start), "Arn"] },
          Id: Match.anyValue(),
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [id(pipeline.startDeadLetterQueue), "Arn"] } },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
        },
      ],
    });
  });

  it('sends a "Rollout Requested" command on the pipeline\'s bus to Start', () => {
    template.hasResourceProperties("AWS::Events::EventBus", { Name: "Modelship-ModelPipeline-668C48BE" });
    template.hasResourceProperties("AWS::Events::Rule", {
      EventBusName: { Ref: id(pipeline.eventBus as never) },
      EventPattern: { "detail-type": ["Rollout Requested"] },
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [id(pipeline.functions.Start), "Arn"] } })],
    });
  });

  it("keeps the events Start failed on, after Lambda's own retries, in its dead-letter queue", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: "modelship: Start",
      DeadLetterConfig: { TargetArn: { "Fn::GetAtt": [id(pipeline.startDeadLetterQueue), "Arn"] } },
    });
  });
});

describe("ModelPipeline: the state machine", () => {
  it("is a Standard workflow named after the pipeline, logging everything and traced with X-Ray", () => {
    template.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      StateMachineName: "Modelship-ModelPipeline-668C48BE-pipeline",
      StateMachineType: "STANDARD",
      LoggingConfiguration: {
        Level: "ALL",
        IncludeExecutionData: true,
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: { "Fn::GetAtt": [id(pipeline.stateMachineLogGroup), "Arn"] },
            },
          },
        ],
      },
      TracingConfiguration: { Enabled: true },
    });
  });

  it("fills every ${…} of statemachines/pipeline.asl.json with a pipeline function's ARN", () => {
    const [machine] = Object.values(template.findResources("AWS::StepFunctions::StateMachine"));
    const substitutions = machine!.Properties.DefinitionSubstitutions as Record<string, unknown>;
    const expected = Object.fromEntries(
      PIPELINE_FUNCTIONS.map((name) => [
        substitutionKey(name),
        { "Fn::GetAtt": [id(pipeline.functions[name]), "Arn"] },
      ]),
    );
    expect(substitutions).toEqual(expected);

    const definition = readFileSync(PIPELINE_DEFINITION_FILE, "utf8");
    const resolved = definition.replace(/\$\{([^}]*)\}/g, (placeholder, key: string) =>
      key in substitutions ? `arn-of-${key}` : placeholder,
    );
    expect(resolved.match(/\$\{[^}]*\}/g) ?? []).toEqual([]);
    for (const name of PIPELINE_FUNCTIONS) expect(resolved).toContain(`arn-of-${substitutionKey(name)}`);
  });

  it("may invoke the pipeline's functions and no other", () => {
    const [policy] = Object.values(
      template.findResources("AWS::IAM::Policy", {
        Properties: { Roles: [{ Ref: id(pipeline.stateMachine.role) }] },
      }),
    );
    const invoke = (policy!.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[])
      .filter((s) => s.Action === "lambda:InvokeFunction")
      .flatMap((s) => ([] as unknown[]).concat(s.Resource));
    expect(invoke).toEqual(
      PIPELINE_FUNCTIONS.map((name) => ({ "Fn::GetAtt": [id(pipeline.functions[name]), "Arn"] })),
    );
  });
});

describe("ModelPipeline: the functions", () => {
  it("creates Start, one function per pipeline function, the prober, Command and AlarmRollback, and no other", () => {
    const others = ["Start", "Prober", "Command", "AlarmRollback"];
    expect(Object.keys(pipeline.functions).sort()).toEqual([...others, ...PIPELINE_FUNCTIONS].sort());
    template.resourceCountIs("AWS::Lambda::Function", PIPELINE_FUNCTIONS.length + others.length);
  });

  it("runs every function on nodejs24.x, arm64, with active tracing", () => {
    const functions = Object.values(template.findResources("AWS::Lambda::Function"));
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs24.x",
        Architectures: ["arm64"],
        TracingConfig: { Mode: "Active" },
      });
    }
  });

  it("times each pipeline function out a few seconds before its Tasks, so a Lambda timeout is reported as one", () => {
    const definition = JSON.parse(readFileSync(PIPELINE_DEFINITION_FILE, "utf8")) as unknown;
    const tasks: { Resource: string; TimeoutSeconds: number }[] = [];
    const walk = (node: unknown): void => {
      if (!node || typeof node !== "object") return;
      const state = node as { Type?: string; Resource?: string; TimeoutSeconds?: number };
      if (state.Type === "Task" && state.Resource && state.TimeoutSeconds) {
        tasks.push({ Resource: state.Resource, TimeoutSeconds: state.TimeoutSeconds });
      }
      Object.values(node).forEach(walk);
    };
    walk(definition);
    expect(tasks.length).toBeGreaterThanOrEqual(PIPELINE_FUNCTIONS.length);
    const functions = template.findResources("AWS::Lambda::Function");
    for (const task of tasks) {
      const name = task.Resource.replace(/^\$\{(.+)FunctionArn\}$/, "$1");
      const fn = Object.values(functions).find((f) => f.Properties.Description === `modelship: ${name}`);
      expect(fn?.Properties.Timeout, name).toBe(task.TimeoutSeconds - TASK_TIMEOUT_MARGIN_SECONDS);
    }
    expect(TASK_TIMEOUT_MARGIN_SECONDS).toBeGreaterThanOrEqual(10);
  });

  it("tells every function its bucket, table, bus and the resolved stack config from cdk.json", () => {
    const functions = Object.values(template.findResources("AWS::Lambda::Function"));
    for (const fn of functions) {
      const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
      expect(variables).toMatchObject({
        MODELSHIP_BUCKET: { Ref: id(pipeline.bucket) },
        MODELSHIP_TABLE: { Ref: id(pipeline.rolloutTable) },
        MODELSHIP_EVENT_BUS: { Ref: id(pipeline.eventBus as never) },
        POWERTOOLS_SERVICE_NAME: expect.stringMatching(/^[A-Za-z0-9-]+$/),
      });
      const config = JSON.parse(variables.MODELSHIP_CONFIG as string);
      expect(config).toEqual(pipeline.config);
      expect(config.clusterName).toBe("gpu-inference");
      expect(config.gpu.memoryGiB).toBe(80);
    }
  });

  it("tells only Start (to start it) and Command and AlarmRollback (to answer a waiting approval) which state machine", () => {
    const withArn = Object.values(template.findResources("AWS::Lambda::Function")).filter(
      (fn) => "MODELSHIP_STATE_MACHINE_ARN" in fn.Properties.Environment.Variables,
    );
    expect(withArn.map((fn) => fn.Properties.Description).sort()).toEqual([
      "modelship: AlarmRollback",
      "modelship: Command",
      "modelship: Start",
    ]);
  });

  it("writes each function's logs to a log group of its own with a retention", () => {
    for (const fn of Object.values(template.findResources("AWS::Lambda::Function"))) {
      const logGroupId = (fn.Properties.LoggingConfig.LogGroup as { Ref: string }).Ref;
      expect(template.toJSON().Resources[logGroupId].Properties.RetentionInDays).toBe(90);
    }
  });
});

describe("ModelPipeline: least privilege", () => {
  const bucket = () => `<${id(pipeline.bucket)}.Arn>`;

  it("lets Validate read under models/ and write under reports/ only", () => {
    expect(resourcesFor("Validate", "s3:GetObject")).toEqual([`${bucket()}/models/*`]);
    expect(resourcesFor("Validate", "s3:PutObject")).toEqual([`${bucket()}/reports/*`]);
    expect(statementsOf("Validate").find((s) => s.actions.includes("s3:ListBucket"))?.condition).toEqual({
      StringLike: { "s3:prefix": ["models/*"] },
    });
  });

  it("lets Prepare read manifests, eval suites and prompt sets and list models, not read weights", () => {
    expect(resourcesFor("Prepare", "s3:GetObject")).toEqual([
      `${bucket()}/models/*/*/modelship.*`,
      `${bucket()}/evals/*`,
      `${bucket()}/prompts/*`,
    ]);
    expect(statementsOf("Prepare").find((s) => s.actions.includes("s3:ListBucket"))?.condition).toEqual({
      // Listing evals/ and prompts/ makes a missing file a 404 (not a 403) to HeadObject: Prepare says so.
      StringLike: { "s3:prefix": ["models/*", "evals/*", "prompts/*"] },
    });
    expect(resourcesFor("Prepare", "s3:PutObject")).toEqual([]);
    expect(resourcesFor("Prepare", "dynamodb:UpdateItem")).toEqual([`<${id(pipeline.rolloutTable)}.Arn>`]);
    expect(resourcesFor("Prepare", "events:PutEvents")).toEqual([`<${id(pipeline.eventBus as never)}.Arn>`]);
  });

  it("lets the stress workers read the prompt sets and write reports, and read no weights", () => {
    expect(resourcesFor("StressWorker", "s3:GetObject")).toEqual([`${bucket()}/prompts/*`]);
    expect(resourcesFor("StressWorker", "s3:PutObject")).toEqual([`${bucket()}/reports/*`]);
  });

  it("lets Start start this pipeline's state machine and nothing else", () => {
    const starts = statementsOf("Start").filter((s) => s.actions.some((a) => a.startsWith("states:")));
    expect(starts).toEqual([
      { actions: ["states:StartExecution"], resources: [{ Ref: id(pipeline.stateMachine) }] },
    ]);
    expect(resourcesFor("Start", "s3:GetObject")).toEqual([]);
  });

  it("lets Cleanup use the rollout table and the bus, and the bucket only to read and write the rollout's reports", () => {
    const actions = statementsOf("Cleanup").flatMap((s) => s.actions);
    expect(actions).toEqual(expect.arrayContaining(["dynamodb:UpdateItem", "events:PutEvents"]));
    for (const action of ["s3:GetObject", "s3:PutObject"]) {
      expect(resourcesFor("Cleanup", action), action).toEqual([`${bucket()}/reports/*`]);
    }
    expect(statementsOf("Cleanup").find((s) => s.actions.includes("s3:ListBucket"))?.condition).toEqual({
      StringLike: { "s3:prefix": ["reports/*"] },
    });
  });

  it("lets the functions that talk to the cluster describe the configured cluster only", () => {
    const clusters = Object.keys(pipeline.functions).flatMap((name) =>
      resourcesFor(name as ModelshipFunction, "eks:DescribeCluster"),
    );
    expect(clusters.length).toBeGreaterThan(0);
    expect(new Set(clusters)).toEqual(
      new Set(["arn:<AWS::Partition>:eks:<AWS::Region>:<AWS::AccountId>:cluster/gpu-inference"]),
    );
  });

  it("grants no action wildcards, and '*' resources only to actions IAM cannot scope, or reads it scopes to '*'", () => {
    const allowedOnAnyResource = new Set([
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
      // Composite alarms are returned only to a DescribeAlarms grant on '*'.
      "cloudwatch:DescribeAlarms",
      "cloudwatch:GetMetricData",
      "sagemaker:ListModelPackages",
    ]);
    for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as {
        Action: string | string[];
        Resource: unknown;
      }[]) {
        const actions = ([] as string[]).concat(statement.Action);
        expect(actions.filter((a) => a.includes("*"))).toEqual([]);
        if (([] as unknown[]).concat(statement.Resource).includes("*")) {
          expect(actions.filter((a) => !allowedOnAnyResource.has(a))).toEqual([]);
        }
      }
    }
  });

  it("attaches no AWS managed policy to any role", () => {
    for (const role of Object.values(template.findResources("AWS::IAM::Role"))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe("ModelPipeline: the rollout table", () => {
  it("has string keys pk/sk, on-demand billing, point-in-time recovery, a ttl attribute and KMS encryption", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true },
      SSESpecification: {
        SSEEnabled: true,
        SSEType: "KMS",
        KMSMasterKeyId: { "Fn::GetAtt": [id(pipeline.key), "Arn"] },
      },
    });
  });

  it("is kept when it leaves the stack, like the bucket and the key", () => {
    template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
    template.hasResource("AWS::KMS::Key", { DeletionPolicy: "Retain" });
    template.allResources("AWS::S3::Bucket", { DeletionPolicy: "Retain" });
  });
});

describe("ModelPipeline: access to the cluster", () => {
  const managingCandidates: ModelshipFunction[] = [
    "DeployCandidate",
    "Finalize",
    "Rollback",
    "Cleanup",
    "Command",
    "AlarmRollback",
  ];
  const readingCandidates: ModelshipFunction[] = [
    "CheckCandidate",
    "SmokeTest",
    "StressWorker",
    "EvalShard",
    "Prober",
  ];
  const changingRoutes: ModelshipFunction[] = [
    "RegisterGateway",
    "Shadow",
    "CanaryStep",
    "Promote",
    "Finalize",
    "Rollback",
    "Cleanup",
    "Command",
    "AlarmRollback",
  ];
  const roleArnOf = (name: ModelshipFunction) => ({
    "Fn::GetAtt": [id(pipeline.functions[name].role as never), "Arn"],
  });
  const entryOf = (name: ModelshipFunction) =>
    Object.values(template.findResources("AWS::EKS::AccessEntry")).find(
      (e) => JSON.stringify(e.Properties.PrincipalArn) === JSON.stringify(roleArnOf(name)),
    )?.Properties;
  const editInNamespace = [
    {
      PolicyArn: {
        "Fn::Join": [
          "",
          ["arn:", { Ref: "AWS::Partition" }, ":eks::aws:cluster-access-policy/AmazonEKSEditPolicy"],
        ],
      },
      AccessScope: { Type: "namespace", Namespaces: ["models"] },
    },
  ];

  it("gives each function that creates or deletes candidates an EKS access entry: edit rights in the namespace only", () => {
    for (const name of managingCandidates) {
      expect(entryOf(name), name).toMatchObject({
        ClusterName: "gpu-inference",
        Type: "STANDARD",
        AccessPolicies: editInNamespace,
      });
    }
  });

  it("gives the functions that only read or proxy to candidates no edit rights, only the candidate readers' group", () => {
    for (const name of readingCandidates) {
      expect(entryOf(name)?.AccessPolicies, name).toBeUndefined();
      expect(entryOf(name)?.KubernetesGroups, name).toContain("modelship-candidate-readers");
    }
  });

  it("lets the prober read routes and scrape the serving pods' metrics through their own groups, not the edit group", () => {
    expect(entryOf("Prober")).toEqual({
      ClusterName: "gpu-inference",
      PrincipalArn: roleArnOf("Prober"),
      Type: "STANDARD",
      KubernetesGroups: ["modelship-candidate-readers", "modelship-route-readers", "modelship-pod-metrics"],
    });
  });

  it("puts each function that changes routes in the modelship-routes group, and gives route-only functions no edit rights", () => {
    const entries = Object.values(template.findResources("AWS::EKS::AccessEntry"));
    expect(entries).toHaveLength(
      new Set([...managingCandidates, ...readingCandidates, ...changingRoutes]).size,
    );
    // Promote also scales the new stable to its full size and reads its ready replicas before the route moves,
    // then gives it its own replicas; DeployCandidate checks capacity
    // and makes the candidate's autoscaler; CanaryStep scales the candidate (and, constrained, the stable) and
    // reads their ready replicas; the rollbacks scale a constrained stable back.
    const scaling: Partial<Record<string, string[]>> = {
      Promote: ["modelship-scalers", "modelship-candidate-readers"],
      DeployCandidate: ["modelship-scalers", "modelship-capacity-readers"],
      CanaryStep: ["modelship-scalers", "modelship-candidate-readers"],
      Rollback: ["modelship-scalers"],
      Command: ["modelship-scalers"],
      AlarmRollback: ["modelship-scalers"],
    };
    const groupsOf = (name: string) => ["modelship-routes", ...(scaling[name] ?? [])].sort();
    for (const name of changingRoutes) {
      expect([...(entryOf(name)?.KubernetesGroups ?? [])].sort(), name).toEqual(groupsOf(name));
    }
    for (const name of ["RegisterGateway", "Shadow", "CanaryStep", "Promote"] as const) {
      const entry = entryOf(name);
      expect(entry, name).toMatchObject({
        ClusterName: "gpu-inference",
        PrincipalArn: roleArnOf(name),
        Type: "STANDARD",
      });
      expect([...(entry?.KubernetesGroups ?? [])].sort(), name).toEqual(groupsOf(name));
    }
    for (const name of managingCandidates.filter((n) => !changingRoutes.includes(n))) {
      expect(entryOf(name)?.KubernetesGroups, name).toEqual(scaling[name]);
    }
  });

  it("lets every function with an access entry describe the cluster, to find its endpoint", () => {
    for (const name of new Set([...managingCandidates, ...readingCandidates, ...changingRoutes])) {
      expect(resourcesFor(name, "eks:DescribeCluster"), name).toEqual([
        "arn:<AWS::Partition>:eks:<AWS::Region>:<AWS::AccountId>:cluster/gpu-inference",
      ]);
    }
    expect(resourcesFor("Validate", "eks:DescribeCluster")).toEqual([]);
  });

  it("lets DeployCandidate list the model's files (to find a GGUF file), not read them", () => {
    expect(
      statementsOf("DeployCandidate").find((s) => s.actions.includes("s3:ListBucket"))?.condition,
    ).toEqual({
      StringLike: { "s3:prefix": ["models/*"] },
    });
    expect(resourcesFor("DeployCandidate", "s3:GetObject")).toEqual([]);
  });

  it("binds the candidates' service account through Pod Identity to a role that only reads models/ and decrypts it", () => {
    const role = pipeline.candidateRole!;
    template.hasResourceProperties("AWS::EKS::PodIdentityAssociation", {
      ClusterName: "gpu-inference",
      Namespace: "models",
      ServiceAccount: "modelship-candidate",
      RoleArn: { "Fn::GetAtt": [id(role), "Arn"] },
    });
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "pods.eks.amazonaws.com" },
            Action: ["sts:AssumeRole", "sts:TagSession"],
          },
        ],
      },
    });
    const [policy] = Object.values(
      template.findResources("AWS::IAM::Policy", { Properties: { Roles: [{ Ref: id(role) }] } }),
    );
    const statements = (
      policy!.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]
    ).map((s) => ({
      actions: ([] as string[]).concat(s.Action),
      resources: ([] as unknown[]).concat(s.Resource).map(flatArn),
    }));
    expect(statements).toEqual([
      { actions: ["s3:GetObject"], resources: [`<${id(pipeline.bucket)}.Arn>/models/*`] },
      { actions: ["s3:ListBucket"], resources: [`<${id(pipeline.bucket)}.Arn>`] },
      { actions: ["kms:Decrypt"], resources: [`<${id(pipeline.key)}.Arn>`] },
    ]);
  });
});
