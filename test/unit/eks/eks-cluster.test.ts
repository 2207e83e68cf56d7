import { DescribeClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eksClusterConnection } from "../../../lib/aws/eks/cluster";
import { EksServing } from "../../../lib/aws/eks/eks-serving";
import { DEFAULT_STACK_CONFIG } from "../../../lib/core/config/config";
import type { CandidateSpec } from "../../../lib/ports";
import { FixedClock } from "../../support/fixed-clock";
import { KubernetesApiServer } from "./kubernetes-api-server";
import { llamaCandidateSpec } from "../../support/candidate-spec";

const CREDENTIALS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
const server = new KubernetesApiServer();
const eks = mockClient(EKSClient);
const client = new EKSClient({ region: "us-west-2" });
let url = "";

beforeAll(async () => {
  url = await server.start();
});
afterAll(() => server.stop());
beforeEach(() => {
  server.reset();
  eks.reset();
});

const candidate: CandidateSpec = llamaCandidateSpec();

function servingOn(clusterName: string): EksServing {
  return new EksServing({
    config: DEFAULT_STACK_CONFIG,
    connection: eksClusterConnection({ clusterName, region: "us-west-2", client, credentials: CREDENTIALS }),
    region: "us-west-2",
    clock: new FixedClock(),
  });
}

describe("EKS cluster connection", () => {
  it("describes the cluster once, trusts its CA and sends an STS bearer token for it on every request", async () => {
    eks.on(DescribeClusterCommand, { name: "gpu-inference" }).resolves({
      cluster: { name: "gpu-inference", endpoint: url, certificateAuthority: { data: server.caData } },
    });
    const serving = servingOn("gpu-inference");

    const handle = await serving.deploy(candidate);
    await serving.status(handle);
    await serving.remove(handle);

    expect(eks.commandCalls(DescribeClusterCommand)).toHaveLength(1);
    expect(server.requests.length).toBeGreaterThan(5);
    for (const request of server.requests) {
      const token = request.authorization?.replace(/^Bearer /, "") ?? "";
      const presigned = new URL(Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString("utf8"));
      expect(presigned.searchParams.get("X-Amz-SignedHeaders")).toBe("host;x-k8s-aws-id");
      expect(presigned.host).toBe("sts.us-west-2.amazonaws.com");
    }
  });

  it("says the cluster does not exist, naming it and the region, when DescribeCluster cannot find it", async () => {
    eks
      .on(DescribeClusterCommand)
      .rejects(
        Object.assign(new Error("No cluster found for name: gpu"), { name: "ResourceNotFoundException" }),
      );

    const failure = servingOn("gpu").deploy(candidate);

    await expect(failure).rejects.toMatchObject({
      name: "CandidateFailed",
      reason: "EKS cluster 'gpu' does not exist in us-west-2.",
    });
    expect(server.requests).toEqual([]);
  });

  it("names the missing eks:DescribeCluster permission when the function may not describe the cluster", async () => {
    eks
      .on(DescribeClusterCommand)
      .rejects(Object.assign(new Error("not authorized"), { name: "AccessDeniedException" }));

    await expect(servingOn("gpu").deploy(candidate)).rejects.toMatchObject({
      name: "CandidateFailed",
      hint: expect.stringContaining("eks:DescribeCluster"),
    });
  });

  it("reports throttling as Transient and describes the cluster again on the next call", async () => {
    eks
      .on(DescribeClusterCommand)
      .rejectsOnce(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }))
      .resolves({ cluster: { endpoint: url, certificateAuthority: { data: server.caData } } });
    const serving = servingOn("gpu-inference");

    await expect(serving.deploy(candidate)).rejects.toMatchObject({ name: "Transient" });
    await expect(serving.deploy(candidate)).resolves.toMatchObject({ id: "models/llama-3-8b-v3" });
    expect(eks.commandCalls(DescribeClusterCommand)).toHaveLength(2);
  });

  it("refuses a cluster that has no endpoint yet (still being created)", async () => {
    eks.on(DescribeClusterCommand).resolves({ cluster: { name: "gpu", status: "CREATING" } });

    await expect(servingOn("gpu").deploy(candidate)).rejects.toMatchObject({
      name: "CandidateFailed",
      reason: "EKS cluster 'gpu' in us-west-2 has no API endpoint yet (status CREATING).",
    });
  });
});
