import {
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  ListModelPackagesCommand,
  type ModelApprovalStatus,
  SageMakerClient,
  UpdateModelPackageCommand,
} from "@aws-sdk/client-sagemaker";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { SageMakerRegistry } from "../../../lib/aws/sagemaker-registry";
import type { RegistryEntry } from "../../../lib/ports";

const sagemaker = mockClient(SageMakerClient);
const client = new SageMakerClient({ region: "us-east-1" });
const GROUP_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/llama-3-8b";
const packageArn = (n: number) => `arn:aws:sagemaker:us-east-1:123456789012:model-package/llama-3-8b/${n}`;
const REPORTS = "s3://models-bucket/reports/llama-3-8b/v2/llama-3-8b-v2-0a1b2c3d";

function entry(overrides: Partial<RegistryEntry> = {}): RegistryEntry {
  return {
    model: "llama-3-8b",
    version: "v2",
    rolloutId: "llama-3-8b-v2-0a1b2c3d",
    artifactUri: "s3://models-bucket/models/llama-3-8b/v2/",
    reportUris: { eval: `${REPORTS}/eval.json`, stress: `${REPORTS}/stress.json` },
    metadata: { stress: "ttft p95 412 ms (≤ 800), errors 0.4%", eval: "mmlu-pro-sample 0.52 ≥ 0.45" },
    ...overrides,
  };
}

/** A package as ListModelPackages summarizes it and DescribeModelPackage details it. */
function existingPackage(
  n: number,
  version: string,
  rolloutId: string,
  status: ModelApprovalStatus = "PendingManualApproval",
) {
  const metadata: Record<string, string> = { "modelship:version": version, "modelship:rolloutId": rolloutId };
  return {
    summary: {
      ModelPackageArn: packageArn(n),
      ModelPackageGroupName: "llama-3-8b",
      ModelPackageVersion: n,
      ModelPackageDescription: `modelship llama-3-8b ${version} (rollout ${rolloutId})`,
      CreationTime: new Date("2025-06-01T12:00:00Z"),
      ModelPackageStatus: "Completed" as const,
      ModelApprovalStatus: status,
    },
    described: {
      ModelPackageArn: packageArn(n),
      ModelApprovalStatus: status,
      CustomerMetadataProperties: metadata,
    },
  };
}

function havingPackages(...packages: ReturnType<typeof existingPackage>[]): void {
  sagemaker.on(DescribeModelPackageGroupCommand).resolves({ ModelPackageGroupArn: GROUP_ARN });
  sagemaker
    .on(ListModelPackagesCommand)
    .resolves({ ModelPackageSummaryList: packages.map((p) => p.summary) });
  for (const p of packages) {
    sagemaker
      .on(DescribeModelPackageCommand, { ModelPackageName: p.summary.ModelPackageArn })
      .resolves(p.described);
  }
}

function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

describe("SageMakerRegistry", () => {
  let registry: SageMakerRegistry;
  beforeEach(() => {
    sagemaker.reset();
    registry = new SageMakerRegistry({ client });
  });

  it("creates the model's group on first use and registers the version pending approval, with its artifact, reports and gate summaries", async () => {
    sagemaker
      .on(DescribeModelPackageGroupCommand)
      .rejects(awsError("ValidationException", "ModelPackageGroup arn:…/llama-3-8b does not exist."));
    sagemaker.on(CreateModelPackageGroupCommand).resolves({ ModelPackageGroupArn: GROUP_ARN });
    sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
    sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: packageArn(1) });

    const registered = await registry.register(entry());

    expect(registered).toEqual({ id: packageArn(1) });
    expect(sagemaker.commandCalls(CreateModelPackageGroupCommand)[0]?.args[0].input).toEqual({
      ModelPackageGroupName: "llama-3-8b",
      ModelPackageGroupDescription: "modelship: the versions of model llama-3-8b",
    });
    expect(sagemaker.commandCalls(ListModelPackagesCommand)[0]?.args[0].input).toEqual({
      ModelPackageGroupName: "llama-3-8b",
      ModelPackageType: "Versioned",
      SortBy: "CreationTime",
      SortOrder: "Descending",
      MaxResults: 100,
    });
    expect(sagemaker.commandCalls(CreateModelPackageCommand)[0]?.args[0].input).toEqual({
      ModelPackageGroupName: "llama-3-8b",
      ModelPackageDescription: "modelship llama-3-8b v2 (rollout llama-3-8b-v2-0a1b2c3d)",
      ModelApprovalStatus: "PendingManualApproval",
      CustomerMetadataProperties: {
        "modelship:model": "llama-3-8b",
        "modelship:version": "v2",
        "modelship:rolloutId": "llama-3-8b-v2-0a1b2c3d",
        "modelship:artifact": "s3://models-bucket/models/llama-3-8b/v2/",
        "report:eval": `${REPORTS}/eval.json`,
        "report:stress": `${REPORTS}/stress.json`,
        stress: "ttft p95 412 ms le 800 errors 0.4 pct",
        eval: "mmlu-pro-sample 0.52 ge 0.45",
      },
      ClientToken: expect.stringMatching(/^[0-9a-f]{32}$/),
      ModelMetrics: {
        ModelQuality: { Statistics: { ContentType: "application/json", S3Uri: `${REPORTS}/eval.json` } },
      },
    });
  });

  it("adopts the package a retried registration of the same rollout made, and creates nothing", async () => {
    havingPackages(
      existingPackage(2, "v2", "llama-3-8b-v2-0a1b2c3d"),
      existingPackage(1, "v1", "llama-3-8b-v1-99999999", "Approved"),
    );

    const registered = await registry.register(entry());

    expect(registered).toEqual({ id: packageArn(2) });
    expect(sagemaker.commandCalls(CreateModelPackageCommand)).toEqual([]);
    expect(sagemaker.commandCalls(CreateModelPackageGroupCommand)).toEqual([]);
    expect(sagemaker.commandCalls(DescribeModelPackageCommand).map((c) => c.args[0].input)).toEqual([
      { ModelPackageName: packageArn(2) },
    ]);
  });

  it("registers anew when a package's description names the rollout but its metadata does not", async () => {
    const lookalike = existingPackage(3, "v2", "llama-3-8b-v2-0a1b2c3d");
    havingPackages({
      ...lookalike,
      described: {
        ...lookalike.described,
        CustomerMetadataProperties: { "modelship:rolloutId": "someone-else" },
      },
    });
    sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: packageArn(4) });

    expect(await registry.register(entry())).toEqual({ id: packageArn(4) });
  });

  it("makes gate summaries fit SageMaker's metadata rules: 50 entries, 128-character keys, 256-character values, its characters only", async () => {
    havingPackages();
    sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: packageArn(1) });
    const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`gate-${i}`, `value ${i}`]));

    await registry.register(
      entry({
        metadata: { [`k${"e".repeat(200)}y`]: `${"x".repeat(300)} [tail]`, "json{}": '{"a":1}', ...many },
      }),
    );

    const metadata =
      sagemaker.commandCalls(CreateModelPackageCommand)[0]?.args[0].input.CustomerMetadataProperties ?? {};
    const entries = Object.entries(metadata);
    expect(entries).toHaveLength(50);
    for (const [key, value] of entries) {
      expect(key).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u);
      expect(value).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$/u);
    }
    expect(metadata[`k${"e".repeat(124)}...`]).toBe(`${"x".repeat(253)}...`);
    expect(metadata["json"]).toBe("a :1");
    expect(metadata["modelship:omitted"]).toBe("19 more gate summaries: see the reports");
    expect(metadata["modelship:rolloutId"]).toBe("llama-3-8b-v2-0a1b2c3d");
  });

  it("approves the newest package of the version, with the reason", async () => {
    havingPackages(
      existingPackage(5, "v2", "llama-3-8b-v2-11111111"),
      existingPackage(4, "v2", "llama-3-8b-v2-0a1b2c3d", "Rejected"),
    );
    sagemaker.on(UpdateModelPackageCommand).resolves({ ModelPackageArn: packageArn(5) });

    await registry.setStatus(
      "llama-3-8b",
      "v2",
      "Approved",
      "Promoted after 4 canary steps with quiet alarms.",
    );

    expect(sagemaker.commandCalls(UpdateModelPackageCommand).map((c) => c.args[0].input)).toEqual([
      {
        ModelPackageArn: packageArn(5),
        ModelApprovalStatus: "Approved",
        ApprovalDescription: "Promoted after 4 canary steps with quiet alarms.",
      },
    ]);
  });

  it("changes nothing when the version already has the status (a retried Promote or Rollback)", async () => {
    havingPackages(existingPackage(5, "v2", "llama-3-8b-v2-0a1b2c3d", "Rejected"));

    await registry.setStatus("llama-3-8b", "v2", "Rejected", "Rolled back: latency alarm.");

    expect(sagemaker.commandCalls(UpdateModelPackageCommand)).toEqual([]);
  });

  it("has nothing to reject for a version never registered, but refuses to approve one", async () => {
    havingPackages(existingPackage(1, "v1", "llama-3-8b-v1-99999999", "Approved"));

    await registry.setStatus("llama-3-8b", "v2", "Rejected", "Failed in Validate.");
    await expect(registry.setStatus("llama-3-8b", "v2", "Approved", "Promoted.")).rejects.toMatchObject({
      name: "GatewayFailed",
      reason:
        "llama-3-8b v2 is not in the SageMaker Model Registry (group llama-3-8b); it cannot be set to Approved.",
    });
    expect(sagemaker.commandCalls(UpdateModelPackageCommand)).toEqual([]);
  });

  it("reads a version's status, looking through the pages of the group newest first", async () => {
    const older = existingPackage(1, "v1", "llama-3-8b-v1-99999999", "Approved");
    sagemaker.on(DescribeModelPackageGroupCommand).resolves({ ModelPackageGroupArn: GROUP_ARN });
    sagemaker
      .on(ListModelPackagesCommand)
      .resolvesOnce({
        ModelPackageSummaryList: [existingPackage(2, "v2", "llama-3-8b-v2-0a1b2c3d").summary],
        NextToken: "page-2",
      })
      .resolvesOnce({ ModelPackageSummaryList: [older.summary] });
    sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: packageArn(1) }).resolves(older.described);

    expect(await registry.getStatus("llama-3-8b", "v1")).toBe("Approved");
    expect(sagemaker.commandCalls(ListModelPackagesCommand)[1]?.args[0].input.NextToken).toBe("page-2");
  });

  it("knows no status for a model whose group does not exist", async () => {
    sagemaker
      .on(ListModelPackagesCommand)
      .rejects(awsError("ResourceNotFound", "Model package group llama-3-8b not found"));

    expect(await registry.getStatus("llama-3-8b", "v2")).toBeUndefined();
  });

  it("goes on when a parallel registration created the group a moment before", async () => {
    sagemaker.on(DescribeModelPackageGroupCommand).rejects(awsError("ValidationException", "does not exist"));
    sagemaker
      .on(CreateModelPackageGroupCommand)
      .rejects(awsError("ValidationException", "Model Package Group already exists: arn:…/llama-3-8b"));
    sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
    sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: packageArn(1) });

    expect(await registry.register(entry())).toEqual({ id: packageArn(1) });
  });

  it("gives a model name SageMaker does not allow a valid group name of its own, the same every time", async () => {
    havingPackages();
    sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: packageArn(1) });

    await registry.register(entry({ model: "Llama_3.1--" }));
    await registry.register(entry({ model: "Llama_3.1--" }));

    const groups = sagemaker
      .commandCalls(CreateModelPackageCommand)
      .map((c) => c.args[0].input.ModelPackageGroupName);
    expect(groups[0]).toMatch(/^Llama-3-1-[0-9a-f]{8}$/);
    expect(groups[1]).toBe(groups[0]);
  });

  it("reports throttling as Transient, for the state machine to retry", async () => {
    havingPackages();
    sagemaker.on(CreateModelPackageCommand).rejects(awsError("ThrottlingException", "Rate exceeded"));

    await expect(registry.register(entry())).rejects.toMatchObject({ name: "Transient" });
  });

  it("names the SageMaker permissions the function needs when it is denied", async () => {
    havingPackages();
    sagemaker.on(CreateModelPackageCommand).rejects(awsError("AccessDeniedException", "not authorized"));

    const failure = registry.register(entry());

    await expect(failure).rejects.toMatchObject({
      name: "GatewayFailed",
      reason:
        "The SageMaker Model Registry refused to register llama-3-8b v2 in group llama-3-8b (AccessDeniedException: not authorized).",
    });
    await expect(failure).rejects.toThrow(/sagemaker:DescribeModelPackageGroup, CreateModelPackageGroup/);
  });

  describe("describeVersion", () => {
    it("reads the package an approval names by its ARN: status, reason, the rollout and the IAM principal", async () => {
      sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: packageArn(3) }).resolves({
        ModelPackageArn: packageArn(3),
        ModelApprovalStatus: "Rejected",
        ApprovalDescription: "hallucinates dates",
        CustomerMetadataProperties: {
          "modelship:model": "llama-3-8b",
          "modelship:version": "v2",
          "modelship:rolloutId": "llama-3-8b-v2-0a1b2c3d",
          "report:eval": `${REPORTS}/eval.json`,
        },
        LastModifiedBy: {
          IamIdentity: {
            Arn: "arn:aws:sts::123456789012:assumed-role/reviewers/bob",
            PrincipalId: "AROAEXAMPLE:bob",
          },
        },
      });

      expect(await registry.describeVersion(packageArn(3))).toEqual({
        status: "Rejected",
        statusReason: "hallucinates dates",
        rollout: { model: "llama-3-8b", version: "v2", rolloutId: "llama-3-8b-v2-0a1b2c3d" },
        lastModifiedBy: "arn:aws:sts::123456789012:assumed-role/reviewers/bob",
      });
      expect(sagemaker.calls()).toHaveLength(1);
    });

    it("names the Studio user beside the IAM principal, and no rollout for a package modelship did not register", async () => {
      sagemaker.on(DescribeModelPackageCommand).resolves({
        ModelPackageArn: packageArn(4),
        ModelApprovalStatus: "Approved",
        CustomerMetadataProperties: { team: "search" },
        LastModifiedBy: {
          UserProfileName: "carol",
          DomainId: "d-abc123",
          IamIdentity: { Arn: "arn:aws:sts::123456789012:assumed-role/studio/SageMaker" },
        },
      });

      expect(await registry.describeVersion(packageArn(4))).toEqual({
        status: "Approved",
        lastModifiedBy:
          "arn:aws:sts::123456789012:assumed-role/studio/SageMaker (SageMaker Studio user carol)",
      });
    });

    it("describes a package that no longer exists as none", async () => {
      sagemaker
        .on(DescribeModelPackageCommand)
        .rejects(awsError("ValidationException", `ModelPackage ${packageArn(5)} does not exist.`));

      expect(await registry.describeVersion(packageArn(5))).toBeUndefined();
    });

    it("throws Transient on throttling and GatewayFailed when denied: the approval is retried, not dropped", async () => {
      sagemaker.on(DescribeModelPackageCommand).rejectsOnce(awsError("ThrottlingException", "Rate exceeded"));
      await expect(registry.describeVersion(packageArn(6))).rejects.toMatchObject({ name: "Transient" });

      sagemaker.on(DescribeModelPackageCommand).rejects(awsError("AccessDeniedException", "not authorized"));
      await expect(registry.describeVersion(packageArn(6))).rejects.toMatchObject({
        name: "GatewayFailed",
        reason: `The SageMaker Model Registry refused to describe the model package ${packageArn(6)} (AccessDeniedException: not authorized).`,
      });
    });
  });
});
