// An in-memory Hooks port: function hooks answer what the test sets for their name (a text, or an Error to
// throw), every call is recorded with its parsed request, and URL hooks are signed with a fixed key.

import type { HookRequest } from "../../lib/core/gates/hooks";
import type { Hooks } from "../../lib/ports";

export class MemoryHooks implements Hooks {
  readonly calls: { name: string; request: HookRequest; timeoutMs: number }[] = [];
  readonly answers = new Map<string, string | Error>();
  readonly key = "test-signing-key";

  callFunction(name: string, body: string, timeoutMs: number): Promise<string> {
    this.calls.push({ name, request: JSON.parse(body) as HookRequest, timeoutMs });
    const answer = this.answers.get(name);
    if (answer === undefined) return Promise.reject(new Error(`no answer set for function hook '${name}'`));
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  }

  signingKey(): Promise<string> {
    return Promise.resolve(this.key);
  }
}
