import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { ConsoleAuth, CSRF_HEADER } from "../../lib/local/console/console-auth";
import { OpenAiError } from "../../lib/local/llama-server/openai-error";

const PORT = 8123;

function request(
  headers: Record<string, string> = {},
  { method = "GET", remoteAddress = "127.0.0.1" } = {},
): IncomingMessage {
  return {
    method,
    headers: { host: `127.0.0.1:${PORT}`, ...headers },
    socket: { remoteAddress },
  } as unknown as IncomingMessage;
}

function refusal(act: () => unknown): OpenAiError {
  try {
    act();
  } catch (error) {
    if (error instanceof OpenAiError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

function signedIn(auth: ConsoleAuth) {
  const { session, setCookie } = auth.login(request(), auth.loginToken());
  const cookie = setCookie.split(";")[0] as string;
  return { session, cookie };
}

describe("the web console's sign-in", () => {
  it("exchanges a login token for an HttpOnly, SameSite=Strict cookie on /_modelship, named after the port", () => {
    const auth = new ConsoleAuth({ port: PORT });
    const { setCookie } = auth.login(request(), auth.loginToken());
    expect(setCookie).toMatch(new RegExp(`^modelship_console_${PORT}=[A-Za-z0-9_-]{43}; `));
    const flags = setCookie.split("; ").slice(1);
    expect(flags).toEqual(["HttpOnly", "SameSite=Strict", "Path=/_modelship"]);
  });

  it("accepts a login token once", () => {
    const auth = new ConsoleAuth({ port: PORT });
    const token = auth.loginToken();
    auth.login(request(), token);
    const second = refusal(() => auth.login(request(), token));
    expect(second.status).toBe(401);
    expect(second.message).toContain("already used");
  });

  it("refuses an expired login token, and says how to get a new one", () => {
    let now = 1_000_000;
    const auth = new ConsoleAuth({ port: PORT, tokenTtlMs: 60_000, now: () => now });
    const token = auth.loginToken();
    now += 60_001;
    const expired = refusal(() => auth.login(request(), token));
    expect(expired.status).toBe(401);
    expect(expired.message).toContain("has expired");
    expect(expired.message).toContain("POST /_modelship/console-logins");
  });

  it("refuses a login with no token or a made-up one", () => {
    const auth = new ConsoleAuth({ port: PORT });
    auth.loginToken();
    expect(refusal(() => auth.login(request(), null)).status).toBe(401);
    expect(refusal(() => auth.login(request(), "x".repeat(43))).status).toBe(401);
  });

  it("refuses a Host that is not loopback (DNS rebinding), even from 127.0.0.1", () => {
    const auth = new ConsoleAuth({ port: PORT });
    const token = auth.loginToken();
    const rebound = refusal(() => auth.login(request({ host: `evil.example:${PORT}` }), token));
    expect(rebound.status).toBe(403);
    const { cookie } = signedIn(auth);
    const api = refusal(() => auth.authenticate(request({ host: `evil.example:${PORT}`, cookie })));
    expect(api.status).toBe(403);
    expect(api.message).toContain("127.0.0.1 or localhost");
  });

  it("refuses another machine", () => {
    const auth = new ConsoleAuth({ port: PORT });
    const { cookie } = signedIn(auth);
    expect(refusal(() => auth.authenticate(request({ cookie }, { remoteAddress: "10.0.0.7" }))).status).toBe(
      403,
    );
  });
});

describe("a web console request", () => {
  it("is the home's owner through the web console, with the session's cookie", () => {
    const auth = new ConsoleAuth({ port: PORT });
    const { cookie, session } = signedIn(auth);
    const { caller, session: found } = auth.authenticate(
      request({ cookie, "sec-fetch-site": "same-origin" }),
    );
    expect(found).toEqual(session);
    expect(caller.requestedBy).toMatch(/ \(web console\)$/);
  });

  it("without the cookie is refused with 401 and told to open the login link", () => {
    const auth = new ConsoleAuth({ port: PORT });
    signedIn(auth);
    const refused = refusal(() => auth.authenticate(request()));
    expect(refused.status).toBe(401);
    expect(refused.message).toContain("login link");
    expect(
      refusal(() => auth.authenticate(request({ cookie: `modelship_console_${PORT}=forged` }))).status,
    ).toBe(401);
  });

  it("from another origin is refused, cookie or not", () => {
    const auth = new ConsoleAuth({ port: PORT });
    const { cookie } = signedIn(auth);
    const byOrigin = refusal(() => auth.authenticate(request({ cookie, origin: "https://evil.example" })));
    expect(byOrigin.status).toBe(403);
    expect(byOrigin.message).toContain("https://evil.example");
    const bySite = refusal(() => auth.authenticate(request({ cookie, "sec-fetch-site": "cross-site" })));
    expect(bySite.status).toBe(403);
  });

  it("that changes state needs the CSRF header with the session's value", () => {
    const auth = new ConsoleAuth({ port: PORT });
    const { cookie, session } = signedIn(auth);
    const post = (headers: Record<string, string>) =>
      request(
        { cookie, "content-type": "application/json", "content-length": "2", ...headers },
        { method: "POST" },
      );
    const missing = refusal(() => auth.authenticate(post({})));
    expect(missing.status).toBe(403);
    expect(missing.message).toContain(CSRF_HEADER);
    expect(refusal(() => auth.authenticate(post({ [CSRF_HEADER]: "wrong" }))).status).toBe(403);
    expect(auth.authenticate(post({ [CSRF_HEADER]: session.csrf })).session).toEqual(session);
  });

  it("that changes state needs a JSON body", () => {
    const auth = new ConsoleAuth({ port: PORT });
    const { cookie, session } = signedIn(auth);
    const plain = request(
      { cookie, [CSRF_HEADER]: session.csrf, "content-type": "text/plain", "content-length": "2" },
      { method: "POST" },
    );
    expect(refusal(() => auth.authenticate(plain)).status).toBe(415);
  });

  it("is refused once the control plane forgot its sessions", () => {
    const auth = new ConsoleAuth({ port: PORT });
    const { cookie } = signedIn(auth);
    auth.clear();
    expect(refusal(() => auth.authenticate(request({ cookie }))).status).toBe(401);
  });
});
