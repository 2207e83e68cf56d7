import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import {
  DescribeAccessEntryCommand,
  DescribeAddonCommand,
  DescribeClusterCommand,
  EKSClient,
  ListAccessEntriesCommand,
  ListAssociatedAccessPoliciesCommand,
  ListPodIdentityAssociationsCommand,
} from "@aws-sdk/client-eks";
import {
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
  NoSuchEntityException,
} from "@aws-sdk/client-iam";
import { GetBucketNotificationConfigurationCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type DoctorBounds, run as doctor } from "../../lib/cli/doctor";
import type { CheckResult } from "../../lib/cli/doctor/doctor-report";
import type { ClusterSettings } from "../../lib/core/config/cluster-settings";
import type { ModelshipFunction } from "../../lib/core/state-machine/pipeline-functions";
import { clusterAccessOf, clusterRoleObjects } from "../../lib/infra/cluster-roles";
import { FUNCTION_PORT_USE } from "../../lib/pipeline/function-port-use";
import { startCli } from "../support/cli-process";
import { captureStreams } from "../support/console-capture";
import { selfSignedCertificate } from "../support/self-signed-certificate";
import { KubernetesApiServer } from "./eks/kubernetes-api-server";

const REGION = "us-east-1";
const ACCOUNT = "123456789012";
const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Modelship/4e3a1f40-0000-11f0-9a6c-0a1b2c3d4e5f`;
const EDIT_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy";
const GPU_LABEL = "karpenter.k8s.aws/instance-gpu-name";
const ISSUER_URL = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER_URL}`;
const IRSA_ROLE = `arn:aws:iam::${ACCOUNT}:role/weights-reader`;

const server = new KubernetesApiServer();
const cloudFormation = mockClient(CloudFormationClient);
const eks = mockClient(EKSClient);
const s3 = mockClient(S3Client);
const iam = mockClient(IAMClient);
let apiServerUrl = "";
let gateway: Server;
let gatewayUrl = "";

/** What the mocked AWS answers, read at each call: a test changes it before running the doctor. */
interface AwsWorld {
  settings: ClusterSettings;
  outputs: Record<string, string | undefined>;
  authenticationMode: string;
  endpoint: { endpointPublicAccess: boolean; endpointPrivateAccess: boolean; publicAccessCidrs: string[] };
  entries: Map<string, { groups: string[]; editNamespaces: string[] }>;
  addon: string | undefined;
  associations: number;
  eventBridge: boolean;
  /** Where DescribeCluster says the API server is. */
  apiServer: { endpoint: string; caData: string };
  /** The account's IAM OIDC providers. */
  oidcProviders: { arn: string; url: string; audiences: string[] }[];
  /** Role name → its trust policy. */
  trustPolicies: Map<string, unknown>;
}
let world: AwsWorld;

/** Every function that reaches the cluster, with the access the stack derives for it. */
function functionsWithAccess(): ClusterSettings["functions"] {
  const functions: ClusterSettings["functions"] = {};
  for (const name of Object.keys(FUNCTION_PORT_USE) as ModelshipFunction[]) {
    const { editNamespace, kubernetesGroups } = clusterAccessOf(name);
    if (!editNamespace && kubernetesGroups.length === 0) continue;
    functions[name] = {
      roleArn: `arn:aws:iam::${ACCOUNT}:role/Modelship-${name}Role`,
      editNamespace,
      kubernetesGroups: [...kubernetesGroups],
    };
  }
  return functions;
}

/** A cluster set up as the stack needs: every check passes. */
function healthyWorld(): AwsWorld {
  const settings: ClusterSettings = {
    clusterName: "gpu-inference",
    namespace: "models",
    gatewayParent: { name: "inference-gateway", namespace: "gateway", sectionName: "https" },
    gpu: {
      resourceName: "nvidia.com/gpu",
      nodeSelector: { [GPU_LABEL]: "h100" },
      tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
    },
    serviceAccount: "modelship-candidate",
    gatewayUrl,
    manageClusterAccess: true,
    candidateRoleArn: `arn:aws:iam::${ACCOUNT}:role/Modelship-CandidateRole`,
    functions: functionsWithAccess(),
  };
  server.reset();
  for (const name of ["models", "gateway"]) {
    server.seedClusterScoped("namespaces", {
      metadata: { name, labels: { "kubernetes.io/metadata.name": name } },
      status: { phase: "Active" },
    });
  }
  for (const object of clusterRoleObjects("models")) seedRbac(object);
  server.seed("gateways", "gateway", {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name: "inference-gateway", namespace: "gateway" },
    spec: {
      listeners: [
        { name: "http", protocol: "HTTP", port: 80 },
        { name: "https", protocol: "HTTPS", port: 443, allowedRoutes: { namespaces: { from: "All" } } },
      ],
    },
  });
  server.nodes.push(gpuNode("gpu-node-1"));
  return {
    settings,
    outputs: { BucketName: "modelship-models", StateMachineArn: "arn:aws:states:…" },
    authenticationMode: "API_AND_CONFIG_MAP",
    endpoint: { endpointPublicAccess: true, endpointPrivateAccess: false, publicAccessCidrs: ["0.0.0.0/0"] },
    entries: new Map(
      Object.values(settings.functions).map((access) => [
        access.roleArn,
        { groups: [...access.kubernetesGroups], editNamespaces: access.editNamespace ? ["models"] : [] },
      ]),
    ),
    addon: "ACTIVE",
    associations: 1,
    eventBridge: true,
    apiServer: { endpoint: apiServerUrl, caData: server.caData },
    oidcProviders: [
      {
        arn: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`,
        url: "token.actions.githubusercontent.com",
        audiences: ["sts.amazonaws.com"],
      },
      { arn: PROVIDER_ARN, url: ISSUER_URL, audiences: ["sts.amazonaws.com"] },
    ],
    trustPolicies: new Map([
      [
        "weights-reader",
        irsaTrust({ [`${ISSUER_URL}:sub`]: "system:serviceaccount:models:modelship-candidate" }),
      ],
    ]),
  };
}

/** A trust policy of the shape the EKS User Guide gives for IRSA, with these StringEquals conditions besides aud. */
function irsaTrust(conditions: Record<string, string>, operator = "StringEquals"): unknown {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: PROVIDER_ARN },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: { [operator]: { [`${ISSUER_URL}:aud`]: "sts.amazonaws.com", ...conditions } },
      },
    ],
  };
}

/** The candidates' service account annotated for IRSA with the role, and no Pod Identity in the cluster. */
function useIrsa(): void {
  world.addon = undefined;
  world.associations = 0;
  server.seed("serviceaccounts", "models", {
    metadata: {
      name: "modelship-candidate",
      namespace: "models",
      annotations: { "eks.amazonaws.com/role-arn": IRSA_ROLE },
    },
  });
}

function seedRbac(object: Readonly<Record<string, unknown>>): void {
  const kind = object.kind as string;
  const namespace = (object.metadata as { namespace?: string }).namespace;
  const json = object as Record<string, unknown>;
  if (kind === "Role") server.seed("roles", namespace ?? "", json);
  else if (kind === "RoleBinding") server.seed("rolebindings", namespace ?? "", json);
  else if (kind === "ClusterRole") server.seedClusterScoped("clusterroles", json);
  else server.seedClusterScoped("clusterrolebindings", json);
}

function gpuNode(
  name: string,
  taint = { key: "nvidia.com/gpu", effect: "NoSchedule" },
  gpus = "8",
  { ready = true, cordoned = false } = {},
) {
  return {
    metadata: { name, labels: { [GPU_LABEL]: "h100", "karpenter.sh/nodepool": "gpu" } },
    spec: { taints: [taint], ...(cordoned && { unschedulable: true }) },
    status: {
      allocatable: { "nvidia.com/gpu": gpus, cpu: "96" },
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
    },
  };
}

function answerFromWorld(): void {
  cloudFormation.on(DescribeStacksCommand).callsFake((input: { StackName?: string }) => {
    if (input.StackName !== "Modelship") {
      throw Object.assign(new Error(`Stack with id ${input.StackName} does not exist`), {
        name: "ValidationError",
      });
    }
    return {
      Stacks: [
        {
          StackName: "Modelship",
          StackId: STACK_ID,
          StackStatus: "UPDATE_COMPLETE",
          CreationTime: new Date("2026-12-01T10:00:00Z"),
          Outputs: Object.entries({
            ClusterSettings: JSON.stringify(world.settings),
            ...world.outputs,
          }).flatMap(([OutputKey, OutputValue]) =>
            OutputValue === undefined ? [] : [{ OutputKey, OutputValue }],
          ),
        },
      ],
    };
  });
  eks.on(DescribeClusterCommand).callsFake(() => ({
    cluster: {
      name: world.settings.clusterName,
      status: "ACTIVE",
      endpoint: world.apiServer.endpoint,
      certificateAuthority: { data: world.apiServer.caData },
      accessConfig: { authenticationMode: world.authenticationMode },
      resourcesVpcConfig: { vpcId: "vpc-0a1b2c3d4e5f60718", ...world.endpoint },
      identity: {
        oidc: { issuer: "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" },
      },
    },
  }));
  eks.on(ListAccessEntriesCommand).callsFake(() => ({ accessEntries: [...world.entries.keys()] }));
  eks.on(DescribeAccessEntryCommand).callsFake((input: { principalArn: string }) => ({
    accessEntry: {
      principalArn: input.principalArn,
      kubernetesGroups: world.entries.get(input.principalArn)?.groups,
    },
  }));
  eks.on(ListAssociatedAccessPoliciesCommand).callsFake((input: { principalArn: string }) => ({
    associatedAccessPolicies: (world.entries.get(input.principalArn)?.editNamespaces ?? []).map(
      (namespace) => ({
        policyArn: EDIT_POLICY,
        accessScope: { type: "namespace", namespaces: [namespace] },
      }),
    ),
  }));
  eks.on(DescribeAddonCommand).callsFake(() => {
    if (world.addon === undefined) {
      throw Object.assign(new Error("No addon: eks-pod-identity-agent found in cluster: gpu-inference"), {
        name: "ResourceNotFoundException",
      });
    }
    return { addon: { addonName: "eks-pod-identity-agent", status: world.addon } };
  });
  eks.on(ListPodIdentityAssociationsCommand).callsFake(() => ({
    associations: Array.from({ length: world.associations }, (_, i) => ({ associationId: `a-${i}` })),
  }));
  s3.on(GetBucketNotificationConfigurationCommand).callsFake(() =>
    world.eventBridge ? { EventBridgeConfiguration: {} } : {},
  );
  iam.on(ListOpenIDConnectProvidersCommand).callsFake(() => ({
    OpenIDConnectProviderList: world.oidcProviders.map(({ arn }) => ({ Arn: arn })),
  }));
  iam.on(GetOpenIDConnectProviderCommand).callsFake((input: { OpenIDConnectProviderArn: string }) => {
    const provider = world.oidcProviders.find(({ arn }) => arn === input.OpenIDConnectProviderArn)!;
    return { Url: provider.url, ClientIDList: provider.audiences, ThumbprintList: [] };
  });
  iam.on(GetRoleCommand).callsFake((input: { RoleName: string }) => {
    const trust = world.trustPolicies.get(input.RoleName);
    if (trust === undefined) {
      throw new NoSuchEntityException({
        message: `The role with name ${input.RoleName} cannot be found.`,
        $metadata: {},
      });
    }
    return {
      Role: {
        RoleName: input.RoleName,
        Arn: `arn:aws:iam::${ACCOUNT}:role/${input.RoleName}`,
        Path: "/",
        RoleId: "AROAEXAMPLEID",
        CreateDate: new Date("2026-11-30T09:00:00Z"),
        // IAM hands policies over URL-encoded (RFC 3986), as GetRole's reference says.
        AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(trust)),
      },
    };
  });
}

beforeAll(async () => {
  apiServerUrl = await server.start();
  gateway = createServer((_, response) => {
    response.writeHead(404, { "content-type": "text/plain" });
    response.end("no route\n");
  });
  await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await server.stop();
  gateway.closeAllConnections();
  await new Promise<void>((resolve) => gateway.close(() => resolve()));
});
beforeEach(() => {
  vi.stubEnv("AWS_REGION", REGION);
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret");
  for (const client of [cloudFormation, eks, s3, iam]) client.reset();
  world = healthyWorld();
  answerFromWorld();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** The doctor's checks as --json prints them, and its exit code. */
async function checks(bounds?: DoctorBounds): Promise<{ code: number; byId: Record<string, CheckResult> }> {
  const streams = captureStreams();
  const code = await doctor(["--json"], bounds);
  vi.restoreAllMocks();
  expect(streams.stderr).toEqual([]);
  const report = JSON.parse(streams.stdout.join("\n")) as { checks: CheckResult[] };
  return { code, byId: Object.fromEntries(report.checks.map((check) => [check.id, check])) };
}

/** Only `id` failed; every other check passed or was skipped. */
function onlyFailing(byId: Record<string, CheckResult>, id: string): CheckResult {
  const failing = Object.values(byId).filter((check) => check.status === "fail");
  expect(failing.map((check) => check.id)).toEqual([id]);
  return byId[id]!;
}

describe("modelship doctor", () => {
  it("passes every check of a cluster set up as the stack needs, and exits 0", async () => {
    const { code, byId } = await checks();

    expect(Object.keys(byId)).toEqual([
      "cluster-access",
      "namespace",
      "groups-bound",
      "gateway-parent",
      "gpu-nodes",
      "pod-credentials",
      "bucket-events",
      "api-endpoint",
      "gateway-url",
    ]);
    expect(Object.values(byId).map((check) => [check.id, check.status])).toEqual(
      Object.keys(byId).map((id) => [id, "pass"]),
    );
    expect(code).toBe(0);
    // Every request to the API server carried an EKS token signed by the doctor's own identity.
    expect(server.requests.length).toBeGreaterThan(5);
    expect(server.requests.every((request) => request.authorization?.startsWith("Bearer k8s-aws-v1."))).toBe(
      true,
    );
  });

  describe("cluster access", () => {
    it("fails a CONFIG_MAP cluster with the command that turns access entries on", async () => {
      world.authenticationMode = "CONFIG_MAP";

      const { code, byId } = await checks();

      expect(onlyFailing(byId, "cluster-access")).toMatchObject({
        summary: expect.stringContaining("authentication mode CONFIG_MAP"),
        fix: [
          "aws eks update-cluster-config --name gpu-inference --access-config authenticationMode=API_AND_CONFIG_MAP",
        ],
      });
      expect(code).toBe(1);
    });

    it("names the function whose access entry lacks the routes group, and the one with no entry, with the commands", async () => {
      const canary = world.settings.functions.CanaryStep!.roleArn;
      const cleanup = world.settings.functions.Cleanup!.roleArn;
      // Its other groups (the scalers' and the candidate readers', for the capacity plan) are still there.
      const kept = world.settings.functions.CanaryStep!.kubernetesGroups.filter(
        (group) => group !== "modelship-routes",
      );
      world.entries.set(canary, { groups: kept, editNamespaces: [] });
      world.entries.delete(cleanup);

      const check = onlyFailing((await checks()).byId, "cluster-access");

      expect(check.details).toEqual([
        "CanaryStep: its access entry lacks the group modelship-routes",
        "Cleanup: no access entry for its role arn:aws:iam::123456789012:role/Modelship-CleanupRole",
      ]);
      expect(check.fix).toEqual([
        `aws eks update-access-entry --cluster-name gpu-inference --principal-arn ${canary} --kubernetes-groups ${[...kept, "modelship-routes"].join(" ")}`,
        `aws eks create-access-entry --cluster-name gpu-inference --principal-arn ${cleanup} --type STANDARD --kubernetes-groups modelship-routes`,
        `aws eks associate-access-policy --cluster-name gpu-inference --principal-arn ${cleanup} --policy-arn ${EDIT_POLICY} --access-scope type=namespace,namespaces=models`,
      ]);
    });

    it("fails a function that creates candidates but has AmazonEKSEditPolicy on another namespace only", async () => {
      const deploy = world.settings.functions.DeployCandidate!.roleArn;
      world.entries.get(deploy)!.editNamespaces = ["default"];

      const check = onlyFailing((await checks()).byId, "cluster-access");

      expect(check.details).toEqual([
        "DeployCandidate: its access entry has no AmazonEKSEditPolicy on namespace models",
      ]);
    });
  });

  describe("namespace", () => {
    it("fails a missing namespace with kubectl create namespace, and skips nothing else", async () => {
      server.clusterObjects.delete("namespaces/models");

      const { byId } = await checks();

      // The gateway parent reads the namespace's labels too: from another namespace, with from: All, it needs none.
      expect(onlyFailing(byId, "namespace")).toMatchObject({
        summary: "namespace models does not exist (modelship never creates namespaces)",
        fix: ["kubectl create namespace models"],
      });
    });
  });

  describe("groups bound", () => {
    it("fails when no RoleBinding names modelship-routes", async () => {
      server.objects.delete("rolebindings/models/modelship-routes");

      const check = onlyFailing((await checks()).byId, "groups-bound");

      expect(check.details).toEqual(["modelship-routes: no RoleBinding in models names the group"]);
      expect(check.fix).toEqual([
        "kubectl -n models create rolebinding modelship-routes --role=modelship-routes --group=modelship-routes",
      ]);
    });

    it("gives the kubectl command that creates the route Role when it is missing too", async () => {
      server.objects.delete("rolebindings/models/modelship-routes");
      server.objects.delete("roles/models/modelship-routes");

      const check = onlyFailing((await checks()).byId, "groups-bound");

      expect(check.fix).toEqual([
        "kubectl -n models create role modelship-routes --verb=get,create,update,delete --resource=httproutes.gateway.networking.k8s.io",
        "kubectl -n models create rolebinding modelship-routes --role=modelship-routes --group=modelship-routes",
      ]);
    });

    it("checks the cluster-wide group with a ClusterRoleBinding", async () => {
      server.clusterObjects.delete("clusterrolebindings/modelship-capacity-readers");

      const check = onlyFailing((await checks()).byId, "groups-bound");

      expect(check.details).toEqual(["modelship-capacity-readers: no ClusterRoleBinding names the group"]);
      expect(check.fix).toEqual([
        "kubectl create clusterrolebinding modelship-capacity-readers --clusterrole=modelship-capacity-readers --group=modelship-capacity-readers",
      ]);
    });

    it("names the verbs a route Role leaves out, compared with what cluster-roles derives", async () => {
      server.seed("roles", "models", {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "modelship-routes", namespace: "models" },
        rules: [
          { apiGroups: ["gateway.networking.k8s.io"], resources: ["httproutes"], verbs: ["get", "create"] },
        ],
      });

      const check = onlyFailing((await checks()).byId, "groups-bound");

      expect(check.details).toEqual([
        "modelship-routes: its bindings do not grant update httproutes, delete httproutes",
      ]);
    });

    it("accepts a ClusterRole with wildcards bound to the group in the namespace", async () => {
      server.objects.delete("roles/models/modelship-routes");
      server.seed("rolebindings", "models", {
        metadata: { name: "modelship-routes", namespace: "models" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "modelship-routes" }],
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "gateway-editor" },
      });
      server.seedClusterScoped("clusterroles", {
        metadata: { name: "gateway-editor" },
        rules: [{ apiGroups: ["gateway.networking.k8s.io"], resources: ["*"], verbs: ["*"] }],
      });

      const { code } = await checks();

      expect(code).toBe(0);
    });
  });

  describe("gateway parent", () => {
    it("fails a listener that takes routes from its own namespace only (the default), with the patch that admits the models' namespace", async () => {
      server.edit("gateways", "gateway", "inference-gateway", (object) => {
        const listeners = (object.spec as { listeners: Record<string, unknown>[] }).listeners;
        delete listeners[1]!.allowedRoutes;
      });

      const check = onlyFailing((await checks()).byId, "gateway-parent");

      expect(check).toMatchObject({
        summary: "no listener of Gateway gateway/inference-gateway accepts HTTPRoutes from namespace models",
        details: [
          "listener https: allowedRoutes.namespaces.from is Same (the default): only routes in gateway",
        ],
        fix: [
          `kubectl -n gateway patch gateway inference-gateway --type json -p '[{"op":"add","path":"/spec/listeners/1/allowedRoutes","value":{"namespaces":{"from":"Selector","selector":{"matchLabels":{"kubernetes.io/metadata.name":"models"}}}}}]'`,
        ],
      });
    });

    it("accepts a Selector listener whose selector picks the namespace's labels, and says no ReferenceGrant is needed", async () => {
      server.edit("gateways", "gateway", "inference-gateway", (object) => {
        const listeners = (object.spec as { listeners: Record<string, unknown>[] }).listeners;
        listeners[1]!.allowedRoutes = {
          namespaces: {
            from: "Selector",
            selector: {
              matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["models"] }],
            },
          },
        };
      });

      const check = (await checks()).byId["gateway-parent"]!;

      expect(check.status).toBe("pass");
      expect(check.summary).toBe(
        "Gateway gateway/inference-gateway accepts HTTPRoutes from namespace models on listener https",
      );
      expect(check.details?.[0]).toMatch(/^no ReferenceGrant needed/);
    });

    it("fails a selector that does not pick the namespace with the label command", async () => {
      server.edit("gateways", "gateway", "inference-gateway", (object) => {
        const listeners = (object.spec as { listeners: Record<string, unknown>[] }).listeners;
        listeners[1]!.allowedRoutes = {
          namespaces: { from: "Selector", selector: { matchLabels: { shared: "true" } } },
        };
      });

      const check = onlyFailing((await checks()).byId, "gateway-parent");

      expect(check.fix).toEqual(["kubectl label namespace models shared=true"]);
    });

    it("fails a gateway parent that does not exist", async () => {
      server.objects.delete("gateways/gateway/inference-gateway");

      const check = onlyFailing((await checks()).byId, "gateway-parent");

      expect(check.summary).toBe("Gateway gateway/inference-gateway does not exist");
    });
  });

  describe("GPU nodes", () => {
    it("fails GPU nodes whose taint the stack does not tolerate, with the toleration to add", async () => {
      server.nodes.length = 0;
      server.nodes.push(gpuNode("gpu-node-1", { key: "dedicated", effect: "NoSchedule" }));
      server.installed.delete("karpenter.sh");

      const check = onlyFailing((await checks()).byId, "gpu-nodes");

      expect(check.details).toEqual([
        "gpu-node-1: taint dedicated:NoSchedule not tolerated by gpu.tolerations",
      ]);
      expect(check.fix).toEqual([
        'add {"key":"dedicated","operator":"Exists","effect":"NoSchedule"} to the stack\'s gpu.tolerations (cdk.json), then npx cdk deploy',
      ]);
    });

    it("fails nodes with the selector that advertise no GPUs (no device plugin)", async () => {
      server.nodes.length = 0;
      server.nodes.push(gpuNode("gpu-node-1", undefined, "0"));
      server.installed.delete("karpenter.sh");

      const check = onlyFailing((await checks()).byId, "gpu-nodes");

      expect(check.details).toEqual([
        "gpu-node-1 carries karpenter.k8s.aws/instance-gpu-name=h100 but advertises no nvidia.com/gpu",
      ]);
      expect(check.fix?.[0]).toMatch(/^install the NVIDIA device plugin/);
    });

    it("fails when the only GPU nodes are not Ready or cordoned, as DeployCandidate's capacity check counts them", async () => {
      server.nodes.length = 0;
      server.nodes.push(
        gpuNode("gpu-node-1", undefined, "8", { ready: false }),
        gpuNode("gpu-node-2", undefined, "8", { cordoned: true }),
      );
      server.installed.delete("karpenter.sh");

      const check = onlyFailing((await checks()).byId, "gpu-nodes");

      expect(check.details).toEqual(["gpu-node-1: not Ready", "gpu-node-2: cordoned (spec.unschedulable)"]);
      expect(check.fix).toEqual([
        "kubectl describe node gpu-node-1   # its conditions say why it is not Ready",
        "kubectl uncordon gpu-node-2   # if it was cordoned for maintenance that is over",
      ]);
    });

    it("fails a NodePool whose nodes would repel candidates, or whose GPU limit is reached", async () => {
      server.nodes.length = 0;
      const pool = (name: string, taint: string, limit: string) => ({
        metadata: { name },
        spec: {
          template: {
            metadata: { labels: { [GPU_LABEL]: "h100" } },
            spec: { taints: [{ key: taint, effect: "NoSchedule" }] },
          },
          limits: { "nvidia.com/gpu": limit },
        },
      });
      server.nodePools.push(pool("tainted", "dedicated", "16"), pool("full", "nvidia.com/gpu", "0"));

      const check = onlyFailing((await checks()).byId, "gpu-nodes");

      expect(check.details).toEqual([
        "no node carries karpenter.k8s.aws/instance-gpu-name=h100",
        "Karpenter NodePool tainted: taint dedicated:NoSchedule not tolerated by gpu.tolerations",
        "Karpenter NodePool full: its nvidia.com/gpu limit is reached",
      ]);
      expect(check.fix).toContain(
        'add {"key":"dedicated","operator":"Exists","effect":"NoSchedule"} to the stack\'s gpu.tolerations (cdk.json), then npx cdk deploy',
      );
    });

    it("passes a cluster with no GPU node yet when a Karpenter NodePool launches them with the selector", async () => {
      server.nodes.length = 0;
      server.nodePools.push({
        metadata: { name: "gpu" },
        spec: {
          template: {
            metadata: { labels: { [GPU_LABEL]: "h100" } },
            spec: { taints: [{ key: "nvidia.com/gpu", effect: "NoSchedule" }] },
          },
          limits: { "nvidia.com/gpu": "16" },
        },
      });

      const check = (await checks()).byId["gpu-nodes"]!;

      expect(check).toMatchObject({
        status: "pass",
        summary: expect.stringContaining("Karpenter's NodePool gpu"),
      });
    });
  });

  describe("pod credentials", () => {
    it("fails when neither the Pod Identity agent add-on nor its DaemonSet runs, with create-addon", async () => {
      world.addon = undefined;

      const check = onlyFailing((await checks()).byId, "pod-credentials");

      expect(check.fix).toEqual([
        "aws eks create-addon --cluster-name gpu-inference --addon-name eks-pod-identity-agent",
      ]);
    });

    it("fails a service account with no Pod Identity association, naming the stack's candidate role", async () => {
      world.associations = 0;

      const check = onlyFailing((await checks()).byId, "pod-credentials");

      expect(check.fix).toEqual([
        `aws eks create-pod-identity-association --cluster-name gpu-inference --namespace models --service-account modelship-candidate --role-arn arn:aws:iam::${ACCOUNT}:role/Modelship-CandidateRole`,
      ]);
    });

    describe("IRSA", () => {
      it("passes a service account whose role trusts the cluster's OIDC provider for it, reading IAM", async () => {
        useIrsa();

        const check = (await checks()).byId["pod-credentials"]!;

        expect(check).toMatchObject({
          status: "pass",
          summary: `IRSA: service account models/modelship-candidate names the role ${IRSA_ROLE}; IAM has the OIDC provider for the cluster's issuer, and the role's trust policy admits the service account`,
        });
        expect(iam.commandCalls(GetOpenIDConnectProviderCommand).map((call) => call.args[0].input)).toEqual([
          { OpenIDConnectProviderArn: PROVIDER_ARN },
        ]);
        expect(iam.commandCalls(GetRoleCommand).map((call) => call.args[0].input)).toEqual([
          { RoleName: "weights-reader" },
        ]);
      });

      it("passes a StringLike sub condition whose wildcard covers the service account", async () => {
        useIrsa();
        world.trustPolicies.set(
          "weights-reader",
          irsaTrust({ [`${ISSUER_URL}:sub`]: "system:serviceaccount:models:modelship-*" }, "StringLike"),
        );

        expect((await checks()).byId["pod-credentials"]?.status).toBe("pass");
      });

      it("fails when IAM has no OIDC provider for the cluster's issuer, with the eksctl command that creates it", async () => {
        useIrsa();
        world.oidcProviders = world.oidcProviders.filter(({ arn }) => arn !== PROVIDER_ARN);

        const check = onlyFailing((await checks()).byId, "pod-credentials");

        expect(check.summary).toBe(
          `IRSA: service account models/modelship-candidate names the role ${IRSA_ROLE}, but STS will not give the candidates its credentials`,
        );
        expect(check.details).toEqual([
          `IAM has no OIDC provider for the cluster's issuer https://${ISSUER_URL}`,
        ]);
        expect(check.fix).toEqual([
          "eksctl utils associate-iam-oidc-provider --cluster gpu-inference --region us-east-1 --approve",
        ]);
      });

      it("fails a trust policy with no sub condition, with the trust policy that names the service account", async () => {
        useIrsa();
        world.trustPolicies.set("weights-reader", irsaTrust({}));

        const check = onlyFailing((await checks()).byId, "pod-credentials");

        expect(check.details).toEqual([
          `the role weights-reader: its trust policy allows ${PROVIDER_ARN} with no ${ISSUER_URL}:sub condition (StringEquals or StringLike): any service account of the cluster could take the role; name system:serviceaccount:models:modelship-candidate`,
        ]);
        const fix = check.fix ?? [];
        expect(fix).toHaveLength(1);
        const [, policy] =
          /^aws iam update-assume-role-policy --role-name weights-reader --policy-document '(.*)' {3}# replaces its trust policy/.exec(
            fix[0]!,
          ) ?? [];
        // The policy the fix gives is the documented shape, and the doctor passes it.
        expect(JSON.parse(policy!)).toEqual(
          irsaTrust({ [`${ISSUER_URL}:sub`]: "system:serviceaccount:models:modelship-candidate" }),
        );
        world.trustPolicies.set("weights-reader", JSON.parse(policy!));
        expect((await checks()).byId["pod-credentials"]?.status).toBe("pass");
      });

      it("fails a trust policy whose sub condition names another service account", async () => {
        useIrsa();
        world.trustPolicies.set(
          "weights-reader",
          irsaTrust({ [`${ISSUER_URL}:sub`]: "system:serviceaccount:default:modelship-candidate" }),
        );

        const check = onlyFailing((await checks()).byId, "pod-credentials");

        expect(check.details).toEqual([
          `the role weights-reader: its trust policy's ${ISSUER_URL}:sub condition names system:serviceaccount:default:modelship-candidate, not system:serviceaccount:models:modelship-candidate`,
        ]);
      });

      it("fails the check with the reason when IAM refuses the doctor's identity, and the other checks go on", async () => {
        useIrsa();
        iam
          .on(ListOpenIDConnectProvidersCommand)
          .rejects(
            Object.assign(
              new Error(
                `User: arn:aws:sts::${ACCOUNT}:assumed-role/Developer/alice is not authorized to perform: iam:ListOpenIDConnectProviders`,
              ),
              { name: "AccessDenied" },
            ),
          );

        const { byId } = await checks();

        const check = onlyFailing(byId, "pod-credentials");
        expect(check.summary).toBe(
          `IRSA: service account models/modelship-candidate names the role ${IRSA_ROLE}, but IAM could not be read to check its OIDC provider and trust policy: User: arn:aws:sts::${ACCOUNT}:assumed-role/Developer/alice is not authorized to perform: iam:ListOpenIDConnectProviders. Your AWS identity needs the permission named above, in the stack's account and region.`,
        );
        expect(check.fix?.[0]).toMatch(
          /iam:ListOpenIDConnectProviders, iam:GetOpenIDConnectProvider and iam:GetRole$/,
        );
        expect(Object.values(byId).filter((c) => c.status === "pass")).toHaveLength(8);
      });
    });
  });

  describe("bucket events", () => {
    it("fails a bucket that does not send its events to EventBridge", async () => {
      world.eventBridge = false;

      const check = onlyFailing((await checks()).byId, "bucket-events");

      expect(check.summary).toBe(
        "bucket modelship-models does not send its events to EventBridge: an upload starts nothing",
      );
      expect(check.fix).toEqual([
        `aws s3api put-bucket-notification-configuration --bucket modelship-models --notification-configuration '{"EventBridgeConfiguration":{}}'`,
      ]);
    });

    it("keeps the bucket's other notifications in the fix when it has some", async () => {
      world.eventBridge = false;
      s3.on(GetBucketNotificationConfigurationCommand).resolves({
        QueueConfigurations: [
          { QueueArn: "arn:aws:sqs:us-east-1:123456789012:uploads", Events: ["s3:ObjectCreated:*"] },
        ],
      });

      const check = onlyFailing((await checks()).byId, "bucket-events");

      expect(check.fix).toEqual([
        'aws s3api get-bucket-notification-configuration --bucket modelship-models > notifications.json   # add "EventBridgeConfiguration": {} to it, keeping its 1 other notification, then:',
        "aws s3api put-bucket-notification-configuration --bucket modelship-models --notification-configuration file://notifications.json",
      ]);
    });
  });

  describe("API endpoint", () => {
    it("fails a private-only endpoint when the functions run outside any VPC", async () => {
      world.endpoint = { endpointPublicAccess: false, endpointPrivateAccess: true, publicAccessCidrs: [] };

      const check = onlyFailing((await checks()).byId, "api-endpoint");

      expect(check.summary).toBe(
        "the API endpoint is private only, and the functions run outside any VPC: they cannot reach it",
      );
      expect(check.fix?.[0]).toContain(`-c modelshipClusterVpc='{"vpcId":"vpc-0a1b2c3d4e5f60718"`);
    });

    it("fails a public endpoint limited to some CIDRs when the functions run outside any VPC", async () => {
      world.endpoint = {
        endpointPublicAccess: true,
        endpointPrivateAccess: false,
        publicAccessCidrs: ["203.0.113.0/24"],
      };

      const check = onlyFailing((await checks()).byId, "api-endpoint");

      expect(check.fix?.[1]).toBe(
        "or: aws eks update-cluster-config --name gpu-inference --resources-vpc-config publicAccessCidrs=0.0.0.0/0",
      );
    });

    it("passes a private endpoint when the functions run in the cluster's VPC", async () => {
      world.endpoint = { endpointPublicAccess: false, endpointPrivateAccess: true, publicAccessCidrs: [] };
      world.settings = { ...world.settings, functionsVpcId: "vpc-0a1b2c3d4e5f60718" };

      const check = (await checks()).byId["api-endpoint"]!;

      expect(check).toMatchObject({
        status: "pass",
        summary: "private endpoint on; the functions run in vpc-0a1b2c3d4e5f60718",
      });
    });
  });

  describe("gateway URL", () => {
    it("fails a gateway URL that refuses the connection", async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      world.settings = { ...world.settings, gatewayUrl: url };

      const check = onlyFailing((await checks()).byId, "gateway-url");

      expect(check.summary).toBe(
        `${url} could not be reached: ECONNREFUSED connect ECONNREFUSED ${url.slice(7)}`,
      );
    });

    it("fails a gateway URL that accepts the connection but does not answer within its bound", async () => {
      const silent = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      world.settings = { ...world.settings, gatewayUrl: url };

      try {
        const check = onlyFailing((await checks()).byId, "gateway-url");

        expect(check.summary).toBe(`${url} did not answer within 5 s`);
      } finally {
        silent.closeAllConnections();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it("skips the check when the stack sets no gateway URL", async () => {
      world.settings = { ...world.settings, gatewayUrl: "" };

      const { code, byId } = await checks();

      expect(byId["gateway-url"]).toMatchObject({
        status: "skip",
        summary: "gateway.url is empty: the prober reaches each version's server directly",
      });
      expect(code).toBe(0);
    });
  });

  describe("a cluster it cannot read", () => {
    it("says why the API checks are skipped when the cluster has no endpoint yet (still being created)", async () => {
      eks.on(DescribeClusterCommand).resolves({
        cluster: { name: world.settings.clusterName, status: "CREATING" },
      });

      const { byId } = await checks();

      for (const id of ["namespace", "groups-bound", "gateway-parent", "gpu-nodes"]) {
        expect(byId[id]).toMatchObject({
          status: "skip",
          summary: `the cluster's API was not reached: cluster ${world.settings.clusterName} has no API endpoint yet (status CREATING)`,
        });
      }
      expect(server.requests).toEqual([]);
    });

    it("fails cluster access when the cluster does not exist, skips the checks that need it and goes on with the others", async () => {
      eks.on(DescribeClusterCommand).rejects(
        Object.assign(new Error("No cluster found for name: gpu-inference."), {
          name: "ResourceNotFoundException",
        }),
      );

      const { code, byId } = await checks();

      expect(byId["cluster-access"]).toMatchObject({
        status: "fail",
        summary: expect.stringMatching(
          /^could not describe EKS cluster gpu-inference in us-east-1: No cluster found/,
        ),
      });
      for (const id of [
        "namespace",
        "groups-bound",
        "gateway-parent",
        "gpu-nodes",
        "pod-credentials",
        "api-endpoint",
      ]) {
        expect(byId[id]).toMatchObject({
          status: "skip",
          summary: "the cluster could not be described (cluster access)",
        });
      }
      expect([byId["bucket-events"]?.status, byId["gateway-url"]?.status]).toEqual(["pass", "pass"]);
      expect(server.requests).toEqual([]);
      expect(code).toBe(1);
    });

    it(
      "fails the first check that reads an API server which accepts and never answers, skips the others that would, and finishes",
      { timeout: 60_000 },
      async () => {
        const tls = selfSignedCertificate("silent-apiserver");
        let received = 0;
        const silent = createHttpsServer({ key: tls.key, cert: tls.cert }, () => {
          received += 1;
        });
        await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
        world.apiServer = {
          endpoint: `https://127.0.0.1:${(silent.address() as AddressInfo).port}`,
          caData: Buffer.from(tls.cert).toString("base64"),
        };
        try {
          const { code, byId } = await checks({ kubernetesReadTimeoutMs: 200 });

          expect(byId.namespace).toMatchObject({
            status: "fail",
            summary: "the cluster's API server did not answer within 0.2 s",
          });
          for (const id of ["groups-bound", "gateway-parent", "gpu-nodes", "pod-credentials"]) {
            expect(byId[id]).toMatchObject({
              status: "skip",
              summary: "the cluster's API server did not answer (namespace)",
            });
          }
          expect(
            ["cluster-access", "bucket-events", "api-endpoint", "gateway-url"].map((id) => byId[id]?.status),
          ).toEqual(["pass", "pass", "pass", "pass"]);
          expect(code).toBe(1);
          // One read at most, the later checks skipped: on a loaded machine the 0.2 s bound can pass before the
          // request even reached the server (then none arrived).
          expect(received).toBeLessThanOrEqual(1);
          // The read was abandoned, not left waiting: its connection is closed.
          await vi.waitFor(
            async () => {
              const open = await new Promise<number>((resolve, reject) =>
                silent.getConnections((error, count) => (error ? reject(error) : resolve(count))),
              );
              expect(open).toBe(0);
            },
            { timeout: 30_000, interval: 50 },
          );
        } finally {
          silent.closeAllConnections();
          await new Promise<void>((resolve) => silent.close(() => resolve()));
        }
      },
    );

    it("says the API server refused the doctor's own identity, with the access entry that lets it read", async () => {
      server.failNext("GET", /^\/api\/v1\/namespaces\/models$/, 403);

      const check = onlyFailing((await checks()).byId, "namespace");

      expect(check.summary).toBe("the cluster's API server answered 403: scripted 403");
      expect(check.fix?.[2]).toBe(
        "aws eks associate-access-policy --cluster-name gpu-inference --principal-arn <that role's ARN> --policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy --access-scope type=cluster",
      );
    });
  });

  describe("a stack it cannot read", () => {
    async function refusal(...argv: string[]): Promise<{ code: number; stderr: string }> {
      const streams = captureStreams();
      const code = await doctor(argv);
      vi.restoreAllMocks();
      expect(streams.stdout).toEqual([]);
      return { code, stderr: streams.stderr.join("\n") };
    }

    it("says there is no such stack in the region, with how to find it, and no stack trace", async () => {
      const { code, stderr } = await refusal("--stack", "Modelshp");

      expect(code).toBe(1);
      expect(stderr).toBe(
        "✖ no stack named Modelshp in us-east-1.\n  Hint: Give the deployed stack's name with --stack (aws cloudformation list-stacks --stack-status-filter CREATE_COMPLETE UPDATE_COMPLETE), or set AWS_REGION to its region.",
      );
    });

    it("refuses a stack name CloudFormation cannot have as a usage error, before asking AWS", async () => {
      const { code, stderr } = await refusal("--stack", "my stack");

      expect(code).toBe(2);
      expect(stderr).toMatch(
        /^modelship doctor: --stack takes a CloudFormation stack name .*, found 'my stack'\.\n\nUsage: modelship doctor/,
      );
      expect(cloudFormation.commandCalls(DescribeStacksCommand)).toEqual([]);
    });

    it("says there are no credentials and how to get them", async () => {
      cloudFormation.on(DescribeStacksCommand).rejects(
        Object.assign(new Error("Could not load credentials from any providers"), {
          name: "CredentialsProviderError",
        }),
      );

      const { code, stderr } = await refusal();

      expect(code).toBe(1);
      expect(stderr).toBe(
        "✖ could not read the stack Modelship: no AWS credentials (Could not load credentials from any providers). Set AWS_PROFILE, or run `aws configure` / `aws sso login`.",
      );
    });

    it("says there is no region", async () => {
      vi.stubEnv("AWS_REGION", "");
      vi.stubEnv("AWS_DEFAULT_REGION", "");
      vi.stubEnv("AWS_CONFIG_FILE", "/nonexistent/modelship-test-config");
      vi.stubEnv("AWS_PROFILE", "");

      const { code, stderr } = await refusal();

      expect(code).toBe(1);
      expect(stderr).toBe("✖ no AWS region: set AWS_REGION (or a profile with a region).");
    });

    it("says so in one sentence from a real CLI process, with no stack trace", async () => {
      vi.stubEnv("AWS_REGION", "");
      vi.stubEnv("AWS_DEFAULT_REGION", "");
      vi.stubEnv("AWS_CONFIG_FILE", "/nonexistent/modelship-test-config");
      vi.stubEnv("AWS_PROFILE", "");

      const cli = startCli(["doctor", "--stack", "Modelship"]);

      expect(await cli.exited).toEqual({ code: 1, signal: null });
      expect(cli.lines).toEqual(["✖ no AWS region: set AWS_REGION (or a profile with a region)."]);
    });

    it("says a stack without the ClusterSettings output was deployed by another modelship", async () => {
      world.outputs = { BucketName: "modelship-models" };
      cloudFormation.on(DescribeStacksCommand).resolves({
        Stacks: [
          {
            StackName: "Modelship",
            StackId: STACK_ID,
            StackStatus: "CREATE_COMPLETE",
            CreationTime: new Date(),
            Outputs: [],
          },
        ],
      });

      const { code, stderr } = await refusal();

      expect(code).toBe(1);
      expect(stderr).toMatch(/^✖ the stack Modelship has no ClusterSettings output/);
    });
  });

  it("prints the README's sample: a cluster with two problems, in the human format, exiting 1", async () => {
    // Two problems: the route group unbound, the bucket's EventBridge notifications off.
    server.objects.delete("rolebindings/models/modelship-routes");
    world.eventBridge = false;
    const streams = captureStreams();

    const code = await doctor([]);
    vi.restoreAllMocks();

    expect(code).toBe(1);
    const printed = streams.stdout.join("\n").replaceAll(gatewayUrl, "http://gateway.internal.example.com");
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const sample = /<!-- doctor-sample -->\n\n```text\n\$ npx modelship doctor\n([\s\S]*?)\n```/.exec(
      readme,
    )?.[1];
    expect(sample).toBe(printed);
  });
});
