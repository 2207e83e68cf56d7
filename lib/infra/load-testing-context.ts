// The sample stack's `modelshipLoadTestingVpc` context: the VPC the load workers run in, given by its ids —
// `{ vpcId, availabilityZones, privateSubnetIds, securityGroupIds? }` — and imported with
// `Vpc.fromVpcAttributes`, never looked up, so `cdk synth` stays offline. Every problem is reported at once.

import { Annotations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type { Construct } from "constructs";
import { z } from "zod";
import { formatFinding } from "../core/findings";
import { findingsFromSchemaIssues } from "../core/schema-findings";
import type { LoadTestingProps } from "./load-testing";

const awsId = (prefix: string) =>
  z
    .string()
    .regex(new RegExp(`^${prefix}-[0-9a-f]{8}([0-9a-f]{9})?$`), `an id like ${prefix}-0123456789abcdef0`);

const loadTestingVpcSchema = z
  .strictObject({
    vpcId: awsId("vpc"),
    availabilityZones: z
      .array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, "a zone like us-east-1a"))
      .min(1),
    privateSubnetIds: z.array(awsId("subnet")).min(1),
    securityGroupIds: z.array(awsId("sg")).min(1).optional(),
  })
  .refine((vpc) => vpc.privateSubnetIds.length % vpc.availabilityZones.length === 0, {
    path: ["privateSubnetIds"],
    message:
      "expected a multiple of the number of availabilityZones: the same number of subnets in each zone, listed zone by zone in their order",
  });

/**
 * The load workers' VPC from the context value (an object, or JSON from `-c key='{…}'`); undefined when the
 * key is absent. Throws, listing every problem, when it is malformed.
 */
export function loadTestingFromContext(
  scope: Construct,
  value: unknown,
  source: string,
): LoadTestingProps | undefined {
  if (value === undefined) return undefined;
  const input = jsonOrValue(value, source);
  const parsed = loadTestingVpcSchema.safeParse(input);
  if (!parsed.success) {
    const findings = findingsFromSchemaIssues(parsed.error.issues, input, loadTestingVpcSchema, {
      codePrefix: "load-testing-vpc",
    });
    throw new Error(
      [
        `${source} is not a VPC the load workers can run in. Every problem:`,
        ...findings.map(formatFinding),
        'Expected: {"vpcId": "vpc-…", "availabilityZones": ["us-east-1a", …], "privateSubnetIds": ["subnet-…", …], "securityGroupIds"?: ["sg-…"]}.',
      ].join("\n"),
    );
  }
  const { vpcId, availabilityZones, privateSubnetIds, securityGroupIds } = parsed.data;
  const vpc = ec2.Vpc.fromVpcAttributes(scope, "LoadTestingVpc", {
    vpcId,
    availabilityZones,
    privateSubnetIds,
  });
  for (const subnet of vpc.privateSubnets) {
    Annotations.of(subnet).acknowledgeWarning(
      "@aws-cdk/aws-ec2:noSubnetRouteTableId",
      "Only a function is placed in these subnets: nothing reads their route tables.",
    );
  }
  return {
    vpc,
    ...(securityGroupIds && {
      securityGroups: securityGroupIds.map((id) =>
        ec2.SecurityGroup.fromSecurityGroupId(scope, `LoadWorkerSecurityGroup-${id}`, id, { mutable: false }),
      ),
    }),
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
