// What `modelship doctor` reads from the cluster's API server: the namespace, the bindings of a Kubernetes
// group and the rules of the roles they bind, the gateway parent, the GPU nodes and Karpenter's NodePools,
// the candidates' service account and the Pod Identity agent's DaemonSet. Reads only, with the identity that
// runs the doctor. Something that is not there is `undefined` (404), not an error. Each read has a bound of its
// own: undici, under @kubernetes/client-node, waits 300 s for a response's headers by default, so an endpoint
// that accepts the connection and never answers would hold the doctor for five minutes a read.

import {
  type ConfigurationOptions,
  Observable,
  type RequestContext,
  type ResponseContext,
  type V1DaemonSet,
  type V1Namespace,
  type V1Node,
  type V1PolicyRule,
  type V1RoleRef,
  type V1ServiceAccount,
  type RbacV1Subject,
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

/**
 * A read the API server did not answer: no response within the doctor's bound, or no connection within
 * undici's (its connect timeout, 10 s by default, fires first for an endpoint that drops packets).
 */
export class KubernetesUnanswered extends Error {
  override readonly name = "KubernetesUnanswered";
}

/** undici's codes for a connection or response that did not come in time. */
const UNDICI_TIMEOUTS = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

const GATEWAYS = { group: "gateway.networking.k8s.io", version: "v1", plural: "gateways" } as const;
const KARPENTER_NODEPOOLS = { group: "karpenter.sh", version: "v1", plural: "nodepools" } as const;

export class KubernetesDoctorReads {
  /** Every call's options: a fresh deadline on each request, after the client's own middleware. */
  private readonly deadline: ConfigurationOptions;

  /** @param timeoutMs how long one read may take, from sending the request to the end of its body */
  constructor(
    private readonly api: KubernetesClients,
    private readonly timeoutMs: number,
  ) {
    this.deadline = {
      middleware: [
        {
          pre: (request: RequestContext) => {
            request.setSignal(AbortSignal.timeout(timeoutMs));
            return new Observable(Promise.resolve(request));
          },
          post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
        },
      ],
      middlewareMergeStrategy: "append",
    };
  }

  namespace(name: string): Promise<V1Namespace | undefined> {
    return this.read((o) => this.api.core.readNamespace({ name }, o));
  }

  /** The bindings in `namespace` (cluster-wide ones without it) that name `group` as a subject. */
  async groupBindings(group: string, namespace: string | undefined): Promise<GroupBinding[]> {
    const bindings =
      namespace === undefined
        ? (await this.within((o) => this.api.rbac.listClusterRoleBinding({}, o))).items
        : (await this.within((o) => this.api.rbac.listNamespacedRoleBinding({ namespace }, o))).items;
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
        ? await this.read((o) => this.api.rbac.readClusterRole({ name }, o))
        : await this.read((o) => this.api.rbac.readNamespacedRole({ name, namespace }, o));
    return role && { rules: role.rules ?? [] };
  }

  async gateway(namespace: string, name: string): Promise<Gateway | undefined> {
    const body: unknown = await this.read((o) =>
      this.api.custom.getNamespacedCustomObject({ ...GATEWAYS, namespace, name }, o),
    );
    return body as Gateway | undefined;
  }

  /** The nodes that carry every label of the selector. */
  async nodes(selector: Readonly<Record<string, string>>): Promise<V1Node[]> {
    const labelSelector = Object.entries(selector)
      .map(([key, value]) => `${key}=${value}`)
      .join(",");
    return (await this.within((o) => this.api.core.listNode(labelSelector ? { labelSelector } : {}, o)))
      .items;
  }

  /** Karpenter's NodePools; undefined when Karpenter's CRD is not installed. */
  async nodePools(): Promise<NodePool[] | undefined> {
    const list: unknown = await this.read((o) =>
      this.api.custom.listClusterCustomObject(KARPENTER_NODEPOOLS, o),
    );
    return list === undefined ? undefined : ((list as { items?: NodePool[] }).items ?? []);
  }

  serviceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
    return this.read((o) => this.api.core.readNamespacedServiceAccount({ namespace, name }, o));
  }

  daemonSet(namespace: string, name: string): Promise<V1DaemonSet | undefined> {
    return this.read((o) => this.api.apps.readNamespacedDaemonSet({ namespace, name }, o));
  }

  /** One object, within the bound; undefined when it is not there (404). */
  private async read<T>(call: (options: ConfigurationOptions) => Promise<T>): Promise<T | undefined> {
    try {
      return await this.within(call);
    } catch (error) {
      if (apiStatus(error) === 404) return undefined;
      throw error;
    }
  }

  /** One call, within the bound: a timeout is KubernetesUnanswered, any other failure as it came. */
  private async within<T>(call: (options: ConfigurationOptions) => Promise<T>): Promise<T> {
    try {
      return await call(this.deadline);
    } catch (error) {
      const { name, cause } = error as { name?: unknown; cause?: { code?: unknown } };
      if (name === "TimeoutError") {
        throw new KubernetesUnanswered(
          `the cluster's API server did not answer within ${this.timeoutMs / 1000} s`,
        );
      }
      if (typeof cause?.code === "string" && UNDICI_TIMEOUTS.has(cause.code)) {
        throw new KubernetesUnanswered(`the cluster's API server did not answer (${cause.code})`);
      }
      throw error;
    }
  }
}

function isGroup(subject: RbacV1Subject, group: string): boolean {
  return subject.kind === "Group" && subject.name === group;
}
