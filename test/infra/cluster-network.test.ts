import { Annotations as StackAnnotations, Stack, Validations } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type { CfnPolicy } from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import type { ModelshipFunction } from "../../lib/core/state-machine/pipeline-functions";
import { ModelPipeline, type ModelPipelineProps } from "../../lib/infra/model-pipeline";
import { ModelshipStack } from "../../lib/infra/sample-stack";
import { cdkJsonContext, roleStatements, synthSampleStack, testApp } from "./synth";

const SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"];
const VPC_CONTEXT = {
  vpcId: "vpc-0123456789abcdef0",
  availabilityZones: ["us-east-1a", "us-east-1b"],
  privateSubnetIds: SUBNETS,
};
const ROUTE_TABLES = ["rtb-0aaaaaaaaaaaaaaa1", "rtb-0bbbbbbbbbbbbbbb2"];
/** The functions whose stage calls the Serving or Gateway port: they reach the cluster. */
const REACHING_THE_CLUSTER: ModelshipFunction[] = [
  "DeployCandidate",
  "CheckCandidate",
  "SmokeTest",
  "StressWorker",
  "EvalShard",
  "RegisterGateway",
  "Shadow",
  "CanaryStep",
  "Promote",
  "Finalize",
  "Rollback",
  "Cleanup",
  "Prober",
  "Command",
  "AlarmRollback",
];
const ENI_ACTIONS = [
  "ec2:AssignPrivateIpAddresses",
  "ec2:CreateNetworkInterface",
  "ec2:DeleteNetworkInterface",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeSubnets",
  "ec2:UnassignPrivateIpAddresses",
];
const LOAD_BALANCER_URL = "http://{service}.candidates.internal.example.com:{port}";

/** A pipeline in a stack of its own; `clusterNetwork: "cluster-vpc"` stands for the cluster's VPC, imported by ids. */
function pipelineIn(
  props: Omit<ModelPipelineProps, "clusterNetwork"> & {
    clusterNetwork?: "cluster-vpc" | ((stack: Stack) => ModelPipelineProps["clusterNetwork"]);
  },
): { pipeline: ModelPipeline; stack: Stack; template: Template } {
  const stack = new Stack(testApp(), "Pipeline");
  const { clusterNetwork, ...rest } = props;
  const vpc = () => ec2.Vpc.fromVpcAttributes(stack, "ClusterVpc", VPC_CONTEXT);
  const pipeline = new ModelPipeline(stack, "ModelPipeline", {
    ...rest,
    ...(clusterNetwork === "cluster-vpc" && { clusterNetwork: { vpc: vpc() } }),
    ...(typeof clusterNetwork === "function" && { clusterNetwork: clusterNetwork(stack) }),
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

describe("ModelPipeline clusterNetwork: the functions that reach the cluster, inside its VPC", () => {
  it("places each function that reaches the cluster in the VPC's private subnets with a security group of their own that only sends", () => {
    const { pipeline, stack, template } = pipelineIn({
      clusterNetwork: "cluster-vpc",
      serving: { internalUrlTemplate: LOAD_BALANCER_URL },
    });
    const [group] = pipeline.clusterNetworkSecurityGroups;
    const groupId = stack.getLogicalId(group!.node.defaultChild as never);
    expect(pipeline.clusterNetworkSecurityGroups).toHaveLength(1);
    for (const name of REACHING_THE_CLUSTER) {
      expect(vpcConfigOf(template, stack, pipeline, name), name).toEqual({
        SubnetIds: SUBNETS,
        SecurityGroupIds: [{ "Fn::GetAtt": [groupId, "GroupId"] }],
      });
    }
    template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      VpcId: VPC_CONTEXT.vpcId,
      SecurityGroupEgress: [{ CidrIp: "0.0.0.0/0", IpProtocol: "-1" }],
      SecurityGroupIngress: Match.absent(),
    });
    template.resourceCountIs("AWS::EC2::SecurityGroupIngress", 0);
  });

  it("leaves the functions that never reach the cluster outside the VPC", () => {
    const { pipeline, stack, template } = pipelineIn({ clusterNetwork: "cluster-vpc" });
    const inVpc = (Object.keys(pipeline.functions) as ModelshipFunction[]).filter(
      (name) => vpcConfigOf(template, stack, pipeline, name) !== undefined,
    );
    expect(inVpc.sort()).toEqual([...REACHING_THE_CLUSTER].sort());
    expect(inVpc).not.toContain("Validate");
    expect(inVpc).not.toContain("Start");
  });

  it("creates the VPC endpoints of exactly the services those functions call, when asked", () => {
    const { pipeline, stack, template } = pipelineIn({
      clusterNetwork: (scope) => ({
        vpc: ec2.Vpc.fromVpcAttributes(scope, "ClusterVpc", {
          ...VPC_CONTEXT,
          privateSubnetRouteTableIds: ROUTE_TABLES,
        }),
        createVpcEndpoints: true,
      }),
    });
    expect(Object.keys(pipeline.vpcEndpoints).sort()).toEqual([
      "cloudwatch",
      "dynamodb",
      "eks",
      "events",
      "s3",
      "sagemaker",
      "scheduler",
      "xray",
    ]);
    const services = Object.values(template.findResources("AWS::EC2::VPCEndpoint")).map((e) =>
      JSON.stringify(e.Properties.ServiceName),
    );
    for (const service of [
      ".s3",
      ".dynamodb",
      ".events",
      ".monitoring",
      ".scheduler",
      ".sagemaker.api",
      ".eks",
      ".xray",
    ]) {
      expect(
        services.some((name) => name.includes(service)),
        service,
      ).toBe(true);
    }
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
      VpcEndpointType: "Gateway",
      RouteTableIds: ROUTE_TABLES,
    });
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
      VpcEndpointType: "Interface",
      PrivateDnsEnabled: true,
      SubnetIds: SUBNETS,
    });
    const [functions] = pipeline.clusterNetworkSecurityGroups;
    template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      IpProtocol: "tcp",
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: {
        "Fn::GetAtt": [stack.getLogicalId(functions!.node.defaultChild as never), "GroupId"],
      },
    });
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });

  it("creates no endpoint unless asked: the VPC may have them, or a NAT gateway, already", () => {
    const { pipeline, template } = pipelineIn({ clusterNetwork: "cluster-vpc" });
    expect(pipeline.vpcEndpoints).toEqual({});
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 0);
  });

  it("uses the subnets and security groups it is given and creates no group", () => {
    const { pipeline, stack, template } = pipelineIn({
      clusterNetwork: (scope) => {
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
    expect(pipeline.clusterNetworkSecurityGroups.map((g) => g.securityGroupId)).toEqual([
      "sg-0123456789abcdef0",
    ]);
  });

  it("lets Lambda create the functions' network interfaces: the EC2 actions are in the policy the function waits for", () => {
    const { pipeline, stack, template } = pipelineIn({ clusterNetwork: "cluster-vpc" });
    const worker = pipeline.functions.StressWorker;
    const eniStatements = roleStatements(template, worker).filter((s) =>
      s.actions.includes("ec2:CreateNetworkInterface"),
    );
    expect(eniStatements).toEqual([{ actions: ENI_ACTIONS, resources: ["*"] }]);
    const policy = worker.role!.node.tryFindChild("DefaultPolicy")!.node.defaultChild as CfnPolicy;
    const functionId = stack.getLogicalId(worker.node.defaultChild as never);
    expect(template.toJSON().Resources[functionId].DependsOn).toContain(stack.getLogicalId(policy));
    const others = roleStatements(template, pipeline.functions.Validate).flatMap((s) => s.actions);
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
    expect(pipeline.clusterNetworkSecurityGroups).toEqual([]);
  });

  it("passes cdk-nag's AwsSolutions checks, the network interfaces' '*' acknowledged with why", () => {
    const { pipeline, stack } = pipelineIn({
      clusterNetwork: "cluster-vpc",
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

describe("ModelPipeline clusterNetwork: warnings about a load path that cannot work", () => {
  it("warns that the workers may not reach the candidates when a template is set but they have no VPC", () => {
    const { stack } = pipelineIn({ serving: { internalUrlTemplate: LOAD_BALANCER_URL } });
    const found = warnings(stack, /may not reach the candidates/);
    expect(found).toHaveLength(1);
    expect(found[0]!.entry.data).toContain(LOAD_BALANCER_URL);
    expect(found[0]!.entry.data).toContain("clusterNetwork: { vpc }");
  });

  it("warns about nothing with the template and the VPC, or with neither", () => {
    for (const props of [
      { clusterNetwork: "cluster-vpc" as const, serving: { internalUrlTemplate: LOAD_BALANCER_URL } },
      { clusterNetwork: "cluster-vpc" as const },
      {},
    ]) {
      const { stack } = pipelineIn(props);
      expect(warnings(stack, /internalUrlTemplate|clusterNetwork/)).toEqual([]);
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
      clusterNetwork: "cluster-vpc",
      serving: { internalUrlTemplate: "http://{service}.{namespace}.svc.cluster.local:{port}" },
    });
    const found = warnings(stack, /cluster DNS name/);
    expect(found).toHaveLength(1);
    expect(found[0]!.entry.data).toContain("internal load balancer");
  });
});

describe("The sample stack: -c modelshipClusterVpc", () => {
  it("runs the functions that reach the cluster in the VPC it names by ids, outputs their security group, passes cdk-nag and warns of nothing", () => {
    const config = cdkJsonContext()["modelship"] as object;
    const { stack, template } = synthSampleStack({
      modelship: { ...config, serving: { internalUrlTemplate: LOAD_BALANCER_URL } },
      modelshipClusterVpc: VPC_CONTEXT,
    });
    const { pipeline } = stack;
    expect(vpcConfigOf(template, stack, pipeline, "StressWorker")?.SubnetIds).toEqual(SUBNETS);
    expect(vpcConfigOf(template, stack, pipeline, "Prober")?.SubnetIds).toEqual(SUBNETS);
    const [group] = pipeline.clusterNetworkSecurityGroups;
    template.hasOutput("ClusterNetworkSecurityGroups", {
      Value: { "Fn::GetAtt": [stack.getLogicalId(group!.node.defaultChild as never), "GroupId"] },
    });
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
    expect(Annotations.fromStack(stack).findWarning("*", Match.anyValue())).toEqual([]);
  });

  it("takes the value as JSON from the command line, with the security groups it names", () => {
    const { stack, template } = synthSampleStack({
      modelshipClusterVpc: JSON.stringify({ ...VPC_CONTEXT, securityGroupIds: ["sg-0123456789abcdef0"] }),
    });
    expect(vpcConfigOf(template, stack, stack.pipeline, "StressWorker")?.SecurityGroupIds).toEqual([
      "sg-0123456789abcdef0",
    ]);
    template.resourceCountIs("AWS::EC2::SecurityGroup", 0);
  });

  it("has no VPC, no security group and no output without the key", () => {
    const { template } = synthSampleStack();
    template.resourceCountIs("AWS::EC2::SecurityGroup", 0);
    expect(template.findOutputs("ClusterNetworkSecurityGroups")).toEqual({});
  });

  it("creates the VPC endpoints with createVpcEndpoints, on the route tables it names, and passes cdk-nag", () => {
    const { stack, template } = synthSampleStack({
      modelshipClusterVpc: {
        ...VPC_CONTEXT,
        privateSubnetRouteTableIds: ROUTE_TABLES,
        createVpcEndpoints: true,
      },
    });
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 8);
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
    expect(Annotations.fromStack(stack).findWarning("*", Match.anyValue())).toEqual([]);
  });

  it("refuses createVpcEndpoints without the subnets' route tables, which the gateway endpoints need", () => {
    expect(
      () =>
        new ModelshipStack(
          testApp({ modelshipClusterVpc: { ...VPC_CONTEXT, createVpcEndpoints: true } }),
          "Modelship",
        ),
    ).toThrow(/privateSubnetRouteTableIds: expected the subnets' route tables with createVpcEndpoints/);
  });

  it("refuses the former key, naming the new one", () => {
    expect(() => new ModelshipStack(testApp({ modelshipLoadTestingVpc: VPC_CONTEXT }), "Modelship")).toThrow(
      /"modelshipLoadTestingVpc" is now "modelshipClusterVpc"/,
    );
  });

  it("lists every problem of a malformed value, naming the key, the field and what was expected", () => {
    let message = "";
    try {
      new ModelshipStack(
        testApp({
          modelshipClusterVpc: {
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
    expect(message).toContain('"modelshipClusterVpc"');
    expect(message).toMatch(/vpcId: expected an id like vpc-/);
    expect(message).toMatch(/securityGroupId: unknown key .*did you mean 'securityGroupIds'/);
    expect(message).toMatch(/privateSubnetIds: .*multiple of the number of availabilityZones/);
  });

  it("says so when a command-line value is not JSON", () => {
    expect(() => new ModelshipStack(testApp({ modelshipClusterVpc: "{vpcId: x}" }), "Modelship")).toThrow(
      /"modelshipClusterVpc" is a string that is not JSON/,
    );
  });
});
