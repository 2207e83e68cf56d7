import { describe, expect, it } from "vitest";
import { StopScanner } from "../../lib/local/llama-server/stop-scanner";

describe("StopScanner (stop strings in streamed text)", () => {
  it("ends the text just before a stop string that arrives split across pieces, sending none of it", () => {
    const scanner = new StopScanner(["</s>"]);
    expect(scanner.push("ab<")).toEqual({ text: "ab", stopped: false });
    expect(scanner.push("/s")).toEqual({ text: "", stopped: false });
    expect(scanner.push(">cd")).toEqual({ text: "", stopped: true });
    expect(scanner.push("more")).toEqual({ text: "", stopped: true });
    expect(scanner.flush()).toBe("");
  });

  it("releases held-back text as soon as it cannot start a stop string any more", () => {
    const scanner = new StopScanner(["</s>"]);
    expect(scanner.push("a</")).toEqual({ text: "a", stopped: false });
    expect(scanner.push("x")).toEqual({ text: "</x", stopped: false });
  });

  it("gives back the held text when the generation ends without a stop string", () => {
    const scanner = new StopScanner(["END"]);
    expect(scanner.push("the EN")).toEqual({ text: "the ", stopped: false });
    expect(scanner.flush()).toBe("EN");
  });

  it("stops at the earliest of several stop strings", () => {
    const scanner = new StopScanner(["cd", "b"]);
    expect(scanner.push("abcd")).toEqual({ text: "a", stopped: true });
  });

  it("passes everything through when there are no stop strings", () => {
    const scanner = new StopScanner([]);
    expect(scanner.push("a<")).toEqual({ text: "a<", stopped: false });
    expect(scanner.flush()).toBe("");
  });
});
