// What `modelship doctor` reads from AWS about a deployed stack: its outputs (CloudFormation), its cluster
// and the cluster's access entries, Pod Identity agent add-on and associations (EKS), the IAM OIDC provider
// and role trust policy behind IRSA (IAM), and whether its bucket sends events to EventBridge (S3). Reads
// only; every list is followed to its last page. A missing stack, add-on, access entry, provider or role is
// `undefined`, not an error: the checks say what it means.

import type { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import type { EKSClient } from "@aws-sdk/client-eks";
import {
  type Cluster,
  DescribeAccessEntryCommand,
  DescribeAddonCommand,
  DescribeClusterCommand,
  ListAccessEntriesCommand,
  ListAssociatedAccessPoliciesCommand,
  ListPodIdentityAssociationsCommand,
} from "@aws-sdk/client-eks";
import type { IAMClient } from "@aws-sdk/client-iam";
import {
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  ListOpenIDConnectProvidersCommand,
} from "@aws-sdk/client-iam";
import type { S3Client } from "@aws-sdk/client-s3";
import { GetBucketNotificationConfigurationCommand } from "@aws-sdk/client-s3";

export interface DeployedStack {
  /** `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>`. */
  readonly id: string;
  readonly status: string;
  /** OutputKey → OutputValue. */
  readonly outputs: Readonly<Record<string, string>>;
}

/** An access entry of the cluster: its Kubernetes groups and the access policies associated with it. */
export interface AccessEntry {
  readonly kubernetesGroups: readonly string[];
  readonly policies: readonly {
    readonly policyArn: string;
    /** `cluster`, or `namespace` with the namespaces. */
    readonly scope: { readonly type: string; readonly namespaces: readonly string[] };
  }[];
}

/** An IAM OIDC identity provider: what STS checks a service account's token against for IRSA. */
export interface OidcProvider {
  readonly arn: string;
  /** The issuer it trusts, without `https://`, as IAM keeps it: `oidc.eks.<region>.amazonaws.com/id/<id>`. */
  readonly url: string;
  /** The audiences (client IDs) it accepts tokens for. */
  readonly audiences: readonly string[];
}

/** The add-on EKS installs Pod Identity's agent with. */
export const POD_IDENTITY_AGENT = "eks-pod-identity-agent";

export class AwsDoctorReads {
  private readonly cloudFormation: CloudFormationClient;
  private readonly eks: EKSClient;
  private readonly iam: IAMClient;
  private readonly s3: S3Client;

  constructor(clients: {
    readonly cloudFormation: CloudFormationClient;
    readonly eks: EKSClient;
    readonly iam: IAMClient;
    readonly s3: S3Client;
  }) {
    this.cloudFormation = clients.cloudFormation;
    this.eks = clients.eks;
    this.iam = clients.iam;
    this.s3 = clients.s3;
  }

  /** The stack by name; undefined when there is none in the region. */
  async stack(name: string): Promise<DeployedStack | undefined> {
    try {
      const { Stacks } = await this.cloudFormation.send(new DescribeStacksCommand({ StackName: name }));
      const stack = Stacks?.[0];
      if (!stack) return undefined;
      return {
        id: stack.StackId ?? "",
        status: stack.StackStatus ?? "",
        outputs: Object.fromEntries(
          (stack.Outputs ?? []).flatMap((output) =>
            output.OutputKey === undefined ? [] : [[output.OutputKey, output.OutputValue ?? ""]],
          ),
        ),
      };
    } catch (error) {
      // CloudFormation says a missing stack with a ValidationError: "Stack with id <name> does not exist".
      if ((error as { name?: unknown }).name === "ValidationError" && /does not exist/.test(String(error)))
        return undefined;
      throw error;
    }
  }

  async cluster(name: string): Promise<Cluster> {
    const { cluster } = await this.eks.send(new DescribeClusterCommand({ name }));
    return cluster ?? {};
  }

  /** The principal ARNs of the cluster's access entries. */
  async accessEntryPrincipals(clusterName: string): Promise<string[]> {
    const principals: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.eks.send(new ListAccessEntriesCommand({ clusterName, nextToken }));
      principals.push(...(page.accessEntries ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return principals;
  }

  async accessEntry(clusterName: string, principalArn: string): Promise<AccessEntry> {
    const { accessEntry } = await this.eks.send(
      new DescribeAccessEntryCommand({ clusterName, principalArn }),
    );
    const policies: AccessEntry["policies"][number][] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.eks.send(
        new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn, nextToken }),
      );
      for (const policy of page.associatedAccessPolicies ?? []) {
        policies.push({
          policyArn: policy.policyArn ?? "",
          scope: {
            type: policy.accessScope?.type ?? "",
            namespaces: policy.accessScope?.namespaces ?? [],
          },
        });
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return { kubernetesGroups: accessEntry?.kubernetesGroups ?? [], policies };
  }

  /** The Pod Identity agent add-on's status; undefined when the add-on is not installed. */
  async podIdentityAgentAddon(clusterName: string): Promise<string | undefined> {
    try {
      const { addon } = await this.eks.send(
        new DescribeAddonCommand({ clusterName, addonName: POD_IDENTITY_AGENT }),
      );
      return addon?.status ?? "UNKNOWN";
    } catch (error) {
      if ((error as { name?: unknown }).name === "ResourceNotFoundException") return undefined;
      throw error;
    }
  }

  /** The ids of the Pod Identity associations of a service account. */
  async podIdentityAssociations(
    clusterName: string,
    namespace: string,
    serviceAccount: string,
  ): Promise<string[]> {
    const ids: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.eks.send(
        new ListPodIdentityAssociationsCommand({ clusterName, namespace, serviceAccount, nextToken }),
      );
      ids.push(...(page.associations ?? []).map((association) => association.associationId ?? ""));
      nextToken = page.nextToken;
    } while (nextToken);
    return ids;
  }

  /**
   * The account's IAM OIDC provider for a cluster's issuer (`https://oidc.eks.…`); undefined when there is
   * none. IAM names a provider `arn:…:oidc-provider/<issuer without https://>`, and ListOpenIDConnectProviders
   * returns every provider of the account in one page (it takes no marker).
   */
  async oidcProvider(issuer: string): Promise<OidcProvider | undefined> {
    const url = withoutScheme(issuer);
    const { OpenIDConnectProviderList } = await this.iam.send(new ListOpenIDConnectProvidersCommand({}));
    const arn = (OpenIDConnectProviderList ?? [])
      .map((provider) => provider.Arn ?? "")
      .find((candidate) => candidate.endsWith(`:oidc-provider/${url}`));
    if (arn === undefined) return undefined;
    const provider = await this.iam.send(
      new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }),
    );
    if (withoutScheme(provider.Url ?? url) !== url) return undefined;
    return { arn, url, audiences: provider.ClientIDList ?? [] };
  }

  /** A role's trust policy (the JSON document, parsed); undefined when the account has no such role. */
  async roleTrustPolicy(roleName: string): Promise<unknown> {
    try {
      const { Role } = await this.iam.send(new GetRoleCommand({ RoleName: roleName }));
      const document = Role?.AssumeRolePolicyDocument;
      if (document === undefined) return {};
      // IAM returns policies "URL-encoded compliant with RFC 3986" (GetRole's reference); the SDK hands the
      // encoded text over as it came.
      return JSON.parse(document.trimStart().startsWith("{") ? document : decodeURIComponent(document));
    } catch (error) {
      if ((error as { name?: unknown }).name === "NoSuchEntityException") return undefined;
      throw error;
    }
  }

  /**
   * Whether the bucket sends its events to EventBridge (an EventBridgeConfiguration, empty, is there), and how
   * many other notifications (topics, queues, functions) its configuration holds.
   */
  async bucketNotifications(
    bucket: string,
  ): Promise<{ readonly eventBridge: boolean; readonly others: number }> {
    const configuration = await this.s3.send(
      new GetBucketNotificationConfigurationCommand({ Bucket: bucket }),
    );
    return {
      eventBridge: configuration.EventBridgeConfiguration !== undefined,
      others:
        (configuration.TopicConfigurations?.length ?? 0) +
        (configuration.QueueConfigurations?.length ?? 0) +
        (configuration.LambdaFunctionConfigurations?.length ?? 0),
    };
  }
}

/** An issuer or provider URL as IAM keys it: no `https://`, no trailing `/`. */
export function withoutScheme(url: string): string {
  return url.replace(/^https:\/\//, "").replace(/\/+$/, "");
}
