// `modelship doctor [--stack NAME] [--json]`: checks a deployed stack's cluster and bucket before the first
// rollout meets them — access entries, namespace, group bindings, gateway parent, GPU nodes, the candidates'
// credentials, the bucket's events, the API endpoint's reachability, the gateway URL — each ✓ or ✗ with what
// to run to fix it (lib/cli/doctor/doctor-checks.ts). The stack is found by its name; what it deployed comes
// from its outputs (BucketName, ClusterSettings).

import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { EKSClient } from "@aws-sdk/client-eks";
import { IAMClient } from "@aws-sdk/client-iam";
import { S3Client } from "@aws-sdk/client-s3";
import { AwsDoctorReads } from "../aws/doctor/aws-reads";
import { KubernetesDoctorReads } from "../aws/doctor/kubernetes-reads";
import { connectKubernetes } from "../aws/eks/cluster";
import { eksTokenSource } from "../aws/eks/token";
import { CLUSTER_SETTINGS_OUTPUT, parseClusterSettings } from "../core/config/cluster-settings";
import { describeAwsFailure } from "./aws-cli";
import { BadInput, runCliCommand, UsageError } from "./cli-command";
import { parseCommandLine } from "./command-line";
import {
  CLUSTER_NOT_DESCRIBED,
  ClusterNotDescribed,
  type DoctorContext,
  runDoctorChecks,
} from "./doctor/doctor-checks";
import { doctorExitCode, doctorReportJson, formatDoctorReport } from "./doctor/doctor-report";

/** The sample stack's name (bin/app.ts). */
const DEFAULT_STACK = "Modelship";
/** How long the gateway URL may take to answer: a gateway that answers at all does so well within it. */
const GATEWAY_TIMEOUT_MS = 5_000;
/**
 * How long one read of the cluster's API may take. The reads are small (one namespace, the RoleBindings of one
 * namespace, the nodes with a label): a healthy API server answers them in well under a second, from another
 * region too. 15 s leaves room for a slow TLS handshake over a VPN and a busy control plane, and is still far
 * below undici's 300 s wait for response headers, which is all that bounds a read otherwise. The first read
 * that times out fails its check; the checks after it that need the API are skipped, so a silent endpoint costs
 * one bound, not one per check.
 */
const KUBERNETES_READ_TIMEOUT_MS = 15_000;
/**
 * Each AWS call's bounds (the SDK's NodeHttpHandler options; both default to none): a doctor run against an
 * unreachable endpoint ends with a timeout instead of hanging. Reads are small and answer in well under a second.
 */
const AWS_HTTP = { connectionTimeout: 10_000, requestTimeout: 30_000, throwOnRequestTimeout: true } as const;

const USAGE = `Usage: modelship doctor [--stack NAME] [--json]

Checks what a deployed modelship stack needs of its cluster and bucket, before the first rollout finds out:
the cluster's authentication mode and the functions' access entries, the namespace, the Kubernetes groups'
bindings (modelship-routes and the others), the gateway parent accepting routes from the namespace, GPU nodes
with the stack's selector and tolerated taints, the Pod Identity agent (or IRSA: the IAM OIDC provider and the
role's trust policy) for the candidates' service account, the bucket's EventBridge notifications, the API endpoint's reachability from where the functions run,
and the gateway URL the prober uses. Each check prints ✓, ✗ with what to run to fix it, or – when it does not
apply.

Options:
  --stack NAME   the stack's CloudFormation name (default ${DEFAULT_STACK}, the sample stack's)
  --json         print {stack, region, cluster, namespace, checks: [{id, title, status, summary, details, fix}], ok, problems}
  -h, --help     show this help

AWS credentials and region come from the SDK's standard configuration (AWS_PROFILE, AWS_REGION, …); the
cluster is read with the same identity, which needs read access to it (AmazonEKSAdminViewPolicy), and, when the
service account uses IRSA, iam:ListOpenIDConnectProviders, iam:GetOpenIDConnectProvider and iam:GetRole. Each
read of the cluster's API waits at most ${KUBERNETES_READ_TIMEOUT_MS / 1000} s.

Exit codes: 0 no problem found, 1 a check failed, or the stack cannot be read, 2 usage error.`;

/** The doctor's bounds that a test shortens; not options of the command. */
export interface DoctorBounds {
  readonly kubernetesReadTimeoutMs: number;
}

export function run(
  argv: string[],
  bounds: DoctorBounds = { kubernetesReadTimeoutMs: KUBERNETES_READ_TIMEOUT_MS },
): Promise<number> {
  return runCliCommand({ name: "doctor", usage: USAGE }, () => doctor(argv, bounds));
}

async function doctor(argv: string[], bounds: DoctorBounds): Promise<number> {
  const { values } = parseCommandLine({
    args: argv,
    strict: true,
    options: {
      stack: { type: "string", default: DEFAULT_STACK },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const stackName = values.stack;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    throw new UsageError(
      `--stack takes a CloudFormation stack name (letters, digits and '-', starting with a letter), found '${stackName}'.`,
    );
  }
  const cloudFormation = new CloudFormationClient({ requestHandler: AWS_HTTP });
  const region = await cloudFormation.config.region().catch(() => undefined);
  if (!region) throw new BadInput("no AWS region: set AWS_REGION (or a profile with a region).");
  const eks = new EKSClient({ region, requestHandler: AWS_HTTP });
  const aws = new AwsDoctorReads({
    cloudFormation,
    eks,
    iam: new IAMClient({ region, requestHandler: AWS_HTTP }),
    s3: new S3Client({ region, requestHandler: AWS_HTTP }),
  });

  const stack = await aws.stack(stackName).catch((error: unknown) => {
    throw new BadInput(`could not read the stack ${stackName}: ${describeAwsFailure(error)}`);
  });
  if (!stack) {
    throw new BadInput(
      `no stack named ${stackName} in ${region}.`,
      "Give the deployed stack's name with --stack (aws cloudformation list-stacks --stack-status-filter CREATE_COMPLETE UPDATE_COMPLETE), or set AWS_REGION to its region.",
    );
  }
  const output = stack.outputs[CLUSTER_SETTINGS_OUTPUT];
  if (output === undefined) {
    throw new BadInput(
      `the stack ${stackName} has no ${CLUSTER_SETTINGS_OUTPUT} output, which says what doctor checks the cluster against.`,
      "Deploy it again with this modelship (npx cdk deploy). A stack of your own adds it with addClusterSettingsOutput (lib/infra/cluster-settings-output.ts).",
    );
  }
  const parsed = parseClusterSettings(output);
  if ("problems" in parsed) {
    throw new BadInput(
      `the stack ${stackName}'s ${CLUSTER_SETTINGS_OUTPUT} output is not what this modelship reads: ${parsed.problems.join("; ")}.`,
      "Deploy the stack again with this modelship (npx cdk deploy), or run the doctor of the modelship that deployed it.",
    );
  }
  const { settings } = parsed;
  const cluster = await aws.cluster(settings.clusterName).then(
    (described) => ({ described }),
    (error: unknown) => ({ failure: describeAwsFailure(error) }),
  );
  let reads: Promise<KubernetesDoctorReads> | undefined;
  const [, partition, , , account] = stack.id.split(":");
  const context: DoctorContext = {
    stackName,
    region,
    partition: partition || "aws",
    account: account ?? "",
    settings,
    bucket: stack.outputs.BucketName,
    aws,
    cluster,
    kubernetes: () => {
      reads ??= connectTo(cluster, settings.clusterName, region, bounds.kubernetesReadTimeoutMs);
      return reads;
    },
    gatewayTimeoutMs: GATEWAY_TIMEOUT_MS,
  };
  const report = {
    stack: stackName,
    region,
    cluster: settings.clusterName,
    namespace: settings.namespace,
    checks: await runDoctorChecks(context),
  };
  console.log(values.json ? doctorReportJson(report) : formatDoctorReport(report));
  return doctorExitCode(report);
}

/** The cluster's API, reached at the endpoint DescribeCluster gave, with a token signed by this identity. */
async function connectTo(
  cluster: DoctorContext["cluster"],
  clusterName: string,
  region: string,
  timeoutMs: number,
): Promise<KubernetesDoctorReads> {
  if ("failure" in cluster) throw new ClusterNotDescribed(CLUSTER_NOT_DESCRIBED);
  const server = cluster.described.endpoint;
  const caData = cluster.described.certificateAuthority?.data;
  if (!server || !caData) {
    throw new ClusterNotDescribed(
      `the cluster's API was not reached: cluster ${clusterName} has no API endpoint yet (status ${cluster.described.status ?? "unknown"})`,
    );
  }
  const clients = await connectKubernetes({
    endpoint: () => Promise.resolve({ server, caData }),
    token: eksTokenSource({ clusterName, region }),
  });
  return new KubernetesDoctorReads(clients, timeoutMs);
}
