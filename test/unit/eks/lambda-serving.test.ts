import { DescribeClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { awsStageDeps } from "../../../lib/aws/lambda/stage-deps";
import type { CandidateSpec } from "../../../lib/ports";
import { KubernetesApiServer } from "./kubernetes-api-server";
import { llamaCandidateSpec } from "../../support/candidate-spec";

const server = new KubernetesApiServer();
const eks = mockClient(EKSClient);

beforeAll(async () => {
  const url = await server.start();
  eks.on(DescribeClusterCommand, { name: "gpu-east" }).resolves({
    cluster: { endpoint: url, certificateAuthority: { data: server.caData } },
  });
  vi.stubEnv("MODELSHIP_BUCKET", "models-bucket");
  vi.stubEnv("MODELSHIP_TABLE", "rollouts");
  vi.stubEnv("MODELSHIP_EVENT_BUS", "modelship");
  vi.stubEnv("MODELSHIP_CONFIG", JSON.stringify({ clusterName: "gpu-east", namespace: "inference" }));
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret");
});
afterAll(async () => {
  vi.unstubAllEnvs();
  eks.restore();
  await server.stop();
});

const candidate: CandidateSpec = llamaCandidateSpec();

describe("A Lambda function's Serving port", () => {
  it("does not describe the cluster until a stage uses it, then deploys on the stack's cluster and namespace", async () => {
    const deps = awsStageDeps();
    expect(eks.commandCalls(DescribeClusterCommand)).toHaveLength(0);

    const handle = await deps.serving.deploy(candidate);

    expect(handle.id).toBe("inference/llama-3-8b-v3");
    expect(eks.commandCalls(DescribeClusterCommand)).toHaveLength(1);
    const deployment = server.object("deployments", "inference", "llama-3-8b-v3") as {
      spec: { template: { spec: { initContainers: { env: { name: string; value: string }[] }[] } } };
    };
    expect(deployment.spec.template.spec.initContainers[0]?.env).toContainEqual({
      name: "AWS_REGION",
      value: "eu-west-1",
    });
    expect(server.requests.every((r) => r.authorization?.startsWith("Bearer k8s-aws-v1."))).toBe(true);
  });
});
