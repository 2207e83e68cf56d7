// Where the stress test's load workers run. They send heavy load to `Serving.endpoint(…, "load")`, which is
// `serving.internalUrlTemplate` when it is set: a URL reachable only from inside the cluster's VPC. With
// `loadTesting`, StressWorker runs in that VPC, with a security group the platform team allows on the
// candidates' side. EvalShard stays outside: its requests go through the API server's service proxy ("probe").
// Also the synth-time warnings for a load path that cannot work as configured.

import { Annotations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import type { ServingConfig } from "../core/config";
import type { ModelshipFunction } from "../core/pipeline-functions";
import type { Grant } from "./function-access";

export interface LoadTestingProps {
  /**
   * The VPC the load workers run in: the one the candidates' `serving.internalUrlTemplate` is reachable from
   * (the cluster's, or one peered with it). The subnets need a route to S3 (a NAT gateway or an S3 gateway
   * endpoint), where each worker stores its measurements.
   */
  readonly vpc: ec2.IVpc;
  /**
   * The subnets of `vpc` the workers' network interfaces are placed in.
   *
   * @default - the VPC's private subnets (with egress), as CDK places a function in a VPC
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * The security groups of the workers. The candidates' side must allow them on the serving port
   * (docs/eks.md: Stress testing from inside the VPC).
   *
   * @default - a security group of their own, egress only: `ModelPipeline.loadWorkerSecurityGroups`
   */
  readonly securityGroups?: readonly ec2.ISecurityGroup[];
}

/** The functions placed in `loadTesting.vpc`: those that send load to `Serving.endpoint(…, "load")`. */
export const LOAD_WORKER_FUNCTIONS: readonly ModelshipFunction[] = ["StressWorker"];

/** A function's place in the VPC, as Lambda function props. */
export interface LoadWorkerNetwork {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
}

/** The workers' place in the VPC: the security groups given, or one created for them (egress only). */
export function loadWorkerNetwork(scope: Construct, loadTesting: LoadTestingProps): LoadWorkerNetwork {
  const given = loadTesting.securityGroups ?? [];
  const securityGroups =
    given.length > 0
      ? [...given]
      : [
          new ec2.SecurityGroup(scope, "LoadWorkerSecurityGroup", {
            vpc: loadTesting.vpc,
            description:
              "modelship load workers (StressWorker): egress only. Allow it on the candidates serving port",
            allowAllOutbound: true,
          }),
        ];
  return {
    vpc: loadTesting.vpc,
    ...(loadTesting.vpcSubnets && { vpcSubnets: loadTesting.vpcSubnets }),
    securityGroups,
  };
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
  throughApiServer: "modelship:load-through-api-server",
} as const;

/** A host the cluster's DNS answers and a VPC's does not: `<service>.<namespace>.svc[.cluster.local]`. */
const CLUSTER_DNS_HOST = /^[a-z][a-z0-9+.-]*:\/\/[^/]*\.svc(\.cluster\.local)?\.?(:|\/|$)/i;

/** Warns, at synth, about a load path the workers cannot take as configured. */
export function warnAboutLoadPath(
  scope: Construct,
  serving: ServingConfig,
  loadTesting: LoadTestingProps | undefined,
): void {
  const template = serving.internalUrlTemplate;
  const annotations = Annotations.of(scope);
  if (template && !loadTesting) {
    annotations.addWarningV2(
      LOAD_PATH_WARNINGS.outsideVpc,
      `serving.internalUrlTemplate is set (${template}), but the load workers may not reach the candidates ` +
        "there: without the loadTesting prop, StressWorker runs outside any VPC, where an internal load " +
        "balancer or a private name is out of reach, and every stress test would fail with the candidate " +
        "unreachable. Give loadTesting: { vpc } (the cluster's VPC); if the URL is reachable from the " +
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
  if (loadTesting && !template) {
    annotations.addWarningV2(
      LOAD_PATH_WARNINGS.throughApiServer,
      "loadTesting places StressWorker in a VPC, but serving.internalUrlTemplate is empty: the load still " +
        "goes through the API server's service proxy, and from the VPC the workers need a route to the EKS " +
        "API and the cluster's endpoint. Set serving.internalUrlTemplate to the candidates' internal URL.",
    );
  }
}
