// What a failed Kubernetes API call means for a rollout: throttling, a server error or a dropped connection
// is `Transient` (the state machine retries); 401/403 is missing access, said with what to grant; anything
// else is `CandidateFailed` with the API server's own message.

import { ApiException } from "@kubernetes/client-node";
import { CandidateFailed, Transient } from "../../core/errors";

const TRANSIENT_NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

/** The verbs modelship uses in the candidates' namespace, for the message when they are missing. */
const REQUIRED_ACCESS =
  "create, get, list and delete on deployments, services and serviceaccounts; get and list on pods, pods/log and events; get and create on services/proxy";

/** The HTTP status of a failed API call, when the server answered. */
export function apiStatus(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** The API server's own message (`Status.message`), when its body has one. */
export function apiMessage(error: ApiException<unknown>): string {
  const body: unknown = error.body;
  let parsed: unknown = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.slice(0, 500);
    }
  }
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === "string" ? message : "";
}

/**
 * @param operation what was attempted, for the message: `create Deployment models/llama-v3`
 * @param namespace the namespace the call was in
 */
export function kubernetesFailure(error: unknown, operation: string, namespace: string): Error {
  if (error instanceof ApiException) {
    const status = error.code;
    const detail = apiMessage(error);
    const said = detail ? `: ${detail}` : ".";
    if (status === 401) {
      return new CandidateFailed(
        `The cluster did not accept modelship's credentials (401) to ${operation}${said}`,
        {
          hint: "The function's IAM role needs an EKS access entry on the cluster, and the cluster's authentication mode must be API or API_AND_CONFIG_MAP. The ModelPipeline construct creates the entry unless manageClusterAccess is false.",
          cause: error,
        },
      );
    }
    if (status === 403) {
      return new CandidateFailed(`modelship may not ${operation} (403 Forbidden)${said}`, {
        hint: `Grant the function's IAM role, in namespace '${namespace}': ${REQUIRED_ACCESS}. The ModelPipeline construct does this with an EKS access entry (AmazonEKSEditPolicy scoped to the namespace) unless manageClusterAccess is false; otherwise bind these verbs with RBAC to the entry's Kubernetes group.`,
        cause: error,
      });
    }
    if (status === 429 || status >= 500) {
      return new Transient(`The Kubernetes API answered ${status} to ${operation}${said}`, {
        hint: "A passing failure of the API server (throttling or an error on its side); the state machine retries it. If it persists, check the cluster's control plane health.",
        cause: error,
      });
    }
    return new CandidateFailed(`The Kubernetes API refused to ${operation} (${status})${said}`, {
      hint: "Read the API server's message above: a quota, an admission policy or a stack setting (node selector, tolerations, resource names) is the usual cause.",
      cause: error,
    });
  }
  const code = networkCode(error);
  if (code !== undefined && /CERT|SELF_SIGNED|TLS/.test(code)) {
    return new CandidateFailed(
      `The Kubernetes API server's certificate did not verify (${code}) to ${operation}.`,
      {
        hint: "The cluster's certificate authority is taken from DescribeCluster (or given with the server): check it is the CA of this API endpoint.",
        cause: error,
      },
    );
  }
  if ((code !== undefined && TRANSIENT_NETWORK_CODES.has(code)) || isFetchFailure(error)) {
    return new Transient(
      `Could not reach the Kubernetes API to ${operation}: ${describeNetworkFailure(error)}.`,
      {
        hint: "A network failure between the function and the cluster's API endpoint; the state machine retries it. If it persists, check the endpoint's public/private access settings and the function's network path to it.",
        cause: error,
      },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** undici's fetch reports every connection failure as `TypeError: fetch failed`, the reason as its cause. */
function isFetchFailure(error: unknown): boolean {
  return error instanceof TypeError && error.message === "fetch failed";
}

function describeNetworkFailure(error: unknown): string {
  const code = networkCode(error);
  const cause = (error as { cause?: { message?: unknown } }).cause?.message;
  return [code, typeof cause === "string" ? cause : (error as Error).message].filter(Boolean).join(" ");
}
