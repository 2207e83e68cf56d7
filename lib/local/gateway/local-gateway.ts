// The Gateway port on this machine: a weighted reverse proxy on one 127.0.0.1 port, the local stand-in for
// an HTTPRoute on a Kubernetes gateway. Its routes follow the same rules (route-table.ts); it forwards
// OpenAI requests by model and weight (front-door.ts) to the least busy of a version's replicas
// (replica-balancer.ts), injects faults per variant and serves an admin API
// (admin-api.ts). Routes and faults are kept in `<home>/gateway.json`, so a restarted control plane serves what it served before.
// Only the control plane's process changes them (others go through the admin API), so no file lock is needed.

import {
  Agent as HttpAgent,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Mirror } from "../../core/traffic/shadow";
import type { ShadowSamples } from "../../core/traffic/shadow-samples";
import type { Stickiness } from "../../core/manifest/rollout-settings";
import type { CandidateHandle, Endpoint, Gateway, RouteState, Variant } from "../../ports";
import { ADMIN_PREFIX, type AdminExtension, serveAdminRequest } from "./admin-api";
import type { Fault } from "./fault-injection";
import { serveModelRequest } from "./front-door";
import { type FaultTable, readGatewayState, writeGatewayState } from "./gateway-state-file";
import { sendError } from "./http-messages";
import { ReplicaBalancer } from "./replica-balancer";
import { RequestMirrors } from "./request-mirror";
import { type RouteSlots, RouteTable } from "./route-table";

/** Serves a request under a prefix mounted with `mountPages`; rejects with the OpenAiError to answer. */
export type PageHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

export interface LocalGatewayOptions {
  /** The local runtime's home folder: routes and faults are kept in `<home>/gateway.json`. */
  readonly home: string;
  /** The secret the admin API requires of every request (lib/local/admin-auth.ts). */
  readonly adminSecret: string;
  /** The port to listen on (127.0.0.1); 0 = any free port. */
  readonly port: number;
  /** Where a backend's server answers (Serving.endpoint). */
  readonly endpointOf: (handle: CandidateHandle) => Promise<Endpoint>;
  /**
   * A backend's replicas in rotation (Serving's ready replicas that are not draining): a request goes to the
   * one with the fewest in flight. @default the one replica `endpointOf` names
   */
  readonly replicasOf?: (handle: CandidateHandle) => Promise<readonly Endpoint[]>;
  /** Uniform in [0, 1): draws backends by weight and faults by percentage. Seed it in tests. */
  readonly random?: () => number;
}

/** The gateway's port is taken (another control plane, or anything else): a refusal, not a crash. */
export class GatewayPortInUse extends Error {
  override readonly name = "GatewayPortInUse";
  constructor(
    readonly port: number,
    cause: Error,
  ) {
    super(
      `The local gateway cannot listen on 127.0.0.1:${port}: the port is in use. Pass --port with a free port (0 = any), set local.gatewayPort in the local config.json, or stop what uses it.`,
      { cause },
    );
  }
}

export class LocalGateway implements Gateway {
  private readonly routes: RouteTable;
  private readonly faults: Map<string, Map<Variant, Fault>>;
  private readonly statePath: string;
  private readonly server: Server;
  private readonly agents = {
    http: new HttpAgent({ keepAlive: true }),
    https: new HttpsAgent({ keepAlive: true }),
  };
  private readonly balancer = new ReplicaBalancer();
  private writes: Promise<void> = Promise.resolve();
  private readonly adminExtensions: AdminExtension[] = [];
  private readonly mirrors: RequestMirrors;
  private readonly pages: { prefix: string; serve: PageHandler }[] = [];

  /** Restores `<home>/gateway.json` (if any) and listens. */
  static async open(options: LocalGatewayOptions): Promise<LocalGateway> {
    const statePath = join(options.home, "gateway.json");
    const state = await readGatewayState(statePath);
    const gateway = new LocalGateway(options, statePath, state.routes, state.faults);
    await gateway.listen(options.port);
    return gateway;
  }

  private constructor(
    options: LocalGatewayOptions,
    statePath: string,
    routes: ReadonlyMap<string, RouteSlots>,
    faults: FaultTable,
  ) {
    this.statePath = statePath;
    this.routes = new RouteTable(routes);
    this.faults = new Map([...faults].map(([model, byVariant]) => [model, new Map(byVariant)]));
    const random = options.random ?? Math.random;
    this.mirrors = new RequestMirrors({
      endpointOf: options.endpointOf,
      agents: this.agents,
      faultOf: (model) => this.faultOf(model, "candidate"),
      random,
    });
    const door = {
      adminSecret: options.adminSecret,
      routes: this.routes,
      faultOf: (model: string, variant: Variant) => this.faultOf(model, variant),
      setFault: (model: string, variant: Variant, fault: Fault | undefined) =>
        this.setFault(model, variant, fault),
      random,
      endpointOf: options.endpointOf,
      ...(options.replicasOf && { replicasOf: options.replicasOf }),
      balancer: this.balancer,
      agents: this.agents,
      mirrors: this.mirrors,
      extensions: this.adminExtensions,
    };
    this.server = createServer((request, response) => {
      const url = request.url ?? "";
      const page = this.pages.find(
        ({ prefix }) => url === prefix || (/^[/?]/.test(url.slice(prefix.length)) && url.startsWith(prefix)),
      );
      const served = page
        ? page.serve(request, response)
        : (url.startsWith(ADMIN_PREFIX) ? serveAdminRequest : serveModelRequest)(request, response, door);
      served.catch((error: unknown) => sendError(response, error));
    });
  }

  /** The port it listens on. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Its base URL, e.g. `http://127.0.0.1:8080` (OpenAI clients use `<url>/v1`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async register(model: string, candidate: CandidateHandle, stickiness?: Stickiness): Promise<void> {
    this.routes.register(model, candidate, stickiness);
    await this.save();
  }

  async setWeights(
    model: string,
    weights: { readonly stable: number; readonly candidate: number },
    stickiness?: Stickiness,
  ): Promise<void> {
    this.routes.setWeights(model, weights, stickiness);
    await this.save();
  }

  async promote(model: string, version: string): Promise<void> {
    this.routes.promote(model, version);
    await this.save();
  }

  async removeBackend(model: string, version: string): Promise<void> {
    const removed = (await this.describe(model))?.backends.find((b) => b.version === version);
    if (removed) this.balancer.forget(removed.handle.rolloutId);
    this.routes.removeBackend(model, version);
    if (!this.routes.has(model)) this.faults.delete(model);
    await this.save();
  }

  async mirror(model: string, mirror: Mirror | undefined): Promise<void> {
    this.routes.mirror(model, mirror);
    if (mirror) this.mirrors.started(model, mirror.version, mirror.percent);
    await this.save();
  }

  async shadowSamples(model: string): Promise<ShadowSamples> {
    return this.mirrors.samples(model);
  }

  /** Points the route's backend of the handle's rollout at its server started again (a new port). */
  async rebind(model: string, handle: CandidateHandle): Promise<boolean> {
    const rebound = this.routes.rebind(model, handle);
    if (rebound) await this.save();
    return rebound;
  }

  /**
   * Adds admin routes of the process that owns the gateway (the control plane's commands and status) under
   * `/_modelship/`, behind the same loopback check; the handler returns false for a path it does not serve.
   */
  mountAdmin(handler: AdminExtension): void {
    this.adminExtensions.push(handler);
  }

  /**
   * Serves the paths under `prefix` (inside `/_modelship/`) with a handler that checks its callers itself,
   * instead of the admin API's secret: the web console, whose browser sends a session cookie.
   */
  mountPages(prefix: string, serve: PageHandler): void {
    this.pages.push({ prefix, serve });
  }

  async describe(model: string): Promise<RouteState | undefined> {
    return this.routes.describe(model);
  }

  /** Sets (or, with undefined, clears) the fault injected into the requests a model's variant serves. */
  async setFault(model: string, variant: Variant, fault: Fault | undefined): Promise<void> {
    if (!this.routes.has(model)) {
      throw new Error(
        `The local gateway has no route for ${model}: a fault can be set once it is registered.`,
      );
    }
    const byVariant = this.faults.get(model) ?? new Map<Variant, Fault>();
    if (fault) byVariant.set(variant, structuredClone(fault));
    else byVariant.delete(variant);
    if (byVariant.size > 0) this.faults.set(model, byVariant);
    else this.faults.delete(model);
    await this.save();
  }

  /**
   * Requests this gateway sent to the replica at `baseUrl` whose answers have not ended: what the local
   * autoscaler measures and what draining a replica waits for.
   */
  inFlight(baseUrl: string): number {
    return this.balancer.inFlightOf(baseUrl);
  }

  faultOf(model: string, variant: Variant): Fault | undefined {
    return this.faults.get(model)?.get(variant);
  }

  /** Stops listening, cuts open connections (streams in flight end) and waits for the state file's last write. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    this.mirrors.close();
    await closed;
    this.agents.http.destroy();
    this.agents.https.destroy();
    await this.writes;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        reject(error.code === "EADDRINUSE" ? new GatewayPortInUse(port, error) : error);
      };
      this.server.once("error", onError);
      this.server.listen(port, "127.0.0.1", () => {
        this.server.off("error", onError);
        resolve();
      });
    });
  }

  /** Writes the current routes and faults, in order after earlier writes; resolves once this one is on disk. */
  private save(): Promise<void> {
    const state = { routes: this.routes.snapshot(), faults: structuredClone(this.faults) };
    const written = this.writes.then(() => writeGatewayState(this.statePath, state));
    this.writes = written.catch(() => undefined);
    return written;
  }
}
