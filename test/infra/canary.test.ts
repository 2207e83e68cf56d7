import { Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import type { ModelshipFunction } from "../../lib/core/state-machine/pipeline-functions";
import { ModelPipeline } from "../../lib/infra/model-pipeline";
import { flatArn, roleStatements, synthSampleStack, testApp } from "./synth";

let pipeline: ModelPipeline;
let template: Template;
let id: (construct: { node: { defaultChild?: unknown } }) => string;

beforeAll(() => {
  const synth = synthSampleStack();
  pipeline = synth.stack.pipeline;
  template = synth.template;
  id = (construct) => synth.stack.getLogicalId(construct.node.defaultChild as never);
});

const ALL_FUNCTIONS = (): ModelshipFunction[] => Object.keys(pipeline.functions) as ModelshipFunction[];
const statementsOf = (name: ModelshipFunction) => roleStatements(template, pipeline.functions[name]);
/** Readable resources of the statements granting `action` to the function. */
const resourcesFor = (name: ModelshipFunction, action: string) =>
  statementsOf(name)
    .filter((s) => s.actions.includes(action))
    .flatMap((s) => s.resources.map(flatArn));
/** The stages that arm a rollout's alarms and prober: the first step, a first release's Promote, and a shadow's start. */
const ARMING: ModelshipFunction[] = ["CanaryStep", "Promote", "Shadow"];
/** The functions granted any action of the service (`cloudwatch:`, `scheduler:`, …), sorted. */
const functionsWith = (prefix: string) =>
  ALL_FUNCTIONS()
    .filter((name) => statementsOf(name).some((s) => s.actions.some((a) => a.startsWith(prefix))))
    .sort();
const variablesOf = (name: ModelshipFunction) => {
  const fn = template.toJSON().Resources[id(pipeline.functions[name])];
  return fn.Properties.Environment.Variables as Record<string, unknown>;
};
const arnOf = (construct: { node: { defaultChild?: unknown } }) => ({ "Fn::GetAtt": [id(construct), "Arn"] });

const ACCOUNT = "<AWS::Region>:<AWS::AccountId>";
/** The sample stack's pipeline names its resources after its path: stack, construct and a hash of them. */
const BASE = "Modelship-ModelPipeline-668C48BE";
const ALARMS = `arn:<AWS::Partition>:cloudwatch:${ACCOUNT}:alarm:${BASE}-*`;
const SCHEDULES = `arn:<AWS::Partition>:scheduler:${ACCOUNT}:schedule/${BASE}-probers/modelship-*`;
const PACKAGE_GROUPS = `arn:<AWS::Partition>:sagemaker:${ACCOUNT}:model-package-group/*`;
const PACKAGES = `arn:<AWS::Partition>:sagemaker:${ACCOUNT}:model-package/*`;
const ROLLING_BACK: ModelshipFunction[] = ["AlarmRollback", "Command", "Rollback"];

describe("ModelPipeline: what rolls a canary back", () => {
  it("sends a composite alarm of this pipeline going to ALARM, from the default bus, to AlarmRollback", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      EventBusName: Match.absent(),
      EventPattern: {
        source: ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        detail: {
          alarmName: [{ prefix: `${BASE}-` }],
          state: { value: ["ALARM"] },
          configuration: { alarmRule: [{ exists: true }] },
        },
      },
      Targets: [
        {
          Arn: arnOf(pipeline.functions.AlarmRollback),
          Id: Match.anyValue(),
          DeadLetterConfig: { Arn: arnOf(pipeline.commandDeadLetterQueue) },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
        },
      ],
    });
    expect(id(pipeline.alarmRollbackRule)).toBeDefined();
  });

  it("sends Rollback, Promote, Abort, Approve and Reject Requested on the modelship bus to Command, and the registry's approvals", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      EventBusName: { Ref: id(pipeline.eventBus as never) },
      EventPattern: {
        "detail-type": [
          "Rollback Requested",
          "Promote Requested",
          "Abort Requested",
          "Approve Requested",
          "Reject Requested",
        ],
      },
      Targets: [
        {
          Arn: arnOf(pipeline.functions.Command),
          Id: Match.anyValue(),
          DeadLetterConfig: { Arn: arnOf(pipeline.commandDeadLetterQueue) },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
        },
      ],
    });
    // On the default bus: only packages modelship registered, set to Approved or Rejected.
    template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        source: ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        // AWS's event carries only the package's ARN and status: Command reads the rest (DescribeModelPackage).
        detail: { ModelApprovalStatus: ["Approved", "Rejected"] },
      },
      Targets: [Match.objectLike({ Arn: arnOf(pipeline.functions.Command) })],
    });
    const commandRules = Object.values(template.findResources("AWS::Events::Rule")).filter((rule) =>
      JSON.stringify(rule.Properties.Targets).includes(id(pipeline.functions.Command)),
    );
    expect(commandRules).toHaveLength(2);
  });

  it("keeps what Command and AlarmRollback failed on, after Lambda's own retries, in the command dead-letter queue", () => {
    for (const name of ["Command", "AlarmRollback"] as const) {
      template.hasResourceProperties("AWS::Lambda::Function", {
        Description: `modelship: ${name}`,
        DeadLetterConfig: { TargetArn: arnOf(pipeline.commandDeadLetterQueue) },
      });
    }
  });

  it("gives Command and AlarmRollback as long as the Rollback Task, since they run the same rollback", () => {
    const timeout = (name: ModelshipFunction) =>
      template.toJSON().Resources[id(pipeline.functions[name])].Properties.Timeout as number;
    expect(timeout("Command")).toBe(timeout("Rollback"));
    expect(timeout("AlarmRollback")).toBe(timeout("Rollback"));
  });
});

describe("ModelPipeline: the prober and its schedules", () => {
  it("has a schedule group of its own for the prober's schedules", () => {
    template.hasResourceProperties("AWS::Scheduler::ScheduleGroup", { Name: `${BASE}-probers` });
    template.resourceCountIs("AWS::Scheduler::ScheduleGroup", 1);
  });

  it("lets only EventBridge Scheduler, for this account's prober schedule group, assume the scheduler role", () => {
    const role = template.toJSON().Resources[id(pipeline.schedulerRole)];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } },
          ArnEquals: { "aws:SourceArn": arnOf(pipeline.proberScheduleGroup) },
        },
      },
    ]);
  });

  it("lets the scheduler role invoke the prober and do nothing else", () => {
    const policies = Object.values(
      template.findResources("AWS::IAM::Policy", {
        Properties: { Roles: [{ Ref: id(pipeline.schedulerRole) }] },
      }),
    );
    expect(policies.flatMap((p) => p.Properties.PolicyDocument.Statement)).toEqual([
      { Effect: "Allow", Action: "lambda:InvokeFunction", Resource: arnOf(pipeline.functions.Prober) },
    ]);
    expect(role(pipeline.schedulerRole).ManagedPolicyArns).toBeUndefined();
  });

  it("gives the prober a minute of probe rounds plus a margin", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: "modelship: Prober",
      Timeout: 90,
    });
  });

  it("tells the functions that start the prober its ARN, the scheduler role and the group; the others at most the group", () => {
    const starting = ALL_FUNCTIONS().filter((name) => "MODELSHIP_PROBER_FUNCTION_ARN" in variablesOf(name));
    expect(starting.sort()).toEqual(ARMING);
    for (const name of starting) {
      expect(variablesOf(name)).toMatchObject({
        MODELSHIP_PROBER_FUNCTION_ARN: arnOf(pipeline.functions.Prober),
        MODELSHIP_SCHEDULER_ROLE_ARN: arnOf(pipeline.schedulerRole),
        MODELSHIP_SCHEDULE_GROUP: `${BASE}-probers`,
      });
    }
    const withGroup = ALL_FUNCTIONS().filter((name) => "MODELSHIP_SCHEDULE_GROUP" in variablesOf(name));
    expect(withGroup.sort()).toEqual(
      ["AlarmRollback", "Command", "Finalize", "Prober", "Rollback", ...ARMING].sort(),
    );
    expect("MODELSHIP_SCHEDULER_ROLE_ARN" in variablesOf("Prober")).toBe(false);
  });

  it("lets the arming stages create and update schedules in the group only, passing only the scheduler role to Scheduler", () => {
    for (const name of ARMING) {
      for (const action of ["scheduler:CreateSchedule", "scheduler:UpdateSchedule"]) {
        expect(resourcesFor(name, action), `${name} ${action}`).toEqual([SCHEDULES]);
      }
      expect(statementsOf(name).filter((s) => s.actions.includes("iam:PassRole"))).toEqual([
        {
          actions: ["iam:PassRole"],
          resources: [arnOf(pipeline.schedulerRole)],
          condition: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } },
        },
      ]);
    }
    expect(functionsWith("scheduler:CreateSchedule")).toEqual(ARMING);
    expect(functionsWith("iam:")).toEqual(ARMING);
  });

  it("lets the functions that end a canary, the prober itself, and those that start one (to take it back when a rollback acted meanwhile) delete the group's schedules and no others", () => {
    const deleting = ["AlarmRollback", "Command", "Finalize", "Prober", "Rollback", ...ARMING].sort();
    for (const name of deleting as ModelshipFunction[]) {
      expect(resourcesFor(name, "scheduler:DeleteSchedule"), name).toEqual([SCHEDULES]);
    }
    expect(functionsWith("scheduler:DeleteSchedule")).toEqual(deleting);
  });
});

describe("ModelPipeline: CloudWatch alarms", () => {
  it("lets the arming stages create alarms named with the pipeline's prefix only", () => {
    for (const name of ARMING) {
      expect(resourcesFor(name, "cloudwatch:PutMetricAlarm"), name).toEqual([ALARMS]);
      expect(resourcesFor(name, "cloudwatch:PutCompositeAlarm"), name).toEqual([ALARMS]);
    }
    expect(functionsWith("cloudwatch:Put")).toEqual(ARMING);
  });

  it("lets Finalize, the rollbacks and the arming stages (taking their alarms back after a rollback) delete alarms named with the pipeline's prefix only", () => {
    const deleting = ["AlarmRollback", "Command", "Finalize", "Rollback", ...ARMING].sort();
    for (const name of deleting as ModelshipFunction[]) {
      expect(resourcesFor(name, "cloudwatch:DeleteAlarms"), name).toEqual([ALARMS]);
    }
    expect(functionsWith("cloudwatch:DeleteAlarms")).toEqual(deleting);
  });

  it("lets CheckCanary, CheckShadow and the rollbacks read alarm states and values, and Finalize its alarms' metrics for the report, on '*' as composite alarms require", () => {
    const reading = ["AlarmRollback", "CheckCanary", "Command", "Finalize", "Rollback", "Shadow"];
    for (const name of reading as ModelshipFunction[]) {
      expect(resourcesFor(name, "cloudwatch:DescribeAlarms"), name).toEqual(["*"]);
      expect(resourcesFor(name, "cloudwatch:GetMetricData"), name).toEqual(["*"]);
    }
    expect(functionsWith("cloudwatch:GetMetricData")).toEqual(reading);
    // Whoever deletes alarms describes them first, to delete the composite before the alarms it names.
    expect(functionsWith("cloudwatch:DescribeAlarms")).toEqual([...new Set([...reading, ...ARMING])].sort());
  });

  it("gives the prober no CloudWatch action: its metrics are Embedded Metric Format lines in its own log", () => {
    expect(
      statementsOf("Prober").flatMap((s) => s.actions.filter((a) => a.startsWith("cloudwatch:"))),
    ).toEqual([]);
    expect(resourcesFor("Prober", "dynamodb:PutItem")).toEqual([]);
    expect(resourcesFor("Prober", "dynamodb:GetItem")).toEqual([`<${id(pipeline.rolloutTable)}.Arn>`]);
  });
});

describe("ModelPipeline: the SageMaker Model Registry", () => {
  it("lets RegisterGateway create package groups and versions in this account and region only", () => {
    expect(resourcesFor("RegisterGateway", "sagemaker:CreateModelPackageGroup")).toEqual([PACKAGE_GROUPS]);
    expect(resourcesFor("RegisterGateway", "sagemaker:DescribeModelPackageGroup")).toEqual([PACKAGE_GROUPS]);
    expect(resourcesFor("RegisterGateway", "sagemaker:CreateModelPackage")).toEqual([
      PACKAGE_GROUPS,
      PACKAGES,
    ]);
    expect(functionsWith("sagemaker:Create")).toEqual(["RegisterGateway"]);
  });

  it("lets Promote, the rollbacks and Cleanup change a version's approval status, and nothing creates or deletes there", () => {
    // Cleanup rejects a version that failed at or after RegisterGateway, so it is not left pending approval;
    // RegisterGateway rejects its own registration again when a rollback acted while it registered.
    const approving = ["AlarmRollback", "Cleanup", "Command", "Promote", "RegisterGateway", "Rollback"];
    for (const name of approving as ModelshipFunction[]) {
      expect(resourcesFor(name, "sagemaker:UpdateModelPackage"), name).toEqual([PACKAGES]);
    }
    expect(functionsWith("sagemaker:UpdateModelPackage")).toEqual(approving);
    expect(functionsWith("sagemaker:")).toEqual(approving);
    const actions = ALL_FUNCTIONS().flatMap((name) =>
      statementsOf(name).flatMap((s) => s.actions.filter((a) => a.startsWith("sagemaker:"))),
    );
    expect(actions.filter((a) => /Delete|AddTags/.test(a))).toEqual([]);
  });
});

describe("ModelPipeline: the rollbacks' reach", () => {
  it("lets Command and AlarmRollback do what Rollback does and answer a waiting approval, no more — Command also lists the table to name the models it knows", () => {
    const actionsOf = (name: ModelshipFunction) =>
      statementsOf(name)
        .flatMap((s) => s.actions.map((a) => `${a} ${JSON.stringify(s.resources.map(flatArn))}`))
        .filter((a) => !a.startsWith("logs:") && !a.startsWith("sqs:"))
        .map((a) => a.replaceAll(id(pipeline.functions.Rollback), "<self>"))
        .sort();
    const rollback = actionsOf("Rollback");
    const scan = rollback.find((a) => a.startsWith("dynamodb:Query "))!.replace("Query", "Scan");
    // The task responses, on this pipeline's state machine only.
    const machine = JSON.stringify([flatArn(template.toJSON().Outputs["StateMachineArn"].Value)]);
    const fail = `states:SendTaskFailure ${machine}`;
    const succeed = `states:SendTaskSuccess ${machine}`;
    for (const name of ROLLING_BACK) {
      const expected =
        name === "Rollback"
          ? rollback
          : name === "Command"
            ? [...rollback, scan, fail, succeed].sort()
            : [...rollback, fail].sort();
      expect(actionsOf(name), name).toEqual(expected);
    }
  });
});

describe("ModelshipStack outputs", () => {
  it("names the bucket, the bus, the rollout table and the state machine", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs["BucketName"]?.Value).toEqual({ Ref: id(pipeline.bucket as never) });
    expect(outputs["EventBusName"]?.Value).toEqual({ Ref: id(pipeline.eventBus as never) });
    expect(outputs["RolloutTableName"]?.Value).toEqual({ Ref: id(pipeline.rolloutTable) });
    expect(outputs["StateMachineArn"]?.Value).toEqual({ Ref: id(pipeline.stateMachine) });
  });
});

describe("ModelPipeline props: the gateway and the canary's metrics", () => {
  it("hands gateway and canaryMetrics, merged over their defaults, to the functions", () => {
    const stack = new Stack(testApp(), "Canary");
    const custom = new ModelPipeline(stack, "ModelPipeline", {
      gateway: { url: "https://gateway.internal", modelHeader: "" },
      canaryMetrics: { probeEverySeconds: 30, namespace: "llm-canary" },
    });
    expect(custom.config.gateway).toEqual({
      url: "https://gateway.internal",
      modelHeader: "",
      pathPrefix: "/v1",
      sessionPersistence: false,
    });
    expect(custom.config.canaryMetrics).toMatchObject({
      probeEverySeconds: 30,
      namespace: "llm-canary",
      probeRequests: 2,
    });
    const local = Template.fromStack(stack);
    const [fn] = Object.values(
      local.findResources("AWS::Lambda::Function", { Properties: { Description: "modelship: CanaryStep" } }),
    );
    expect(JSON.parse(fn!.Properties.Environment.Variables.MODELSHIP_CONFIG).gateway.url).toBe(
      "https://gateway.internal",
    );
  });
});

function role(construct: { node: { defaultChild?: unknown } }): Record<string, unknown> {
  return template.toJSON().Resources[id(construct)].Properties;
}
