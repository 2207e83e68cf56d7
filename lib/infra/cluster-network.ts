// Where the functions that reach the cluster or its candidates run: with `clusterNetwork`, inside the
// cluster's VPC. Which functions those are follows from their port use (lib/pipeline/function-port-use.ts):
// every function that calls the Serving or Gateway port talks to the cluster's API server (a private-only
// endpoint is reachable only from the VPC) and, through it or at `serving.internalUrlTemplate`, to the
// candidates. In the VPC they get a security group the platform team allows on the cluster's side, and the
// AWS services they call must be reachable from their subnets: through a NAT gateway, or the VPC endpoints
// the construct creates with `createVpcEndpoints` — for exactly the services those functions call.
// Also the synth-time warnings for a load path that cannot work as configured.

import { Annotations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import type { ServingConfig } from "../core/config/config";
import type { ModelshipFunction } from "../core/state-machine/pipeline-functions";
import { FUNCTION_PORT_USE } from "../pipeline/function-port-use";
import { type Grant, needsOf } from "./function-access";

export interface ClusterNetworkProps {
  /**
   * The VPC the functions that reach the cluster run in: the cluster's (or one peered with it), from which its
   * API endpoint — private or public — and the candidates are reachable.
   */
  readonly vpc: ec2.IVpc;
  /**
   * The subnets of `vpc` the functions' network interfaces are placed in. They need a route to the AWS
   * services the functions call: a NAT gateway, or the VPC endpoints (`createVpcEndpoints`).
   *
   * @default - the VPC's private subnets (with egress), as CDK places a function in a VPC
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * The security groups of the functions. The cluster's side must allow them: its control plane's security
   * group on 443 (the API server), and the candidates' serving port for in-VPC load (docs/eks.md).
   *
   * @default - a security group of their own, egress only: `ModelPipeline.clusterNetworkSecurityGroups`
   */
  readonly securityGroups?: readonly ec2.ISecurityGroup[];
  /**
   * Whether the construct creates the VPC endpoints of the services those functions call — S3 and DynamoDB
   * (gateway endpoints, on the subnets' route tables), EventBridge, CloudWatch, EventBridge Scheduler, the
   * SageMaker API, EKS and X-Ray (interface endpoints with private DNS, in the subnets) — so that subnets with no NAT
   * gateway work. Leave it off when the VPC has those endpoints, or a NAT gateway, already: a VPC has one
   * private DNS name per service.
   *
   * @default false
   */
  readonly createVpcEndpoints?: boolean;
}

/** The functions placed in `clusterNetwork.vpc`: those whose stage calls the Serving or Gateway port. */
export function clusterFunctions(): ModelshipFunction[] {
  return (Object.keys(FUNCTION_PORT_USE) as ModelshipFunction[]).filter((name) => {
    const use: Readonly<Record<string, unknown>> = FUNCTION_PORT_USE[name];
    return "serving" in use || "gateway" in use;
  });
}

/** A function's place in the VPC, as Lambda function props. */
export interface FunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
}

/** The functions' place in the VPC: the security groups given, or one created for them (egress only). */
export function functionNetwork(scope: Construct, network: ClusterNetworkProps): FunctionNetwork {
  const given = network.securityGroups ?? [];
  const securityGroups =
    given.length > 0
      ? [...given]
      : [
          new ec2.SecurityGroup(scope, "ClusterNetworkSecurityGroup", {
            vpc: network.vpc,
            description:
              "modelship functions that reach the cluster: egress only. Allow it on the cluster API (443) and the candidates serving port",
            allowAllOutbound: true,
          }),
        ];
  return {
    vpc: network.vpc,
    ...(network.vpcSubnets && { vpcSubnets: network.vpcSubnets }),
    securityGroups,
  };
}

/** The endpoint of each AWS service a function may call (by its IAM prefix); `iam:PassRole` calls nothing. */
const ENDPOINTS: Readonly<
  Record<string, ec2.GatewayVpcEndpointAwsService | ec2.InterfaceVpcEndpointAwsService | undefined>
> = {
  s3: ec2.GatewayVpcEndpointAwsService.S3,
  dynamodb: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
  events: ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
  cloudwatch: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
  // `com.amazonaws.<region>.scheduler` (EventBridge Scheduler's PrivateLink page); CDK names no constant for it.
  scheduler: new ec2.InterfaceVpcEndpointAwsService("scheduler"),
  sagemaker: ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
  eks: ec2.InterfaceVpcEndpointAwsService.EKS,
  xray: ec2.InterfaceVpcEndpointAwsService.XRAY,
  iam: undefined,
};

/**
 * The IAM prefixes of the services the functions in the VPC call, from their port use, and X-Ray, where every
 * function's active tracing sends its segments; sorted. Not CloudWatch Logs: Lambda itself delivers what a
 * function writes to stdout, its logs and Embedded Metric Format lines alike.
 */
export function servicesCalledFromVpc(): string[] {
  const services = clusterFunctions().flatMap((name) =>
    needsOf(FUNCTION_PORT_USE[name]).map((need) => need.action.split(":")[0] ?? ""),
  );
  return [...new Set([...services, "xray"])].filter((service) => ENDPOINTS[service] !== undefined).sort();
}

/** Creates the endpoints of every service the functions in the VPC call; returns them by service. */
export function createServiceEndpoints(
  scope: Construct,
  network: FunctionNetwork,
): Record<string, ec2.GatewayVpcEndpoint | ec2.InterfaceVpcEndpoint> {
  const endpoints: Record<string, ec2.GatewayVpcEndpoint | ec2.InterfaceVpcEndpoint> = {};
  for (const service of servicesCalledFromVpc()) {
    const endpoint = ENDPOINTS[service];
    if (!endpoint) {
      throw new Error(`cluster-network: no VPC endpoint is known for ${service}; add it to ENDPOINTS.`);
    }
    const id = `${service[0]?.toUpperCase()}${service.slice(1)}Endpoint`;
    endpoints[service] =
      endpoint instanceof ec2.GatewayVpcEndpointAwsService
        ? new ec2.GatewayVpcEndpoint(scope, id, {
            vpc: network.vpc,
            service: endpoint,
            subnets: [network.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
          })
        : new ec2.InterfaceVpcEndpoint(scope, id, {
            vpc: network.vpc,
            service: endpoint,
            subnets: network.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
            privateDnsEnabled: true,
            // The endpoint's own group admits HTTPS from the functions' groups, and only from them.
            open: false,
            securityGroups: [endpointSecurityGroup(scope, network)],
          });
  }
  return endpoints;
}

/** One security group for the interface endpoints: HTTPS in from the functions' security groups. */
function endpointSecurityGroup(scope: Construct, network: FunctionNetwork): ec2.ISecurityGroup {
  const id = "ServiceEndpointSecurityGroup";
  const existing = (scope.node.tryFindChild(id) as ec2.SecurityGroup | undefined) ?? undefined;
  if (existing) return existing;
  const group = new ec2.SecurityGroup(scope, id, {
    vpc: network.vpc,
    description: "modelship VPC endpoints: HTTPS from the modelship functions in the VPC",
    allowAllOutbound: false,
  });
  for (const peer of network.securityGroups) {
    group.addIngressRule(peer, ec2.Port.tcp(443), "HTTPS from the modelship functions");
  }
  return group;
}

const NETWORK_INTERFACE_REASON =
  "The EC2 actions of AWSLambdaVPCAccessExecutionRole, which Lambda performs with the function's role to give " +
  "it network interfaces in the VPC: DescribeNetworkInterfaces works only on '*', and the interfaces are " +
  "created by Lambda, so their ids cannot be named in advance.";

/**
 * What AWSLambdaVPCAccessExecutionRole grants for the network interfaces (its log actions are covered by the
 * function's own log group grant), inline: the roles have no managed policies.
 */
export function networkInterfaceGrant(): Grant {
  return {
    statement: new PolicyStatement({
      actions: [
        "ec2:AssignPrivateIpAddresses",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:UnassignPrivateIpAddresses",
      ],
      resources: ["*"],
    }),
    patternReason: NETWORK_INTERFACE_REASON,
  };
}

/** Warning ids (`Annotations.of(pipeline).acknowledgeWarning(id, reason)` silences one). */
const LOAD_PATH_WARNINGS = {
  outsideVpc: "modelship:load-workers-outside-vpc",
  clusterDns: "modelship:load-url-cluster-dns",
} as const;

/** A host the cluster's DNS answers and a VPC's does not: `<service>.<namespace>.svc[.cluster.local]`. */
const CLUSTER_DNS_HOST = /^[a-z][a-z0-9+.-]*:\/\/[^/]*\.svc(\.cluster\.local)?\.?(:|\/|$)/i;

/** Warns, at synth, about a load path the workers cannot take as configured. */
export function warnAboutLoadPath(
  scope: Construct,
  serving: ServingConfig,
  network: ClusterNetworkProps | undefined,
): void {
  const template = serving.internalUrlTemplate;
  const annotations = Annotations.of(scope);
  if (template && !network) {
    annotations.addWarningV2(
      LOAD_PATH_WARNINGS.outsideVpc,
      `serving.internalUrlTemplate is set (${template}), but the load workers may not reach the candidates ` +
        "there: without the clusterNetwork prop, StressWorker runs outside any VPC, where an internal load " +
        "balancer or a private name is out of reach, and every stress test would fail with the candidate " +
        "unreachable. Give clusterNetwork: { vpc } (the cluster's VPC); if the URL is reachable from the " +
        `internet, acknowledge this warning (${LOAD_PATH_WARNINGS.outsideVpc}).`,
    );
  }
  if (CLUSTER_DNS_HOST.test(template)) {
    annotations.addWarningV2(
      LOAD_PATH_WARNINGS.clusterDns,
      `serving.internalUrlTemplate (${template}) names a Service by its cluster DNS name: only the cluster's ` +
        "own DNS answers it and only its nodes route to a ClusterIP, so a Lambda function cannot reach it, " +
        "inside the VPC or not (EKS neither forwards the VPC's DNS to the cluster nor routes its service " +
        "range). Point the template at an internal load balancer in front of the candidates " +
        "(docs/eks.md: Stress testing from inside the VPC).",
    );
  }
}
