// A small HTTPS server that answers like a Kubernetes API server, for the EKS serving adapter to talk to
// over real TLS (a self-signed certificate made with the openssl CLI, handed over as the cluster's CA):
// Deployments, Services, ServiceAccounts and Gateway API HTTPRoutes (create → 201 or 409 AlreadyExists,
// read, replace and delete with resourceVersion preconditions → 409 Conflict when stale, delete → 404 when
// gone), pods by label selector, warning events, container logs (current or previous instance), the
// service proxy (it answers with what it would have proxied to, or what a test says the service answers),
// the pods proxy to a pod's /metrics — plus scripted failures, and a record of every request with its
// Authorization header, and hooks that act as another writer between two requests or as a CRD schema that
// prunes fields it does not know. For capacity: HorizontalPodAutoscalers, KEDA ScaledObjects and
// TriggerAuthentications (404 while KEDA's CRDs are not installed), nodes, pods of all namespaces and Karpenter
// NodePools (404 without Karpenter); deleting an object deletes what names it as owner, as the garbage
// collector does. For `modelship doctor`: namespaces, Roles and RoleBindings, ClusterRoles and
// ClusterRoleBindings, Gateways and DaemonSets, read as they were seeded.

import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { selfSignedCertificate } from "../../support/self-signed-certificate";

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization: string | undefined;
  readonly body: unknown;
}

interface ScriptedFailure {
  readonly method: string;
  readonly path: RegExp;
  readonly status: number;
}

type Json = Record<string, unknown>;
type Kind =
  | "deployments"
  | "services"
  | "serviceaccounts"
  | "httproutes"
  | "horizontalpodautoscalers"
  | "scaledobjects"
  | "triggerauthentications"
  | "roles"
  | "rolebindings"
  | "gateways"
  | "daemonsets";

/** The cluster-scoped kinds a test seeds by hand, by their plural. */
type ClusterKind = "namespaces" | "clusterroles" | "clusterrolebindings";

const COLLECTIONS: Readonly<Record<string, Kind>> = {
  "/apis/apps/v1/namespaces/{ns}/deployments": "deployments",
  "/api/v1/namespaces/{ns}/services": "services",
  "/api/v1/namespaces/{ns}/serviceaccounts": "serviceaccounts",
  "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes": "httproutes",
  "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers": "horizontalpodautoscalers",
  "/apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects": "scaledobjects",
  "/apis/keda.sh/v1alpha1/namespaces/{ns}/triggerauthentications": "triggerauthentications",
  "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles": "roles",
  "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings": "rolebindings",
  "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/gateways": "gateways",
  "/apis/apps/v1/namespaces/{ns}/daemonsets": "daemonsets",
};

const CLUSTER_SCOPED_PATH =
  /^(?:\/api\/v1\/(namespaces)|\/apis\/rbac\.authorization\.k8s\.io\/v1\/(clusterroles|clusterrolebindings))(?:\/([^/]+))?$/;

/** The API groups of custom resources a test may take out of the cluster: their paths answer 404 then. */
export type CustomResourceGroup = "keda.sh" | "karpenter.sh";

interface Interjection {
  readonly method: string;
  readonly path: RegExp;
  readonly act: () => void;
}

export class KubernetesApiServer {
  readonly requests: ReceivedRequest[] = [];
  /** `<kind>/<namespace>/<name>` → the stored object. */
  readonly objects = new Map<string, Json>();
  readonly pods: Json[] = [];
  /** The cluster's nodes (cluster-scoped). */
  readonly nodes: Json[] = [];
  /** Karpenter NodePools (karpenter.sh/v1, cluster-scoped). */
  readonly nodePools: Json[] = [];
  /** `<plural>/<name>` → a cluster-scoped object: namespaces, ClusterRoles, ClusterRoleBindings. */
  readonly clusterObjects = new Map<string, Json>();
  /** The custom resource groups whose CRDs are installed. */
  readonly installed = new Set<CustomResourceGroup>(["keda.sh", "karpenter.sh"]);
  readonly events: Json[] = [];
  /** `<namespace>/<pod>/<container>/<current|previous>` → log text. */
  readonly logs = new Map<string, string>();
  /** `<namespace>/<pod>:<port>` → what the pod answers on /metrics through the pods proxy. */
  readonly podMetrics = new Map<string, { readonly status: number; readonly body: string }>();
  /** What a proxied service answers, when the test says (else the proxy echoes where it went). */
  serviceAnswer:
    | ((service: string, path: string, request: ReceivedRequest) => { status: number; body: unknown })
    | undefined;
  /**
   * Applied to every created or replaced object before it is stored and returned, as the API server prunes
   * fields its CRD schema lacks (e.g. sessionPersistence under a standard-channel Gateway API CRD).
   */
  prune: ((kind: Kind, object: Json) => void) | undefined;
  private readonly failures: ScriptedFailure[] = [];
  private readonly interjections: Interjection[] = [];
  private readonly tls = selfSignedCertificate("kube-apiserver");
  private server: Server | undefined;
  private sequence = 0;

  /** The cluster CA as DescribeCluster returns it: base64 of the PEM. */
  get caData(): string {
    return Buffer.from(this.tls.cert).toString("base64");
  }

  async start(): Promise<string> {
    this.server = createServer({ key: this.tls.key, cert: this.tls.cert }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const url = new URL(request.url ?? "/", "https://kubernetes.test");
        const text = Buffer.concat(chunks).toString("utf8");
        const isJson = (request.headers["content-type"] ?? "").includes("json");
        const received: ReceivedRequest = {
          method: request.method ?? "GET",
          path: url.pathname,
          query: url.searchParams,
          authorization: request.headers.authorization,
          body: text ? (isJson || /^[{[]/.test(text) ? JSON.parse(text) : text) : undefined,
        };
        this.requests.push(received);
        const { status, body } = this.answer(received);
        const isText = typeof body === "string";
        response.writeHead(status, { "content-type": isText ? "text/plain" : "application/json" });
        response.end(isText ? body : JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server?.close((e) => (e ? reject(e) : resolve())));
  }

  /** Forgets every object, pod, event, log, request and scripted failure. */
  reset(): void {
    for (const list of [
      this.requests,
      this.pods,
      this.nodes,
      this.nodePools,
      this.events,
      this.failures,
      this.interjections,
    ])
      list.length = 0;
    this.installed.clear();
    this.installed.add("keda.sh").add("karpenter.sh");
    this.objects.clear();
    this.clusterObjects.clear();
    this.logs.clear();
    this.podMetrics.clear();
    this.serviceAnswer = undefined;
    this.prune = undefined;
  }

  /** The next request with this method whose path matches gets `status` (once). */
  failNext(method: string, path: RegExp, status: number): void {
    this.failures.push({ method, path, status });
  }

  /** Before the next request with this method whose path matches is answered, `act` runs (once). */
  beforeNext(method: string, path: RegExp, act: () => void): void {
    this.interjections.push({ method, path, act });
  }

  /** Another writer changes a stored object: its resourceVersion moves on, as the API server's would. */
  edit(kind: Kind, namespace: string, name: string, change: (object: Json) => void): void {
    const stored = this.object(kind, namespace, name);
    if (!stored) throw new Error(`no ${kind} ${namespace}/${name}`);
    change(stored);
    this.sequence += 1;
    (stored.metadata as Json).resourceVersion = String(this.sequence);
  }

  object(kind: Kind, namespace: string, name: string): Json | undefined {
    return this.objects.get(`${kind}/${namespace}/${name}`);
  }

  /** Puts an object in place as if someone had created it before. */
  seed(kind: Kind, namespace: string, object: Json): void {
    const name = (object.metadata as { name: string }).name;
    this.objects.set(`${kind}/${namespace}/${name}`, object);
  }

  /** Puts a cluster-scoped object in place (a namespace, a ClusterRole, a ClusterRoleBinding). */
  seedClusterScoped(kind: ClusterKind, object: Json): void {
    this.clusterObjects.set(`${kind}/${(object.metadata as { name: string }).name}`, object);
  }

  setDeploymentStatus(namespace: string, name: string, status: Json): void {
    const deployment = this.object("deployments", namespace, name);
    if (!deployment) throw new Error(`no deployment ${namespace}/${name}`);
    deployment.status = status;
  }

  /** A pod of the stored Deployment (its template's labels), with the given status; returns its name. */
  addPod(namespace: string, deployment: string, status: Json): string {
    const template = (this.object("deployments", namespace, deployment)?.spec as Json | undefined)
      ?.template as { metadata: { labels: Record<string, string> } } | undefined;
    if (!template) throw new Error(`no deployment ${namespace}/${deployment}`);
    const name = `${deployment}-7d9c8b6f5-${String(this.pods.length).padStart(5, "q")}`;
    this.pods.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace, labels: template.metadata.labels },
      status,
    });
    return name;
  }

  addEvent(
    namespace: string,
    involved: { kind: string; name: string },
    reason: string,
    message: string,
  ): void {
    this.sequence += 1;
    this.events.push({
      metadata: { name: `event-${this.sequence}`, namespace },
      involvedObject: { ...involved, namespace },
      reason,
      message,
      type: "Warning",
      lastTimestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, this.sequence)).toISOString(),
    });
  }

  setLog(namespace: string, pod: string, container: string, previous: boolean, text: string): void {
    this.logs.set(`${namespace}/${pod}/${container}/${previous ? "previous" : "current"}`, text);
  }

  private answer(request: ReceivedRequest): { status: number; body: unknown } {
    const interjection = this.interjections.findIndex(
      (i) => i.method === request.method && i.path.test(request.path),
    );
    if (interjection >= 0) this.interjections.splice(interjection, 1)[0]?.act();
    const failure = this.failures.findIndex((f) => f.method === request.method && f.path.test(request.path));
    if (failure >= 0) {
      const [{ status }] = this.failures.splice(failure, 1) as [ScriptedFailure];
      return statusBody(status, status === 403 ? "Forbidden" : "InternalError", `scripted ${status}`);
    }
    const group = /^\/apis\/([^/]+)\//.exec(request.path)?.[1];
    if (group && (group === "keda.sh" || group === "karpenter.sh") && !this.installed.has(group)) {
      return statusBody(404, "NotFound", `the server could not find the requested resource`);
    }
    if (request.method === "GET" && request.path === "/api/v1/nodes") {
      const items = this.nodes.filter((node) => hasLabels(node, request.query.get("labelSelector")));
      return { status: 200, body: { apiVersion: "v1", kind: "NodeList", metadata: {}, items } };
    }
    if (request.method === "GET" && request.path === "/api/v1/pods") {
      // Only the `status.phase!=<phase>` terms a field selector may carry here.
      const excluded = (request.query.get("fieldSelector") ?? "")
        .split(",")
        .map((term) => /^status\.phase!=(\w+)$/.exec(term)?.[1])
        .filter(Boolean);
      const items = this.pods.filter(
        (pod) => !excluded.includes((pod.status as Json | undefined)?.phase as string),
      );
      return { status: 200, body: { apiVersion: "v1", kind: "PodList", metadata: {}, items } };
    }
    const clusterScoped = CLUSTER_SCOPED_PATH.exec(request.path);
    if (request.method === "GET" && clusterScoped) {
      const kind = clusterScoped[1] ?? clusterScoped[2] ?? "";
      const name = clusterScoped[3];
      if (name === undefined) {
        const items = [...this.clusterObjects.entries()]
          .filter(([key]) => key.startsWith(`${kind}/`))
          .map(([, object]) => object);
        return { status: 200, body: { apiVersion: "v1", kind: "List", metadata: {}, items } };
      }
      const stored = this.clusterObjects.get(`${kind}/${name}`);
      return stored
        ? { status: 200, body: stored }
        : statusBody(404, "NotFound", `${kind} "${name}" not found`);
    }
    if (request.method === "GET" && request.path === "/apis/karpenter.sh/v1/nodepools") {
      return {
        status: 200,
        body: { apiVersion: "karpenter.sh/v1", kind: "NodePoolList", metadata: {}, items: this.nodePools },
      };
    }
    const segments = request.path.split("/");
    const namespace = segments[request.path.startsWith("/apis/") ? 5 : 4] ?? "";
    const collectionPath = request.path.replace(`/namespaces/${namespace}/`, "/namespaces/{ns}/");

    const proxied = /^\/api\/v1\/namespaces\/[^/]+\/services\/([^/]+)\/proxy(\/.*)$/.exec(request.path);
    if (proxied && this.serviceAnswer) return this.serviceAnswer(proxied[1] ?? "", proxied[2] ?? "", request);
    if (proxied) return { status: 200, body: { proxiedTo: proxied[1], path: proxied[2] } };
    const podProxy = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/proxy\/metrics$/.exec(request.path);
    if (request.method === "GET" && podProxy) {
      const answer = this.podMetrics.get(`${podProxy[1]}/${podProxy[2]}`);
      return (
        answer ?? statusBody(503, "ServiceUnavailable", `no endpoints available for pod "${podProxy[2]}"`)
      );
    }
    const logMatch = /^\/api\/v1\/namespaces\/[^/]+\/pods\/([^/]+)\/log$/.exec(request.path);
    if (request.method === "GET" && logMatch) {
      const container = request.query.get("container") ?? "";
      const previous = request.query.get("previous") === "true" ? "previous" : "current";
      const log = this.logs.get(`${namespace}/${logMatch[1]}/${container}/${previous}`);
      if (log === undefined) return statusBody(400, "BadRequest", `container "${container}" has no log`);
      const tail = Number(request.query.get("tailLines") ?? "0");
      const lines = log.replace(/\n$/, "").split("\n");
      return { status: 200, body: `${(tail > 0 ? lines.slice(-tail) : lines).join("\n")}\n` };
    }
    if (request.method === "GET" && collectionPath === "/api/v1/namespaces/{ns}/pods") {
      const wanted = (request.query.get("labelSelector") ?? "").split(",").filter(Boolean);
      const items = this.pods.filter((pod) => {
        const meta = pod.metadata as { namespace: string; labels: Record<string, string> };
        return (
          meta.namespace === namespace &&
          wanted.every((w) => meta.labels[w.split("=")[0]!] === w.split("=")[1])
        );
      });
      return { status: 200, body: { apiVersion: "v1", kind: "PodList", metadata: {}, items } };
    }
    if (request.method === "GET" && collectionPath === "/api/v1/namespaces/{ns}/events") {
      const type = /^type=(\w+)$/.exec(request.query.get("fieldSelector") ?? "")?.[1];
      const items = this.events.filter(
        (e) => (e.metadata as { namespace: string }).namespace === namespace && (!type || e.type === type),
      );
      return { status: 200, body: { apiVersion: "v1", kind: "EventList", metadata: {}, items } };
    }

    const collection = COLLECTIONS[collectionPath];
    if (collection && request.method === "POST")
      return this.create(collection, namespace, request.body as Json);
    if (collection && request.method === "GET") {
      const wanted = (request.query.get("labelSelector") ?? "").split(",").filter(Boolean);
      const items = [...this.objects.entries()]
        .filter(([key]) => key.startsWith(`${collection}/${namespace}/`))
        .map(([, object]) => object)
        .filter((object) => {
          const labels = (object.metadata as { labels?: Record<string, string> }).labels ?? {};
          return wanted.every((w) => labels[w.split("=")[0]!] === w.split("=")[1]);
        });
      return { status: 200, body: { apiVersion: "v1", kind: "List", metadata: {}, items } };
    }
    const itemMatch = /^(.*)\/([^/]+)$/.exec(collectionPath);
    const itemCollection = itemMatch ? COLLECTIONS[itemMatch[1]!] : undefined;
    if (itemCollection && itemMatch) {
      const key = `${itemCollection}/${namespace}/${itemMatch[2]}`;
      const stored = this.objects.get(key);
      if (!stored) return statusBody(404, "NotFound", `${itemCollection} "${itemMatch[2]}" not found`);
      if (request.method === "GET") return { status: 200, body: stored };
      const stale = staleWrite(itemCollection, itemMatch[2] ?? "", stored, request);
      if (stale) return stale;
      if (request.method === "DELETE") {
        this.objects.delete(key);
        this.collectGarbage((stored.metadata as Json).uid);
        return { status: 200, body: stored };
      }
      if (request.method === "PUT") {
        this.sequence += 1;
        const body = request.body as Json;
        const metadata = { ...(body.metadata as Json), resourceVersion: String(this.sequence) };
        const replaced = { ...body, metadata: { ...metadata, uid: (stored.metadata as Json).uid } };
        this.prune?.(itemCollection, replaced);
        this.objects.set(key, replaced);
        return { status: 200, body: replaced };
      }
    }
    return statusBody(404, "NotFound", `the server could not find the requested resource ${request.path}`);
  }

  /** Deletes every object that names `uid` as its owner, and theirs in turn, as the garbage collector does. */
  private collectGarbage(uid: unknown): void {
    for (const [key, object] of [...this.objects]) {
      const owners = ((object.metadata as Json).ownerReferences as { uid?: string }[] | undefined) ?? [];
      if (!owners.some((owner) => owner.uid === uid)) continue;
      this.objects.delete(key);
      this.collectGarbage((object.metadata as Json).uid);
    }
  }

  private create(kind: Kind, namespace: string, body: Json): { status: number; body: unknown } {
    const metadata = body.metadata as { name: string };
    const key = `${kind}/${namespace}/${metadata.name}`;
    if (this.objects.has(key))
      return statusBody(409, "AlreadyExists", `${kind} "${metadata.name}" already exists`);
    this.sequence += 1;
    const stored = {
      ...body,
      metadata: {
        ...metadata,
        uid: `uid-${this.sequence}`,
        resourceVersion: String(this.sequence),
        creationTimestamp: "2025-06-01T12:00:00Z",
      },
    };
    this.prune?.(kind, stored);
    this.objects.set(key, stored);
    return { status: 201, body: stored };
  }
}

/**
 * A replace must carry the resourceVersion it read (custom resources allow no unconditional update), and a
 * delete's precondition must match: otherwise the write is refused, as the API server refuses it.
 */
function staleWrite(
  kind: Kind,
  name: string,
  stored: Json,
  request: ReceivedRequest,
): { status: number; body: unknown } | undefined {
  const current = (stored.metadata as Json).resourceVersion;
  const object = `${kind === "httproutes" ? "httproutes.gateway.networking.k8s.io" : kind} "${name}"`;
  if (request.method === "PUT") {
    const sent = ((request.body as Json | undefined)?.metadata as Json | undefined)?.resourceVersion;
    if (sent === undefined)
      return statusBody(
        422,
        "Invalid",
        `${object} is invalid: metadata.resourceVersion: must be specified for an update`,
      );
    if (sent !== current)
      return statusBody(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${object}: the object has been modified; please apply your changes to the latest version and try again`,
      );
  }
  if (request.method === "DELETE") {
    const precondition = ((request.body as Json | undefined)?.preconditions as Json | undefined)
      ?.resourceVersion;
    if (precondition !== undefined && precondition !== current)
      return statusBody(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${object}: Precondition failed: ResourceVersion: Precondition failed`,
      );
  }
  return undefined;
}

/** Whether a cluster-scoped object has every `key=value` of a label selector. */
function hasLabels(object: Json, selector: string | null): boolean {
  const labels = ((object.metadata as Json).labels as Record<string, string> | undefined) ?? {};
  return (selector ?? "")
    .split(",")
    .filter(Boolean)
    .every((term) => labels[term.split("=")[0]!] === term.split("=")[1]);
}

function statusBody(code: number, reason: string, message: string): { status: number; body: unknown } {
  return {
    status: code,
    body: { kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code },
  };
}
