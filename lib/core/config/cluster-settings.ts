// What a deployed stack says about its cluster, for `modelship doctor`: the stack config's cluster-facing part
// (cluster, namespace, gateway parent, GPU selector and tolerations, the candidates' service account, the
// gateway URL), where the functions run, and each function's access to the cluster as the stack expects it.
// The sample stack writes it as the JSON of its `ClusterSettings` output (lib/infra/cluster-settings-output.ts);
// the CLI reads it back with this schema, so a stack and a CLI of different versions disagree in words.

import { z } from "zod";
import { tolerationSchema } from "./toleration-schema";

/** The stack output that carries the settings. */
export const CLUSTER_SETTINGS_OUTPUT = "ClusterSettings";

const functionAccess = z.object({
  /** The function's IAM role: the principal of its EKS access entry. */
  roleArn: z.string(),
  /** Whether it needs AmazonEKSEditPolicy scoped to the namespace. */
  editNamespace: z.boolean(),
  /** The Kubernetes groups its access entry names. */
  kubernetesGroups: z.array(z.string()),
});

const clusterSettingsSchema = z.object({
  clusterName: z.string().min(1),
  namespace: z.string().min(1),
  gatewayParent: z.object({
    name: z.string().min(1),
    namespace: z.string().min(1),
    sectionName: z.string().optional(),
  }),
  gpu: z.object({
    resourceName: z.string().min(1),
    nodeSelector: z.record(z.string(), z.string()),
    tolerations: z.array(tolerationSchema),
  }),
  /** The candidates' service account (`serving.serviceAccountName`). */
  serviceAccount: z.string().min(1),
  /** `gateway.url`: the gateway as the prober reaches it; empty when the prober reaches the servers directly. */
  gatewayUrl: z.string(),
  /** Whether the stack created the access entries and the Pod Identity association. */
  manageClusterAccess: z.boolean(),
  /** The candidates' role for Pod Identity, when the stack created it. */
  candidateRoleArn: z.string().optional(),
  /** The VPC the functions that reach the cluster run in; absent when they run outside any VPC. */
  functionsVpcId: z.string().optional(),
  /** The functions that reach the cluster, by name, with the access each needs. */
  functions: z.record(z.string(), functionAccess),
});

export type ClusterSettings = z.infer<typeof clusterSettingsSchema>;
export type FunctionClusterAccess = z.infer<typeof functionAccess>;

/** The settings in the output's value, or what is wrong with it, as sentences. */
export function parseClusterSettings(
  text: string,
): { readonly settings: ClusterSettings } | { readonly problems: readonly string[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problems: [`it is not JSON (${(error as Error).message})`] };
  }
  const parsed = clusterSettingsSchema.safeParse(value);
  if (parsed.success) return { settings: parsed.data };
  return {
    problems: parsed.error.issues.map(
      (issue) => `${issue.path.length > 0 ? issue.path.join(".") : "the value"}: ${issue.message}`,
    ),
  };
}
