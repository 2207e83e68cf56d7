import { Annotations as StackAnnotations, Stack, Validations } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type { CfnPolicy } from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import type { ModelshipFunction } from "../../lib/core/pipeline-functions";
import { ModelPipeline, type ModelPipelineProps } from "../../lib/infra/model-pipeline";
import { ModelshipStack } from "../../lib/infra/sample-stack";
import { cdkJsonContext, roleStatements, synthSampleStack, testApp } from "./synth";

const SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"];
const VPC_CONTEXT = {
  vpcId: "vpc-0123456789abcdef0",
  availabilityZones: ["us-east-1a", "us-east-1b"],
  privateSubnetIds: SUBNETS,
};
const ENI_ACTIONS = [
  "ec2:AssignPrivateIpAddresses",
  "ec2:CreateNetworkInterface",
  "ec2:DeleteNetworkInterface",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeSubnets",
  "ec2:UnassignPrivateIpAddresses",
];
const LOAD_BALANCER_URL = "http://{service}.candidates.internal.example.com:{port}";

/** A pipeline in a stack of its own; `loadTesting: "cluster-vpc"` stands for the cluster's VPC, imported by ids. */
function pipelineIn(
  props: Omit<ModelPipelineProps, "loadTesting"> & {
    loadTesting?: "cluster-vpc" | ((stack: Stack) => ModelPipelineProps["loadTesting"]);
  },
): { pipeline: ModelPipeline; stack: Stack; template: Template } {
  const stack = new Stack(testApp(), "Pipeline");
  const { loadTesting, ...rest } = props;
  const vpc = () => ec2.Vpc.fromVpcAttributes(stack, "ClusterVpc", VPC_CONTEXT);
  const pipeline = new ModelPipeline(stack, "ModelPipeline", {
    ...rest,
    ...(loadTesting === "cluster-vpc" && { loadTesting: { vpc: vpc() } }),
    ...(typeof loadTesting === "function" && { loadTesting: loadTesting(stack) }),
  });
  return { pipeline, stack, template: Template.fromStack(stack) };
}

function vpcConfigOf(template: Template, stack: Stack, pipeline: ModelPipeline, name: ModelshipFunction) {
  const id = stack.getLogicalId(pipeline.functions[name].node.defaultChild as never);
  return template.toJSON().Resources[id].Properties.VpcConfig as
    { SubnetIds: unknown[]; SecurityGroupIds: unknown[] } | undefined;
}

const warnings = (stack: Stack, pattern: RegExp) =>
  Annotations.fromStack(stack).findWarning("*", Match.stringLikeRegexp(pattern.source));

describe("ModelPipeline loadTesting: the load workers inside the cluster's VPC", () => {
  it("places StressWorker in the VPC's private subnets with a security group of its own that only sends", () => {
    const { pipeline, stack, template } = pipelineIn({
      loadTesting: "cluster-vpc",
      serving: { internalUrlTemplate: LOAD_BALANCER_URL },
    });
    const [group] = pipeline.loadWorkerSecurityGroups;
    const groupId = stack.getLogicalId(group!.node.defaultChild as never);
    expect(pipeline.loadWorkerSecurityGroups).toHaveLength(1);
    expect(vpcConfigOf(template, stack, pipeline, "StressWorker")).toEqual({
      SubnetIds: SUBNETS,
      SecurityGroupIds: [{ "Fn::GetAtt": [groupId, "GroupId"] }],
    });
    template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      VpcId: VPC_CONTEXT.vpcId,
      SecurityGroupEgress: [{ CidrIp: "0.0.0.0/0", IpProtocol: "-1" }],
      SecurityGroupIngress: Match.absent(),
    });
    template.resourceCountIs("AWS::EC2::SecurityGroupIngress", 0);
  });

  it("leaves every other function outside the VPC, EvalShard included: its requests take the service proxy", () => {
    const { pipeline, stack, template } = pipelineIn({ loadTesting: "cluster-vpc" });
    const inVpc = (Object.keys(pipeline.functions) as ModelshipFunction[]).filter(
      (name) => vpcConfigOf(template, stack, pipeline, name) !== undefined,
    );
    expect(inVpc).toEqual(["StressWorker"]);
  });

  it("uses the subnets and security groups it is given and creates no group", () => {
    const { pipeline, stack, template } = pipelineIn({
      loadTesting: (scope) => {
        const vpc = ec2.Vpc.fromVpcAttributes(scope, "ClusterVpc", VPC_CONTEXT);
        return {
          vpc,
          vpcSubnets: { subnets: [ec2.Subnet.fromSubnetId(scope, "LoadSubnet", "subnet-0ccccccccccccccc3")] },
          securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(scope, "Platform", "sg-0123456789abcdef0")],
        };
      },
    });
    expect(vpcConfigOf(template, stack, pipeline, "StressWorker")).toEqual({
      SubnetIds: ["subnet-0ccccccccccccccc3"],
      SecurityGroupIds: ["sg-0123456789abcdef0"],
    });
    template.resourceCountIs("AWS::EC2::SecurityGroup", 0);
    expect(pipeline.loadWorkerSecurityGroups.map((g) => g.securityGroupId)).toEqual(["sg-0123456789abcdef0"]);
  });

  it("lets Lambda create the workers' network interfaces: the EC2 actions are in the policy the function waits for", () => {
    const { pipeline, stack, template } = pipelineIn({ loadTesting: "cluster-vpc" });
    const worker = pipeline.functions.StressWorker;
    const eniStatements = roleStatements(template, worker).filter((s) =>
      s.actions.includes("ec2:CreateNetworkInterface"),
    );
    expect(eniStatements).toEqual([{ actions: ENI_ACTIONS, resources: ["*"] }]);
    const policy = worker.role!.node.tryFindChild("DefaultPolicy")!.node.defaultChild as CfnPolicy;
    const functionId = stack.getLogicalId(worker.node.defaultChild as never);
    expect(template.toJSON().Resources[functionId].DependsOn).toContain(stack.getLogicalId(policy));
    const others = roleStatements(template, pipeline.functions.EvalShard).flatMap((s) => s.actions);
    expect(others.filter((action) => action.startsWith("ec2:"))).toEqual([]);
  });

  it("keeps every function out of any VPC without the prop, with no EC2 rights and no security group", () => {
    const { pipeline, stack, template } = pipelineIn({});
    for (const name of Object.keys(pipeline.functions) as ModelshipFunction[]) {
      expect(vpcConfigOf(template, stack, pipeline, name), name).toBeUndefined();
      const actions = roleStatements(template, pipeline.functions[name]).flatMap((s) => s.actions);
      expect(
        actions.filter((action) => action.startsWith("ec2:")),
        name,
      ).toEqual([]);
    }
    template.resourceCountIs("AWS::EC2::SecurityGroup", 0);
    expect(pipeline.loadWorkerSecurityGroups).toEqual([]);
  });

  it("passes cdk-nag's AwsSolutions checks, the network interfaces' '*' acknowledged with why", () => {
    const { pipeline, stack } = pipelineIn({
      loadTesting: "cluster-vpc",
      serving: { internalUrlTemplate: LOAD_BALANCER_URL },
    });
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
    const reasons = pipeline.functions.StressWorker.role!.node.metadata.filter(
      (m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY,
    ).flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(reasons).toContainEqual([
      expect.stringMatching(/AwsSolutions-IAM5\[Resource::\*\]$/),
      expect.stringContaining("AWSLambdaVPCAccessExecutionRole"),
    ]);
  });
});

describe("ModelPipeline loadTesting: warnings about a load path that cannot work", () => {
  it("warns that the workers may not reach the candidates when a template is set but they have no VPC", () => {
    const { stack } = pipelineIn({ serving: { internalUrlTemplate: LOAD_BALANCER_URL } });
    const found = warnings(stack, /may not reach the candidates/);
    expect(found).toHaveLength(1);
    expect(found[0]!.entry.data).toContain(LOAD_BALANCER_URL);
    expect(found[0]!.entry.data).toContain("loadTesting: { vpc }");
  });

  it("warns about nothing with the template and the VPC, or with neither", () => {
    for (const props of [
      { loadTesting: "cluster-vpc" as const, serving: { internalUrlTemplate: LOAD_BALANCER_URL } },
      {},
    ]) {
      const { stack } = pipelineIn(props);
      expect(warnings(stack, /internalUrlTemplate|loadTesting/)).toEqual([]);
    }
  });

  it("lets a user whose URL is public acknowledge the warning", () => {
    const { pipeline } = pipelineIn({ serving: { internalUrlTemplate: LOAD_BALANCER_URL } });
    StackAnnotations.of(pipeline).acknowledgeWarning(
      "modelship:load-workers-outside-vpc",
      "The load balancer is internet-facing",
    );
    expect(warnings(Stack.of(pipeline), /may not reach the candidates/)).toEqual([]);
  });

  it("warns that a cluster DNS name is out of a function's reach, even inside the VPC", () => {
    const { stack } = pipelineIn({
      loadTesting: "cluster-vpc",
      serving: { internalUrlTemplate: "http://{service}.{namespace}.svc.cluster.local:{port}" },
    });
    const found = warnings(stack, /cluster DNS name/);
    expect(found).toHaveLength(1);
    expect(found[0]!.entry.data).toContain("internal load balancer");
  });

  it("warns that the load still takes the service proxy when the workers have a VPC but no template", () => {
    const { stack } = pipelineIn({ loadTesting: "cluster-vpc" });
    expect(warnings(stack, /still goes through the API server's service proxy/)).toHaveLength(1);
  });
});

describe("The sample stack: -c modelshipLoadTestingVpc", () => {
  it("runs the load workers in the VPC it names by ids, outputs their security group, passes cdk-nag and warns of nothing", () => {
    const config = cdkJsonContext()["modelship"] as object;
    const { stack, template } = synthSampleStack({
      modelship: { ...config, serving: { internalUrlTemplate: LOAD_BALANCER_URL } },
      modelshipLoadTestingVpc: VPC_CONTEXT,
    });
    const { pipeline } = stack;
    expect(vpcConfigOf(template, stack, pipeline, "StressWorker")?.SubnetIds).toEqual(SUBNETS);
    const [group] = pipeline.loadWorkerSecurityGroups;
    template.hasOutput("LoadWorkerSecurityGroups", {
      Value: { "Fn::GetAtt": [stack.getLogicalId(group!.node.defaultChild as never), "GroupId"] },
    });
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
    expect(Annotations.fromStack(stack).findWarning("*", Match.anyValue())).toEqual([]);
  });

  it("takes the value as JSON from the command line, with the security groups it names", () => {
    const { stack, template } = synthSampleStack({
      modelshipLoadTestingVpc: JSON.stringify({ ...VPC_CONTEXT, securityGroupIds: ["sg-0123456789abcdef0"] }),
    });
    expect(vpcConfigOf(template, stack, stack.pipeline, "StressWorker")?.SecurityGroupIds).toEqual([
      "sg-0123456789abcdef0",
    ]);
    template.resourceCountIs("AWS::EC2::SecurityGroup", 0);
  });

  it("has no VPC, no security group and no output without the key", () => {
    const { template } = synthSampleStack();
    template.resourceCountIs("AWS::EC2::SecurityGroup", 0);
    expect(template.findOutputs("LoadWorkerSecurityGroups")).toEqual({});
  });

  it("lists every problem of a malformed value, naming the key, the field and what was expected", () => {
    let message = "";
    try {
      new ModelshipStack(
        testApp({
          modelshipLoadTestingVpc: {
            vpcId: "vpc-xyz",
            availabilityZones: ["us-east-1a", "us-east-1b"],
            privateSubnetIds: [...SUBNETS, "subnet-0ccccccccccccccc3"],
            securityGroupId: ["sg-0123456789abcdef0"],
          },
        }),
        "Modelship",
      );
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('"modelshipLoadTestingVpc"');
    expect(message).toMatch(/vpcId: expected an id like vpc-/);
    expect(message).toMatch(/securityGroupId: unknown key .*did you mean 'securityGroupIds'/);
    expect(message).toMatch(/privateSubnetIds: .*multiple of the number of availabilityZones/);
  });

  it("says so when a command-line value is not JSON", () => {
    expect(() => new ModelshipStack(testApp({ modelshipLoadTestingVpc: "{vpcId: x}" }), "Modelship")).toThrow(
      /"modelshipLoadTestingVpc" is a string that is not JSON/,
    );
  });
});
