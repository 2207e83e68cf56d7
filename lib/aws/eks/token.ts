// A bearer token for an EKS cluster's API server without the aws CLI or aws-iam-authenticator binaries:
// a presigned STS GetCallerIdentity URL whose signed headers include `x-k8s-aws-id: <cluster>`, as
// aws-iam-authenticator's pkg/token/token.go makes it. The API server asks STS who signed it. STS accepts
// the URL for 15 minutes after its X-Amz-Date whatever X-Amz-Expires says (60 is what the official tool
// sends), so a token is reused and renewed a minute before those 15 minutes run out.

import { Sha256 } from "@aws-crypto/sha256-js";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

/** Returns a bearer token valid for at least a minute more. */
export type TokenSource = () => Promise<string>;

/** What SignatureV4 accepts: credentials, or a provider of them. */
export type SigningCredentials = ConstructorParameters<typeof SignatureV4>[0]["credentials"];

export interface EksTokenOptions {
  readonly clusterName: string;
  readonly region: string;
  /** Default: the Node.js provider chain (in a Lambda function, its role's credentials). */
  readonly credentials?: SigningCredentials;
  /** Default: the system clock. Tests move time by hand. */
  readonly now?: () => Date;
}

const TOKEN_PREFIX = "k8s-aws-v1.";
const CLUSTER_ID_HEADER = "x-k8s-aws-id";
const PRESIGN_EXPIRES_SECONDS = 60;
const TOKEN_LIFETIME_MS = 15 * 60_000;
const RENEW_BEFORE_EXPIRY_MS = 60_000;

/** A token source that presigns a new token only when the cached one is within a minute of expiring. */
export function eksTokenSource(options: EksTokenOptions): TokenSource {
  const now = options.now ?? (() => new Date());
  const signer = new SignatureV4({
    credentials: options.credentials ?? fromNodeProviderChain(),
    region: options.region,
    service: "sts",
    sha256: Sha256,
  });
  let cached: { readonly token: string; readonly renewAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const renew = async (): Promise<string> => {
    const signingDate = now();
    const token = await presignToken(signer, options.clusterName, options.region, signingDate);
    cached = { token, renewAt: signingDate.getTime() + TOKEN_LIFETIME_MS - RENEW_BEFORE_EXPIRY_MS };
    return token;
  };

  return () => {
    if (cached && now().getTime() < cached.renewAt) return Promise.resolve(cached.token);
    // Concurrent callers share one signing instead of each presigning their own.
    pending ??= renew().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}

async function presignToken(
  signer: SignatureV4,
  clusterName: string,
  region: string,
  signingDate: Date,
): Promise<string> {
  const hostname = stsHostname(region);
  const request = new HttpRequest({
    method: "GET",
    protocol: "https:",
    hostname,
    path: "/",
    query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
    headers: { host: hostname, [CLUSTER_ID_HEADER]: clusterName },
  });
  const presigned = await signer.presign(request, { expiresIn: PRESIGN_EXPIRES_SECONDS, signingDate });
  const query = Object.entries(presigned.query ?? {})
    .flatMap(([name, value]) => ([] as (string | null)[]).concat(value).map((v) => [name, v ?? ""] as const))
    .map(([name, value]) => `${uriEscape(name)}=${uriEscape(value)}`)
    .join("&");
  const url = `https://${hostname}/?${query}`;
  return TOKEN_PREFIX + Buffer.from(url, "utf8").toString("base64url");
}

/** The regional STS endpoint the API server accepts for the region's partition. */
function stsHostname(region: string): string {
  return region.startsWith("cn-") ? `sts.${region}.amazonaws.com.cn` : `sts.${region}.amazonaws.com`;
}

/** RFC 3986 escaping, as SigV4 canonicalizes query strings (encodeURIComponent leaves !'()* alone). */
function uriEscape(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
