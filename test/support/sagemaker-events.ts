// The "SageMaker Model Package State Change" event as AWS documents it: the example in the SageMaker Developer
// Guide ("Events that Amazon SageMaker AI sends to Amazon EventBridge", model package state change), field for
// field, with the package's ARN, group, version and status given. It carries no CustomerMetadataProperties,
// ApprovalDescription or LastModifiedBy: what reads it must not need them. (The example repeats "source" as a
// list, a typo in the page: a JSON object keeps one value per key, the string.)

import { REGISTRY_STATE_CHANGE } from "../../lib/pipeline/commands";

export interface ModelPackageChange {
  readonly arn: string;
  readonly status: string;
}

/** The package ARN's group and version, as SageMaker names versioned packages: `…:model-package/<group>/<n>`. */
function groupAndVersion(arn: string): { group: string; version: number } {
  const [, group = "", version = "0"] = /model-package\/([^/]+)\/(\d+)$/.exec(arn) ?? [];
  return { group, version: Number(version) };
}

/** The detail-type, kept as its literal type in the event below. */
const DETAIL_TYPE: typeof REGISTRY_STATE_CHANGE = REGISTRY_STATE_CHANGE;

export function modelPackageStateChange({ arn, status }: ModelPackageChange) {
  const { group, version } = groupAndVersion(arn);
  const region = arn.split(":")[3] ?? "us-east-1";
  const account = arn.split(":")[4] ?? "123456789012";
  return {
    version: "0",
    id: "844e2571-85d4-695f-b930-0153b71dcb42",
    "detail-type": DETAIL_TYPE,
    source: "aws.sagemaker",
    account,
    time: "2021-02-24T17:00:14Z",
    region,
    resources: [arn],
    detail: {
      ModelPackageGroupName: group,
      ModelPackageVersion: version,
      ModelPackageArn: arn,
      CreationTime: "2021-02-24T17:00:14Z",
      InferenceSpecification: {
        Containers: [
          {
            Image: "257758044811.dkr.ecr.us-east-2.amazonaws.com/sagemaker-xgboost:1.0-1-cpu-py3",
            ImageDigest: "sha256:4dc8a7e4a010a19bb9e0a6b063f355393f6e623603361bd8b105f554d4f0c004",
            ModelDataUrl: `s3://sagemaker-project/${group}/output/model.tar.gz`,
          },
        ],
        SupportedContentTypes: ["text/csv"],
        SupportedResponseMIMETypes: ["text/csv"],
      },
      ModelPackageStatus: "Completed",
      ModelPackageStatusDetails: { ValidationStatuses: [], ImageScanStatuses: [] },
      CertifyForMarketplace: false,
      ModelApprovalStatus: status,
      MetadataProperties: {
        GeneratedBy: `arn:aws:sagemaker:${region}:${account}:pipeline/${group}/execution/4r83jejmhorv`,
      },
      ModelMetrics: {
        ModelQuality: {
          Statistics: {
            ContentType: "application/json",
            S3Uri: `s3://sagemaker-project/${group}/output/evaluation/evaluation.json`,
          },
        },
      },
      LastModifiedTime: "2021-02-24T17:00:14Z",
    },
  };
}
