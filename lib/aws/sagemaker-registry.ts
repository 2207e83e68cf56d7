// The Registry port on the SageMaker Model Registry: one model package group per model (created on first
// use), one model package version per rollout in it, PendingManualApproval until Promote approves it or a
// rollback rejects it. A package is found again by the rollout and version it records in its
// CustomerMetadataProperties (its description names them too, so only likely matches are described): a
// retried registration adopts the package it made instead of adding another. A package an approval event
// names is described by its ARN, for who set its status and the rollout it belongs to. No InferenceSpecification:
// modelship serves the weights on EKS, and the API makes it optional for versioned packages.

import { createHash } from "node:crypto";
import { REGISTRY_METADATA_KEYS } from "../core/rollout/registry-package";
import {
  CreateModelPackageCommand,
  type CreateModelPackageInput,
  CreateModelPackageGroupCommand,
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  ListModelPackagesCommand,
  type ListModelPackagesOutput,
  type ModelApprovalStatus,
  SageMakerClient,
  UpdateModelPackageCommand,
  type UserContext,
} from "@aws-sdk/client-sagemaker";
import { GatewayFailed } from "../core/errors";
import type { ApprovalStatus, Registry, RegistryEntry, RegistryVersion } from "../ports";
import { asTransientWhenPassing, isTransientAwsError } from "./transient-errors";

export interface SageMakerRegistryOptions {
  /** Default: `new SageMakerClient({})` (the environment's standard configuration). */
  readonly client?: SageMakerClient;
}

/** CustomerMetadataProperties: at most 50 entries, keys of 1–128 and values of 1–256 of these characters. */
const METADATA_ENTRIES = 50;
const METADATA_KEY_CHARS = 128;
const METADATA_VALUE_CHARS = 256;
const METADATA_CHARACTER = /[\p{L}\p{Z}\p{N}_.:/=+\-@]/u;
const GROUP_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const APPROVAL_DESCRIPTION_CHARS = 1024;
/** Packages looked through for a version, newest first: 10 pages of 100. */
const MAX_PAGES = 10;

const KEYS = REGISTRY_METADATA_KEYS;

interface FoundPackage {
  readonly arn: string;
  readonly status: ApprovalStatus | undefined;
}

export class SageMakerRegistry implements Registry {
  private readonly client: SageMakerClient;

  constructor(options: SageMakerRegistryOptions = {}) {
    this.client = options.client ?? new SageMakerClient({});
  }

  async register(entry: RegistryEntry): Promise<{ readonly id: string }> {
    const group = modelPackageGroupName(entry.model);
    await this.ensureGroup(group, entry.model);
    const existing = await this.findPackage(group, { rolloutId: entry.rolloutId });
    if (existing) return { id: existing.arn };
    const input: CreateModelPackageInput = {
      ModelPackageGroupName: group,
      ModelPackageDescription: packageDescription(entry),
      ModelApprovalStatus: "PendingManualApproval",
      CustomerMetadataProperties: customerMetadata(entry),
      ClientToken: createHash("sha256").update(entry.rolloutId).digest("hex").slice(0, 32),
      ...modelMetrics(entry.reportUris),
    };
    const created = await this.call(`register ${entry.model} ${entry.version} in group ${group}`, () =>
      this.client.send(new CreateModelPackageCommand(input)),
    );
    if (!created.ModelPackageArn) {
      throw new GatewayFailed(`SageMaker created no model package for ${entry.model} ${entry.version}.`, {
        hint: "An unexpected answer from SageMaker; the rollout can be started again.",
      });
    }
    return { id: created.ModelPackageArn };
  }

  /**
   * Sets the newest package of the version. Rejecting a version that was never registered (a rollout that
   * failed before RegisterGateway) has nothing to do; approving one is an error.
   */
  async setStatus(model: string, version: string, status: ApprovalStatus, reason: string): Promise<void> {
    const found = await this.findPackage(modelPackageGroupName(model), { version });
    if (!found) {
      if (status === "Rejected") return;
      throw new GatewayFailed(
        `${model} ${version} is not in the SageMaker Model Registry (group ${modelPackageGroupName(model)}); it cannot be set to ${status}.`,
        { hint: "RegisterGateway registers each version; run the rollout through it." },
      );
    }
    if (found.status === status) return;
    await this.call(`set ${model} ${version} to ${status}`, () =>
      this.client.send(
        new UpdateModelPackageCommand({
          ModelPackageArn: found.arn,
          ModelApprovalStatus: status,
          ApprovalDescription: reason.slice(0, APPROVAL_DESCRIPTION_CHARS),
        }),
      ),
    );
  }

  async getStatus(model: string, version: string): Promise<ApprovalStatus | undefined> {
    return (await this.findPackage(modelPackageGroupName(model), { version }))?.status;
  }

  /**
   * The package as DescribeModelPackage answers (API reference, DescribeModelPackage response): its
   * ModelApprovalStatus, ApprovalDescription, the CustomerMetadataProperties register wrote, and LastModifiedBy.
   * A package that does not exist (any more) is undefined; SageMaker answers that with a ValidationException
   * saying so (its Describe* operations' usual answer, not a documented error code: matched by its words).
   */
  async describeVersion(arn: string): Promise<RegistryVersion | undefined> {
    let described;
    try {
      described = await this.client.send(new DescribeModelPackageCommand({ ModelPackageName: arn }));
    } catch (error) {
      const { name, message } = error as { name?: unknown; message?: unknown };
      const missing = /does not exist|not found|cannot be found/i.test(String(message));
      if ((name === "ValidationException" || name === "ResourceNotFound") && missing) return undefined;
      throw registryFailure(error, `describe the model package ${arn}`);
    }
    const metadata = described.CustomerMetadataProperties ?? {};
    const [model, version, rolloutId] = [KEYS.model, KEYS.version, KEYS.rolloutId].map(
      (key) => metadata[key],
    );
    const lastModifiedBy = userOf(described.LastModifiedBy);
    return {
      status: approvalStatus(described.ModelApprovalStatus),
      ...(described.ApprovalDescription ? { statusReason: described.ApprovalDescription } : {}),
      ...(model && version && rolloutId ? { rollout: { model, version, rolloutId } } : {}),
      ...(lastModifiedBy ? { lastModifiedBy } : {}),
    };
  }

  private async ensureGroup(group: string, model: string): Promise<void> {
    try {
      await this.client.send(new DescribeModelPackageGroupCommand({ ModelPackageGroupName: group }));
      return;
    } catch (error) {
      if (isTransientAwsError(error))
        throw asTransientWhenPassing(error, `DescribeModelPackageGroup ${group}`);
    }
    try {
      await this.client.send(
        new CreateModelPackageGroupCommand({
          ModelPackageGroupName: group,
          ModelPackageGroupDescription: `modelship: the versions of model ${model}`,
        }),
      );
    } catch (error) {
      // Created meanwhile by a parallel rollout step: that is the group we wanted.
      if (/already exists/i.test((error as Error).message ?? "")) return;
      throw registryFailure(error, `create the model package group ${group}`);
    }
  }

  /** The newest package of the group recording this rollout or version, confirmed by its metadata. */
  private async findPackage(
    group: string,
    wanted: { readonly rolloutId?: string; readonly version?: string },
  ): Promise<FoundPackage | undefined> {
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const listed = await this.call(`list the model packages of ${group}`, () =>
        this.client
          .send(
            new ListModelPackagesCommand({
              ModelPackageGroupName: group,
              ModelPackageType: "Versioned",
              SortBy: "CreationTime",
              SortOrder: "Descending",
              MaxResults: 100,
              ...(nextToken && { NextToken: nextToken }),
            }),
          )
          .catch((error: unknown): ListModelPackagesOutput => {
            if ((error as { name?: unknown }).name === "ResourceNotFound")
              return { ModelPackageSummaryList: [] };
            throw error;
          }),
      );
      for (const summary of listed.ModelPackageSummaryList ?? []) {
        const named = parseDescription(summary.ModelPackageDescription);
        if (!named || !matches(named, wanted) || !summary.ModelPackageArn) continue;
        const arn = summary.ModelPackageArn;
        const described = await this.call(`describe the model package ${arn}`, () =>
          this.client.send(new DescribeModelPackageCommand({ ModelPackageName: arn })),
        );
        const metadata = described.CustomerMetadataProperties ?? {};
        const recorded = { rolloutId: metadata[KEYS.rolloutId], version: metadata[KEYS.version] };
        if (matches(recorded, wanted)) return { arn, status: approvalStatus(described.ModelApprovalStatus) };
      }
      nextToken = listed.NextToken;
      if (!nextToken) return undefined;
    }
    return undefined;
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw registryFailure(error, operation);
    }
  }
}

/** The group of a model: its name, which SageMaker's rules allow for every model name modelship accepts. */
function modelPackageGroupName(model: string): string {
  if (GROUP_NAME.test(model)) return model;
  const hash = createHash("sha256").update(model).digest("hex").slice(0, 8);
  const cleaned = model
    .replace(/[^a-zA-Z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 54);
  return cleaned ? `${cleaned.replace(/-+$/, "")}-${hash}` : hash;
}

function packageDescription(entry: RegistryEntry): string {
  return `modelship ${entry.model} ${entry.version} (rollout ${entry.rolloutId})`;
}

function parseDescription(
  description: string | undefined,
): { readonly version: string; readonly rolloutId: string } | undefined {
  const parsed = /^modelship \S+ (\S+) \(rollout (\S+)\)$/.exec(description ?? "");
  return parsed ? { version: parsed[1] ?? "", rolloutId: parsed[2] ?? "" } : undefined;
}

function matches(
  found: { readonly rolloutId?: string | undefined; readonly version?: string | undefined },
  wanted: { readonly rolloutId?: string; readonly version?: string },
): boolean {
  return (
    (wanted.rolloutId === undefined || found.rolloutId === wanted.rolloutId) &&
    (wanted.version === undefined || found.version === wanted.version)
  );
}

function approvalStatus(status: ModelApprovalStatus | undefined): ApprovalStatus | undefined {
  return status === "Approved" || status === "Rejected" || status === "PendingManualApproval"
    ? status
    : undefined;
}

/**
 * Who a UserContext names. For model packages its IamIdentity holds the IAM principal that made the change (API
 * reference, UserContext: "IamIdentity … associated with model package groups, model packages, and project
 * entities only"); a change made in SageMaker Studio also names the user profile.
 */
function userOf(user: UserContext | undefined): string | undefined {
  const arn = user?.IamIdentity?.Arn;
  const profile = user?.UserProfileName;
  if (arn && profile) return `${arn} (SageMaker Studio user ${profile})`;
  return arn ?? profile;
}

/**
 * The entry's identity, artifact, report URIs (`report:<name>`) and gate summaries, made to fit SageMaker's
 * rules: characters it refuses become spaces (comparisons become words), long values are cut with `...`,
 * and past 50 entries the last gate summaries give way to one entry saying how many were left out.
 */
function customerMetadata(entry: RegistryEntry): Record<string, string> {
  const identity: [string, string][] = [
    [KEYS.model, entry.model],
    [KEYS.version, entry.version],
    [KEYS.rolloutId, entry.rolloutId],
    [KEYS.artifact, entry.artifactUri],
  ];
  const reports = Object.entries(entry.reportUris).map(([name, uri]): [string, string] => [
    `report:${name}`,
    uri,
  ]);
  const candidates = [...identity, ...reports, ...Object.entries(entry.metadata)];
  const fitted = new Map<string, string>();
  let omitted = 0;
  for (const [rawKey, rawValue] of candidates) {
    const key = fitText(rawKey, METADATA_KEY_CHARS);
    const value = fitText(rawValue, METADATA_VALUE_CHARS);
    if (!key || !value || fitted.has(key)) continue;
    if (fitted.size >= METADATA_ENTRIES - 1) {
      omitted += 1;
      continue;
    }
    fitted.set(key, value);
  }
  if (omitted > 0) fitted.set(KEYS.omitted, `${omitted} more gate summaries: see the reports`);
  return Object.fromEntries(fitted);
}

const COMPARISONS: Readonly<Record<string, string>> = {
  "<=": " le ",
  ">=": " ge ",
  "≤": " le ",
  "≥": " ge ",
  "<": " lt ",
  ">": " gt ",
  "%": " pct",
};

function fitText(text: string, max: number): string {
  const worded = text.replace(/<=|>=|[≤≥<>%]/g, (symbol) => COMPARISONS[symbol] ?? " ");
  const allowed = [...worded].map((c) => (METADATA_CHARACTER.test(c) ? c : " ")).join("");
  const tidy = allowed.replace(/\s+/g, " ").trim();
  return tidy.length <= max ? tidy : `${tidy.slice(0, max - 3).trimEnd()}...`;
}

/** The eval report is the model's quality statistics in SageMaker's terms; every report is in the metadata. */
function modelMetrics(
  reportUris: Readonly<Record<string, string>>,
): Pick<CreateModelPackageInput, "ModelMetrics"> {
  const evalReport = reportUris["eval"];
  if (!evalReport?.startsWith("s3://")) return {};
  return {
    ModelMetrics: { ModelQuality: { Statistics: { ContentType: "application/json", S3Uri: evalReport } } },
  };
}

function registryFailure(error: unknown, operation: string): unknown {
  if (isTransientAwsError(error)) return asTransientWhenPassing(error, operation);
  const { name, message } = error as { name?: unknown; message?: unknown };
  const said = `${String(name)}: ${String(message)}`;
  const hint =
    name === "AccessDeniedException"
      ? "The function's role needs sagemaker:DescribeModelPackageGroup, CreateModelPackageGroup, ListModelPackages, DescribeModelPackage, CreateModelPackage and UpdateModelPackage; the ModelPipeline construct grants them."
      : name === "ResourceLimitExceeded"
        ? "The account's SageMaker quota for model packages or groups is reached: delete old versions or ask for a higher quota."
        : "Read SageMaker's message: an invalid report URI or metadata value is the usual cause.";
  return new GatewayFailed(`The SageMaker Model Registry refused to ${operation} (${said}).`, {
    hint,
    cause: error,
  });
}
