// Connecting to a cluster's Kubernetes API from a Lambda function: the EKS cluster's endpoint and CA from
// one DescribeCluster per container, a bearer token from token.ts renewed before it expires, and the
// @kubernetes/client-node API clients over them. A non-EKS cluster (or a test's API server) is reached by
// giving the endpoint and a token source directly.

import { DescribeClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
} from "@kubernetes/client-node";
import { CandidateFailed } from "../../core/errors";
import { asTransientWhenPassing } from "../transient-errors";
import { eksTokenSource, type SigningCredentials, type TokenSource } from "./token";

export interface ClusterEndpoint {
  /** The API server's URL, e.g. `https://ABC.gr7.us-east-1.eks.amazonaws.com`. */
  readonly server: string;
  /** Its certificate authority: base64 of the PEM, as DescribeCluster and kubeconfig files carry it. */
  readonly caData: string;
}

/** Where a cluster's API server is and how to authenticate to it. */
export interface ClusterConnection {
  endpoint(): Promise<ClusterEndpoint>;
  readonly token: TokenSource;
}

export interface EksClusterOptions {
  readonly clusterName: string;
  readonly region: string;
  /** Default: an EKSClient for the region from the environment's standard configuration. */
  readonly client?: EKSClient;
  /** Signs the tokens. Default: the Node.js credentials provider chain. */
  readonly credentials?: SigningCredentials;
  readonly now?: () => Date;
}

/** An EKS cluster by name: described once (again only after a failure), tokens presigned as needed. */
export function eksClusterConnection(options: EksClusterOptions): ClusterConnection {
  const client = options.client ?? new EKSClient({ region: options.region });
  let described: Promise<ClusterEndpoint> | undefined;
  return {
    endpoint: () => {
      described ??= describeCluster(client, options.clusterName, options.region).catch((error: unknown) => {
        described = undefined;
        throw error;
      });
      return described;
    },
    token: eksTokenSource({
      clusterName: options.clusterName,
      region: options.region,
      ...(options.credentials && { credentials: options.credentials }),
      ...(options.now && { now: options.now }),
    }),
  };
}

async function describeCluster(client: EKSClient, name: string, region: string): Promise<ClusterEndpoint> {
  const response = await client.send(new DescribeClusterCommand({ name })).catch((error: unknown) => {
    throw describeClusterFailure(error, name, region);
  });
  const server = response.cluster?.endpoint;
  const caData = response.cluster?.certificateAuthority?.data;
  if (!server || !caData) {
    throw new CandidateFailed(
      `EKS cluster '${name}' in ${region} has no API endpoint yet (status ${response.cluster?.status ?? "unknown"}).`,
      { hint: "Wait until the cluster is ACTIVE, then start the rollout again." },
    );
  }
  return { server, caData };
}

function describeClusterFailure(error: unknown, name: string, region: string): unknown {
  const errorName = (error as { name?: unknown } | undefined)?.name;
  if (errorName === "ResourceNotFoundException") {
    return new CandidateFailed(`EKS cluster '${name}' does not exist in ${region}.`, {
      hint: "Set the stack's clusterName to the cluster that runs candidates (ModelPipeline props or cdk.json), in the stack's region.",
      cause: error,
    });
  }
  if (errorName === "AccessDeniedException") {
    return new CandidateFailed(`This function may not describe EKS cluster '${name}' (AccessDenied).`, {
      hint: "Its role needs eks:DescribeCluster on the cluster's ARN; the ModelPipeline construct grants it for the configured clusterName.",
      cause: error,
    });
  }
  return asTransientWhenPassing(error, `DescribeCluster ${name}`);
}

export interface KubernetesClients {
  readonly apps: AppsV1Api;
  readonly core: CoreV1Api;
  /** HorizontalPodAutoscalers (autoscaling/v2). */
  readonly autoscaling: AutoscalingV2Api;
  /** Custom resources, e.g. the Gateway API's HTTPRoutes. */
  readonly custom: CustomObjectsApi;
  /** Roles and their bindings (what `modelship doctor` reads). */
  readonly rbac: RbacAuthorizationV1Api;
  readonly endpoint: ClusterEndpoint;
  readonly token: TokenSource;
}

/** The name the connection's user has in the KubeConfig, which our authenticator recognizes. */
const TOKEN_USER = "modelship-token";

/** API clients whose every request carries a current token from the connection. */
export async function connectKubernetes(connection: ClusterConnection): Promise<KubernetesClients> {
  const endpoint = await connection.endpoint();
  const config = new KubeConfig();
  // A user's `token` in a KubeConfig is fixed once loaded; an authenticator is asked on every request.
  config.addAuthenticator({
    isAuthProvider: (user) => user.name === TOKEN_USER,
    applyAuthentication: async (_user, options) => {
      options.headers = { ...options.headers, Authorization: `Bearer ${await connection.token()}` };
    },
  });
  config.loadFromOptions({
    clusters: [{ name: "cluster", server: endpoint.server, caData: endpoint.caData, skipTLSVerify: false }],
    users: [{ name: TOKEN_USER }],
    contexts: [{ name: "modelship", cluster: "cluster", user: TOKEN_USER }],
    currentContext: "modelship",
  });
  return {
    apps: config.makeApiClient(AppsV1Api),
    core: config.makeApiClient(CoreV1Api),
    autoscaling: config.makeApiClient(AutoscalingV2Api),
    custom: config.makeApiClient(CustomObjectsApi),
    rbac: config.makeApiClient(RbacAuthorizationV1Api),
    endpoint,
    token: connection.token,
  };
}
