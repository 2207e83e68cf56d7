// What `modelship doctor` reads from the cluster's API server: the namespace, the bindings of a Kubernetes
// group and the rules of the roles they bind, the gateway parent, the GPU nodes and Karpenter's NodePools,
// the candidates' service account and the Pod Identity agent's DaemonSet. Reads only, with the identity that
// runs the doctor. Something that is not there is `undefined` (404), not an error.

import type {
  V1DaemonSet,
  V1Namespace,
  V1Node,
  V1PolicyRule,
  V1RoleRef,
  V1ServiceAccount,
  RbacV1Subject,
} from "@kubernetes/client-node";
import { apiStatus } from "../eks/api-errors";
import type { KubernetesClients } from "../eks/cluster";
import type { NodePool } from "../eks/gpu-capacity";

/** A RoleBinding or ClusterRoleBinding naming a group, with the rules of the role it binds (absent: no such role). */
export interface GroupBinding {
  /** `RoleBinding models/modelship-routes`. */
  readonly binding: string;
  readonly roleRef: V1RoleRef;
  readonly rules: readonly V1PolicyRule[] | undefined;
}

/** A Gateway API Gateway as read (gateway.networking.k8s.io/v1): the fields the check reads. */
export interface Gateway {
  readonly spec?: {
    readonly listeners?: readonly {
      readonly name?: string;
      readonly protocol?: string;
      readonly allowedRoutes?: {
        readonly namespaces?: {
          readonly from?: string;
          readonly selector?: LabelSelector;
        };
        readonly kinds?: readonly { readonly group?: string; readonly kind?: string }[];
      };
    }[];
  };
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly {
    readonly key: string;
    readonly operator: string;
    readonly values?: readonly string[];
  }[];
}

const GATEWAYS = { group: "gateway.networking.k8s.io", version: "v1", plural: "gateways" } as const;
const KARPENTER_NODEPOOLS = { group: "karpenter.sh", version: "v1", plural: "nodepools" } as const;

export class KubernetesDoctorReads {
  constructor(private readonly api: KubernetesClients) {}

  namespace(name: string): Promise<V1Namespace | undefined> {
    return absentOn404(this.api.core.readNamespace({ name }));
  }

  /** The bindings in `namespace` (cluster-wide ones without it) that name `group` as a subject. */
  async groupBindings(group: string, namespace: string | undefined): Promise<GroupBinding[]> {
    const bindings =
      namespace === undefined
        ? (await this.api.rbac.listClusterRoleBinding()).items
        : (await this.api.rbac.listNamespacedRoleBinding({ namespace })).items;
    const naming = bindings.filter((binding) => (binding.subjects ?? []).some((s) => isGroup(s, group)));
    return Promise.all(
      naming.map(async (binding) => {
        const { roleRef } = binding;
        // A RoleBinding may bind a ClusterRole (its rules then hold in the binding's namespace only).
        const role =
          roleRef.kind === "ClusterRole" || namespace === undefined
            ? await this.role(roleRef.name, undefined)
            : await this.role(roleRef.name, namespace);
        const kind = namespace === undefined ? "ClusterRoleBinding" : "RoleBinding";
        return {
          binding: `${kind} ${namespace === undefined ? "" : `${namespace}/`}${binding.metadata?.name ?? ""}`,
          roleRef,
          rules: role?.rules,
        };
      }),
    );
  }

  /** The Role in `namespace`, or the ClusterRole without one. */
  async role(
    name: string,
    namespace: string | undefined,
  ): Promise<{ readonly rules: readonly V1PolicyRule[] } | undefined> {
    const role =
      namespace === undefined
        ? await absentOn404(this.api.rbac.readClusterRole({ name }))
        : await absentOn404(this.api.rbac.readNamespacedRole({ name, namespace }));
    return role && { rules: role.rules ?? [] };
  }

  async gateway(namespace: string, name: string): Promise<Gateway | undefined> {
    const body: unknown = await absentOn404(
      this.api.custom.getNamespacedCustomObject({ ...GATEWAYS, namespace, name }),
    );
    return body as Gateway | undefined;
  }

  /** The nodes that carry every label of the selector. */
  async nodes(selector: Readonly<Record<string, string>>): Promise<V1Node[]> {
    const labelSelector = Object.entries(selector)
      .map(([key, value]) => `${key}=${value}`)
      .join(",");
    return (await this.api.core.listNode(labelSelector ? { labelSelector } : {})).items;
  }

  /** Karpenter's NodePools; undefined when Karpenter's CRD is not installed. */
  async nodePools(): Promise<NodePool[] | undefined> {
    const list: unknown = await absentOn404(this.api.custom.listClusterCustomObject(KARPENTER_NODEPOOLS));
    return list === undefined ? undefined : ((list as { items?: NodePool[] }).items ?? []);
  }

  serviceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
    return absentOn404(this.api.core.readNamespacedServiceAccount({ namespace, name }));
  }

  daemonSet(namespace: string, name: string): Promise<V1DaemonSet | undefined> {
    return absentOn404(this.api.apps.readNamespacedDaemonSet({ namespace, name }));
  }
}

function isGroup(subject: RbacV1Subject, group: string): boolean {
  return subject.kind === "Group" && subject.name === group;
}

async function absentOn404<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (apiStatus(error) === 404) return undefined;
    throw error;
  }
}
