// The sample stack's `modelshipClusterVpc` context: the cluster's VPC, given by its ids —
// `{ vpcId, availabilityZones, privateSubnetIds, privateSubnetRouteTableIds?, securityGroupIds?,
// createVpcEndpoints? }` — and imported with `Vpc.fromVpcAttributes`, never looked up, so `cdk synth` stays
// offline. Every problem is reported at once.

import { Annotations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type { Construct } from "constructs";
import { z } from "zod";
import { formatFinding } from "../core/findings";
import { findingsFromSchemaIssues } from "../core/schema-findings";
import type { ClusterNetworkProps } from "./cluster-network";

const awsId = (prefix: string) =>
  z
    .string()
    .regex(new RegExp(`^${prefix}-[0-9a-f]{8}([0-9a-f]{9})?$`), `an id like ${prefix}-0123456789abcdef0`);

const clusterVpcSchema = z
  .strictObject({
    vpcId: awsId("vpc"),
    availabilityZones: z
      .array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, "a zone like us-east-1a"))
      .min(1),
    privateSubnetIds: z.array(awsId("subnet")).min(1),
    privateSubnetRouteTableIds: z.array(awsId("rtb")).min(1).optional(),
    securityGroupIds: z.array(awsId("sg")).min(1).optional(),
    createVpcEndpoints: z.boolean().optional(),
  })
  .refine((vpc) => vpc.privateSubnetIds.length % vpc.availabilityZones.length === 0, {
    path: ["privateSubnetIds"],
    message:
      "expected a multiple of the number of availabilityZones: the same number of subnets in each zone, listed zone by zone in their order",
  })
  .refine(
    (vpc) =>
      vpc.privateSubnetRouteTableIds === undefined ||
      vpc.privateSubnetRouteTableIds.length === vpc.privateSubnetIds.length,
    {
      path: ["privateSubnetRouteTableIds"],
      message: "expected one route table per subnet of privateSubnetIds, in the same order",
    },
  )
  .refine((vpc) => !vpc.createVpcEndpoints || vpc.privateSubnetRouteTableIds !== undefined, {
    path: ["privateSubnetRouteTableIds"],
    message:
      "expected the subnets' route tables with createVpcEndpoints: the S3 and DynamoDB gateway endpoints are routes in them",
  });

/**
 * The cluster's VPC from the context value (an object, or JSON from `-c key='{…}'`); undefined when the key is
 * absent. Throws, listing every problem, when it is malformed.
 */
export function clusterNetworkFromContext(
  scope: Construct,
  value: unknown,
  source: string,
): ClusterNetworkProps | undefined {
  if (value === undefined) return undefined;
  const input = jsonOrValue(value, source);
  const parsed = clusterVpcSchema.safeParse(input);
  if (!parsed.success) {
    const findings = findingsFromSchemaIssues(parsed.error.issues, input, clusterVpcSchema, {
      codePrefix: "cluster-vpc",
    });
    throw new Error(
      [
        `${source} is not a VPC the functions can run in. Every problem:`,
        ...findings.map(formatFinding),
        'Expected: {"vpcId": "vpc-…", "availabilityZones": ["us-east-1a", …], "privateSubnetIds": ["subnet-…", …], "privateSubnetRouteTableIds"?: ["rtb-…", …], "securityGroupIds"?: ["sg-…"], "createVpcEndpoints"?: true}.',
      ].join("\n"),
    );
  }
  const { vpcId, availabilityZones, privateSubnetIds, privateSubnetRouteTableIds, securityGroupIds } =
    parsed.data;
  const vpc = ec2.Vpc.fromVpcAttributes(scope, "ClusterVpc", {
    vpcId,
    availabilityZones,
    privateSubnetIds,
    ...(privateSubnetRouteTableIds && { privateSubnetRouteTableIds }),
  });
  if (!privateSubnetRouteTableIds) {
    for (const subnet of vpc.privateSubnets) {
      Annotations.of(subnet).acknowledgeWarning(
        "@aws-cdk/aws-ec2:noSubnetRouteTableId",
        "Only functions are placed in these subnets, and no gateway endpoint: nothing reads their route tables.",
      );
    }
  }
  return {
    vpc,
    ...(securityGroupIds && {
      securityGroups: securityGroupIds.map((id) =>
        ec2.SecurityGroup.fromSecurityGroupId(scope, `ClusterNetworkSecurityGroup-${id}`, id, {
          mutable: false,
        }),
      ),
    }),
    ...(parsed.data.createVpcEndpoints && { createVpcEndpoints: true }),
  };
}

function jsonOrValue(value: unknown, source: string): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`${source} is a string that is not JSON: ${(error as Error).message}`, { cause: error });
  }
}
