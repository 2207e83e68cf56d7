import { createServer, get, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { EventStream, sseFrame } from "../../lib/local/console/event-stream";
import type { OpenAiError } from "../../lib/local/llama-server/openai-error";

describe("sseFrame", () => {
  it("writes an event line, one data line of JSON and a blank line", () => {
    expect(sseFrame("snapshot", { a: 1, b: "x" })).toBe('event: snapshot\ndata: {"a":1,"b":"x"}\n\n');
  });

  it("keeps a line break inside a value escaped in the JSON, so one event stays one data line", () => {
    const frame = sseFrame("event", { message: "two\nlines\r\n" });
    expect(frame.split("\n").filter((l) => l.startsWith("data: "))).toHaveLength(1);
    expect(JSON.parse(frame.split("\n")[1]!.slice("data: ".length))).toEqual({ message: "two\nlines\r\n" });
  });

  it("refuses an event name with a line break", () => {
    expect(() => sseFrame("a\ndata: forged", {})).toThrow(RangeError);
  });
});

describe("EventStream", () => {
  let server: Server | undefined;
  let stream: EventStream | undefined;
  afterEach(async () => {
    stream?.close();
    server?.closeAllConnections();
    await new Promise((done) => server?.close(done) ?? done(undefined));
  });

  async function serve(options: ConstructorParameters<typeof EventStream>[0]): Promise<number> {
    stream = new EventStream(options);
    server = createServer((_request, response) => {
      try {
        stream!.attach(response, [sseFrame("hello", { n: 0 })]);
      } catch (error) {
        response.writeHead((error as OpenAiError).status).end((error as OpenAiError).message);
      }
    });
    await new Promise<void>((done) => server!.listen(0, "127.0.0.1", done));
    return (server.address() as AddressInfo).port;
  }

  function open(port: number): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => get(`http://127.0.0.1:${port}/`, resolve).on("error", reject));
  }

  async function until(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 500 && !condition(); i++) await new Promise((done) => setTimeout(done, 10));
    expect(condition()).toBe(true);
  }

  it("sends a client the opening frames, then every event, as text/event-stream", async () => {
    const port = await serve({});
    const response = await open(port);
    expect(response.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    let text = "";
    response.on("data", (chunk: Buffer) => (text += chunk.toString()));
    await until(() => text.includes("event: hello"));
    stream!.send("snapshot", { n: 1 });
    await until(() => text.includes('data: {"n":1}'));
    response.destroy();
  });

  it("refuses a client beyond the maximum with 503", async () => {
    const port = await serve({ maxClients: 1 });
    const first = await open(port);
    await until(() => stream!.size === 1);
    const second = await open(port);
    expect(second.statusCode).toBe(503);
    second.resume();
    first.destroy();
  });

  it("sends a heartbeat comment while nothing happens", async () => {
    const port = await serve({ heartbeatMs: 20 });
    const response = await open(port);
    let text = "";
    response.on("data", (chunk: Buffer) => (text += chunk.toString()));
    await until(() => text.includes(": heartbeat\n\n"));
    response.destroy();
  });

  it("drops a client that does not read once its backlog passes the bound", async () => {
    const port = await serve({ maxBufferedBytes: 64 * 1024 });
    const response = await open(port);
    response.pause();
    await until(() => stream!.size === 1);
    const big = "x".repeat(16 * 1024);
    for (let i = 0; i < 200 && stream!.size > 0; i++) stream!.send("snapshot", { big });
    expect(stream!.size).toBe(0);
    response.destroy();
  });

  it("does not keep a client that left before its opening frames were ready (the console builds them first)", async () => {
    // The console awaits its snapshot before it attaches a page; a page closed meanwhile must not stay counted,
    // or after `maxClients` such pages every new console is refused with 503.
    stream = new EventStream({ maxClients: 1 });
    let ready!: () => void;
    const opening = new Promise<void>((done) => (ready = done));
    let left!: () => void;
    const pageLeft = new Promise<void>((done) => (left = done));
    let handled!: () => void;
    const attached = new Promise<void>((done) => (handled = done));
    let first = true;
    server = createServer((request, response) => {
      if (first) {
        first = false;
        request.socket.once("close", () => left());
        void opening.then(() => {
          stream!.attach(response, [sseFrame("hello", { n: 0 })]);
          handled();
        });
        return;
      }
      stream!.attach(response, [sseFrame("hello", { n: 0 })]);
    });
    await new Promise<void>((done) => server!.listen(0, "127.0.0.1", done));
    const port = (server.address() as AddressInfo).port;
    const early = get(`http://127.0.0.1:${port}/`).on("error", () => {});
    await until(() => !first);
    early.destroy();
    await pageLeft;
    ready();
    await attached;
    expect(stream.size).toBe(0);
    const next = await open(port);
    expect(next.statusCode).toBe(200);
    next.destroy();
  });

  it("forgets a client that went away", async () => {
    const port = await serve({});
    const response = await open(port);
    await until(() => stream!.size === 1);
    response.destroy();
    await until(() => stream!.size === 0);
  });
});
