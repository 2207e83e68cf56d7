import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { eksTokenSource } from "../../../lib/aws/eks/token";
import { FixedClock } from "../../support/fixed-clock";

const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "IQoJb3JpZ2luX2VjEXAMPLE/session+token==",
};

/** The presigned URL inside a token: `k8s-aws-v1.` + base64url without padding. */
function presignedUrl(token: string): URL {
  expect(token.startsWith("k8s-aws-v1.")).toBe(true);
  const encoded = token.slice("k8s-aws-v1.".length);
  expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
  return new URL(Buffer.from(encoded, "base64url").toString("utf8"));
}

const rfc3986 = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Checks the URL's SigV4 query signature the way STS does, for a request carrying these headers. */
function signatureVerifies(url: URL, headers: Record<string, string>, secretAccessKey: string): boolean {
  const query = [...url.searchParams.entries()]
    .filter(([name]) => name !== "X-Amz-Signature")
    .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
    .sort()
    .join("&");
  const signedHeaders = url.searchParams.get("X-Amz-SignedHeaders") ?? "";
  const canonicalHeaders = signedHeaders
    .split(";")
    .map((name) => `${name}:${headers[name] ?? ""}\n`)
    .join("");
  const emptyBody = createHash("sha256").update("").digest("hex");
  const canonicalRequest = ["GET", url.pathname, query, canonicalHeaders, signedHeaders, emptyBody].join(
    "\n",
  );
  const [, date = "", region = "", service = ""] = (url.searchParams.get("X-Amz-Credential") ?? "").split(
    "/",
  );
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    url.searchParams.get("X-Amz-Date"),
    scope,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
  const signingKey = [date, region, service, "aws4_request"].reduce<Buffer | string>(
    (key, part) => hmac(key, part),
    `AWS4${secretAccessKey}`,
  );
  const signature = createHmac("sha256", signingKey).update(stringToSign).digest("hex");
  return signature === url.searchParams.get("X-Amz-Signature");
}

describe("EKS bearer token", () => {
  it("is k8s-aws-v1. + a presigned STS GetCallerIdentity URL of the cluster's region, as aws-iam-authenticator makes it", async () => {
    const clock = new FixedClock("2025-06-01T12:00:00.000Z");
    const token = await eksTokenSource({
      clusterName: "gpu-inference",
      region: "us-west-2",
      credentials: CREDENTIALS,
      now: () => clock.now(),
    })();
    const url = presignedUrl(token);

    expect(url.origin).toBe("https://sts.us-west-2.amazonaws.com");
    expect(url.pathname).toBe("/");
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      Action: "GetCallerIdentity",
      Version: "2011-06-15",
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Credential": "AKIDEXAMPLE/20250601/us-west-2/sts/aws4_request",
      "X-Amz-Date": "20250601T120000Z",
      "X-Amz-Expires": "60",
      "X-Amz-Security-Token": CREDENTIALS.sessionToken,
      "X-Amz-SignedHeaders": "host;x-k8s-aws-id",
    });
    expect(token.length).toBeLessThan(4096);
  });

  it("is signed with the cluster name in x-k8s-aws-id, so it is good for this cluster only", async () => {
    const token = await eksTokenSource({
      clusterName: "gpu-inference",
      region: "us-west-2",
      credentials: CREDENTIALS,
    })();
    const url = presignedUrl(token);
    const host = "sts.us-west-2.amazonaws.com";

    expect(
      signatureVerifies(url, { host, "x-k8s-aws-id": "gpu-inference" }, CREDENTIALS.secretAccessKey),
    ).toBe(true);
    expect(
      signatureVerifies(url, { host, "x-k8s-aws-id": "another-cluster" }, CREDENTIALS.secretAccessKey),
    ).toBe(false);
  });

  it("uses the China partition's STS endpoint in a China region", async () => {
    const token = await eksTokenSource({
      clusterName: "c",
      region: "cn-north-1",
      credentials: CREDENTIALS,
    })();

    expect(presignedUrl(token).host).toBe("sts.cn-north-1.amazonaws.com.cn");
  });

  it("is reused until a minute before its 15 minutes run out, then renewed", async () => {
    const clock = new FixedClock("2025-06-01T12:00:00.000Z");
    const token = eksTokenSource({
      clusterName: "gpu-inference",
      region: "us-west-2",
      credentials: CREDENTIALS,
      now: () => clock.now(),
    });

    const first = await token();
    clock.advance(14 * 60 - 1);
    expect(await token()).toBe(first);
    clock.advance(1);
    const renewed = await token();
    expect(renewed).not.toBe(first);
    expect(presignedUrl(renewed).searchParams.get("X-Amz-Date")).toBe("20250601T121400Z");
  });

  it("signs once for callers asking at the same time", async () => {
    let signings = 0;
    const token = eksTokenSource({
      clusterName: "gpu-inference",
      region: "us-west-2",
      credentials: async () => {
        signings += 1;
        return CREDENTIALS;
      },
    });

    const tokens = await Promise.all([token(), token(), token()]);

    expect(new Set(tokens).size).toBe(1);
    expect(signings).toBe(1);
  });

  it("tries again on the next call when the credentials could not be had", async () => {
    let attempts = 0;
    const token = eksTokenSource({
      clusterName: "gpu-inference",
      region: "us-west-2",
      credentials: async () => {
        attempts += 1;
        if (attempts === 1) throw new Error("the credentials endpoint timed out");
        return CREDENTIALS;
      },
    });

    await expect(token()).rejects.toThrow("the credentials endpoint timed out");
    expect(presignedUrl(await token()).searchParams.get("Action")).toBe("GetCallerIdentity");
  });
});
