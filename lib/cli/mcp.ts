// `modelship mcp`: the MCP server (lib/mcp/server.ts) for agents — over stdio for a client that starts it
// (Claude Desktop, an IDE, an agent framework), or over streamable HTTP on 127.0.0.1 for one that connects,
// authenticated like the local admin API (the home's secret as a Bearer token; cross-origin requests refused).
// On stdio, stdout carries the protocol and nothing else: everything the code would print goes to stderr.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  AdminSecretUnreadable,
  authenticateAdminRequest,
  createAdminSecret,
  readAdminSecret,
} from "../local/admin-auth";
import { OpenAiError } from "../local/llama-server/openai-error";
import { createModelshipMcpServer } from "../mcp/server";
import { packagePath } from "../package-files";
import { AwsOperations, LocalOperations, type Operations } from "../mcp/operations";
import { CLI_ENVIRONMENT } from "./aws-cli";
import { BadInput, runCliCommand, UsageError } from "./cli-command";
import { parseCommandLine } from "./command-line";

const USAGE = `Usage: modelship mcp --local [--home .modelship] [--http [--port N]]
       modelship mcp --table NAME [--bus NAME] [--bucket NAME] [--http [--port N] --home DIR]

Serves modelship's tools to an agent over the Model Context Protocol: list_models, model_status,
rollout_timeline, explain_failure, validate, compare_versions (read), rollback, abort, promote, approve,
reject, run_rollout (acting: annotated destructive, each needs the model and a reason), and the resources
modelship://reports/{model}/{version}/{rolloutId} and modelship://events/recent.

By default it speaks over stdio (the client starts it). With --http it listens on 127.0.0.1 for streamable
HTTP at /mcp and prints the URL; a client sends \`Authorization: Bearer <contents of <home>/admin-token>\`.

Options:
  --local        act on the running local control plane of --home (\`modelship local\`)
  --home DIR     the local runtime's folder (default .modelship); with --http, where the secret is
  --table NAME   on AWS: the rollout table (default: $${CLI_ENVIRONMENT.table}; the stack's RolloutTableName output)
  --bus NAME     on AWS: the event bus commands go on (default: $${CLI_ENVIRONMENT.bus}); without it, commands are refused
  --bucket NAME  on AWS: the pipeline's bucket, for reports (default: $MODELSHIP_BUCKET); without it, report tools are refused
  --http         streamable HTTP on 127.0.0.1 instead of stdio
  --port N       with --http: the port (default 0: any free port, printed)
  -h, --help     show this help

Exit codes: 0 the client went away (stdio) or Ctrl-C (http), 1 refused, 2 usage error.`;

export function run(argv: string[]): Promise<number> {
  return runCliCommand({ name: "mcp", usage: USAGE, refusals: [AdminSecretUnreadable] }, () => mcp(argv));
}

async function mcp(argv: string[]): Promise<number> {
  const { values } = parseCommandLine({
    args: argv,
    strict: true,
    options: {
      local: { type: "boolean", default: false },
      home: { type: "string", default: ".modelship" },
      table: { type: "string" },
      bus: { type: "string" },
      bucket: { type: "string" },
      http: { type: "boolean", default: false },
      port: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.port !== undefined && !values.http) throw new UsageError("--port goes with --http.");
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port takes 0–65535, found '${values.port}'.`);
  }
  const home = resolve(values.home);
  let operations: Operations;
  if (values.local) {
    if (values.table || values.bus || values.bucket) {
      throw new UsageError(
        "--table, --bus and --bucket are for AWS; with --local the control plane knows its own.",
      );
    }
    operations = new LocalOperations(home);
  } else {
    const table = values.table ?? (process.env[CLI_ENVIRONMENT.table] || undefined);
    if (!table) {
      throw new UsageError(
        `which rollout table? Give --table or set ${CLI_ENVIRONMENT.table} (the stack's RolloutTableName output), or --local.`,
      );
    }
    const bus = values.bus ?? (process.env[CLI_ENVIRONMENT.bus] || undefined);
    const bucket = values.bucket ?? (process.env["MODELSHIP_BUCKET"] || undefined);
    operations = new AwsOperations({ table, ...(bus && { bus }), ...(bucket && { bucket }) });
  }
  const version = await packageVersion();
  if (values.http) return serveHttp(operations, version, home, port, values.local);
  return serveStdio(operations, version);
}

async function serveStdio(operations: Operations, version: string): Promise<number> {
  // stdout is the protocol's: a stray line would break the client's parser.
  console.log = console.error;
  console.info = console.error;
  const server = createModelshipMcpServer({ operations, version });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((done) => {
    transport.onclose = () => done();
    process.stdin.once("end", () => done());
  });
  await server.connect(transport);
  console.error(`modelship mcp: serving ${operations.where} over stdio.`);
  await closed;
  await server.close();
  return 0;
}

async function serveHttp(
  operations: Operations,
  version: string,
  home: string,
  port: number,
  local: boolean,
): Promise<number> {
  // Locally the control plane's secret; on AWS the home's, made now if there is none yet.
  const secret = local
    ? await readAdminSecret(home)
    : await readAdminSecret(home).catch(() => createAdminSecret(home));
  const http = createServer((request, response) => {
    handleHttp(request, response, secret, operations, version).catch((error: unknown) => {
      if (!response.headersSent) writeError(response, error);
      else response.end();
    });
  });
  await new Promise<void>((listening, failed) => {
    http.once("error", (error: NodeJS.ErrnoException) =>
      failed(
        error.code === "EADDRINUSE"
          ? new BadInput(
              `port ${port} on 127.0.0.1 is in use.`,
              "Give another --port, or 0 for any free one.",
            )
          : error,
      ),
    );
    http.listen(port, "127.0.0.1", () => listening());
  });
  const { port: bound } = http.address() as AddressInfo;
  console.log(`modelship mcp: streamable HTTP at http://127.0.0.1:${bound}/mcp for ${operations.where}`);
  console.log(`  Authorization: Bearer <contents of ${home}/admin-token>. Ctrl-C stops it.`);
  await new Promise<void>((stop) => {
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  http.closeAllConnections();
  await new Promise<void>((closed) => http.close(() => closed()));
  return 0;
}

/** One request: loopback Host, same origin, the secret; then a fresh stateless server and transport answer it. */
async function handleHttp(
  request: IncomingMessage,
  response: ServerResponse,
  secret: string,
  operations: Operations,
  version: string,
): Promise<void> {
  const host = request.headers.host ?? "";
  // A DNS-rebinding page reaches 127.0.0.1 under its own name: only the loopback names are answered.
  if (!/^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host)) {
    throw new OpenAiError(
      403,
      `modelship mcp answers requests for 127.0.0.1 or localhost only, not ${host}.`,
      null,
      "wrong_host",
    );
  }
  authenticateAdminRequest(request, secret);
  if (new URL(request.url ?? "/", "http://127.0.0.1").pathname !== "/mcp") {
    throw new OpenAiError(404, "modelship mcp answers at /mcp.", null, "not_found");
  }
  const server = createModelshipMcpServer({ operations, version });
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  response.once("close", () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(request, response);
}

function writeError(response: ServerResponse, error: unknown): void {
  const status = error instanceof OpenAiError ? error.status : 500;
  const message = error instanceof Error ? error.message : String(error);
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify({ error: { message } }));
}

async function packageVersion(): Promise<string> {
  const text = await readFile(packagePath("package.json"), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}
