// The Hooks port on AWS. A function hook is a Lambda function of the stack's allow-list (the construct's
// `allowedHookFunctions`, in the config with their ARNs): only those ARNs are invoked — and the RunHooks
// function's role may invoke nothing else — so a manifest in the bucket never chooses code to run. The
// function gets the hook's request as its event and returns the verdict `{pass, reason}`. URL hooks are
// signed with the value of the Secrets Manager secret the construct names (`hookSigningSecret`), read once
// per container with a SigV4-signed GetSecretValue call (Secrets Manager's JSON API; no SDK client needed).

import { Sha256 } from "@aws-crypto/sha256-js";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { HookFunction } from "../core/config/config";
import { MAX_HOOK_ANSWER_BYTES } from "../core/gates/hooks";
import type { Hooks } from "../ports";
import type { SigningCredentials } from "./eks/token";

export interface LambdaHooksOptions {
  /** The allow-list: the only functions invoked, by name, with their ARNs. */
  readonly functions: readonly HookFunction[];
  readonly region: string;
  /** The secret whose value signs URL hooks; absent: the stack takes no URL hooks. */
  readonly signingSecretArn?: string;
  readonly lambda?: LambdaClient;
  /** Signs the GetSecretValue call. Default: the Node.js provider chain (in a Lambda function, its role). */
  readonly credentials?: SigningCredentials;
  /** Secrets Manager's base URL. Default `https://secretsmanager.<region>.amazonaws.com` (tests point it elsewhere). */
  readonly secretsManagerUrl?: string;
}

export class LambdaHooks implements Hooks {
  private readonly lambda: LambdaClient;
  private key: Promise<string> | undefined;

  constructor(private readonly options: LambdaHooksOptions) {
    this.lambda = options.lambda ?? new LambdaClient({ region: options.region });
  }

  async callFunction(name: string, body: string, timeoutMs: number): Promise<string> {
    const arn = this.options.functions.find((fn) => fn.name === name)?.arn;
    if (!arn) throw new Error(`function '${name}' is not on the stack's allow-list (allowedHookFunctions).`);
    const answer = await this.lambda.send(
      new InvokeCommand({ FunctionName: arn, InvocationType: "RequestResponse", Payload: Buffer.from(body) }),
      { abortSignal: AbortSignal.timeout(timeoutMs) },
    );
    const payload = Buffer.from(answer.Payload ?? new Uint8Array());
    if (payload.byteLength > MAX_HOOK_ANSWER_BYTES) {
      throw new Error(
        `answered more than ${MAX_HOOK_ANSWER_BYTES / 1024} KiB; a hook returns {"pass": …, "reason": …}`,
      );
    }
    const text = payload.toString("utf8");
    if (answer.FunctionError) throw new Error(`failed (${answer.FunctionError}): ${text.slice(0, 300)}`);
    return text;
  }

  signingKey(): Promise<string> {
    this.key ??= this.readSecret().catch((error: unknown) => {
      this.key = undefined;
      throw error;
    });
    return this.key;
  }

  private async readSecret(): Promise<string> {
    const secretId = this.options.signingSecretArn;
    if (!secretId) throw new Error("the stack has no hook signing secret (ModelPipeline hookSigningSecret).");
    const { region } = this.options;
    const url = new URL(this.options.secretsManagerUrl ?? `https://secretsmanager.${region}.amazonaws.com`);
    const body = JSON.stringify({ SecretId: secretId });
    const signer = new SignatureV4({
      credentials: this.options.credentials ?? fromNodeProviderChain(),
      region,
      service: "secretsmanager",
      sha256: Sha256,
    });
    const signed = await signer.sign(
      new HttpRequest({
        method: "POST",
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: "/",
        headers: {
          host: url.host,
          "content-type": "application/x-amz-json-1.1",
          "x-amz-target": "secretsmanager.GetSecretValue",
        },
        body,
      }),
    );
    const response = await fetch(url, {
      method: "POST",
      headers: Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, String(v)])),
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`Secrets Manager answered HTTP ${response.status}: ${text.slice(0, 300)}`);
    const value = (JSON.parse(text) as { SecretString?: unknown }).SecretString;
    if (typeof value !== "string" || value === "") {
      throw new Error(`the hook signing secret ${secretId} has no SecretString.`);
    }
    return value;
  }
}
