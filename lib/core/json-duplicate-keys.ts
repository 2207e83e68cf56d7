// Finds keys that appear twice in one JSON object. JSON.parse silently keeps the last one, so a manifest
// saying `"bakeSeconds": 60` and later `"bakeSeconds": 6000` would pass with a value the user may not mean.

export interface DuplicateJsonKey {
  readonly key: string;
  /** The path of the object holding it, e.g. `["rollout", "alarms"]`. */
  readonly path: readonly (string | number)[];
  /** 1-based position of the second occurrence. */
  readonly line: number;
  readonly column: number;
}

interface OpenContainer {
  readonly kind: "object" | "array";
  readonly keys: Set<string>;
  /** The key (object) or index (array) of the value being read. */
  member: string | number;
  expectingKey: boolean;
}

/**
 * Every repeated key in `text`, which must already be valid JSON (JSON.parse accepted it). Iterative, so
 * deeply nested input cannot overflow the stack.
 */
export function findDuplicateJsonKeys(text: string): DuplicateJsonKey[] {
  const duplicates: DuplicateJsonKey[] = [];
  const open: OpenContainer[] = [];
  let line = 1;
  let lineStart = 0;

  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "\n") {
      line += 1;
      lineStart = i + 1;
    } else if (char === "{" || char === "[") {
      open.push({
        kind: char === "{" ? "object" : "array",
        keys: new Set(),
        member: 0,
        expectingKey: char === "{",
      });
    } else if (char === "}" || char === "]") {
      open.pop();
    } else if (char === ",") {
      const container = open.at(-1);
      if (container?.kind === "object") container.expectingKey = true;
      else if (container) container.member = (container.member as number) + 1;
    } else if (char === '"') {
      const end = endOfString(text, i);
      const container = open.at(-1);
      if (container?.kind === "object" && container.expectingKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (container.keys.has(key)) {
          // The open containers' current members are the path to this one.
          const path = open.slice(0, -1).map((c) => c.member);
          duplicates.push({ key, path, line, column: i - lineStart + 1 });
        }
        container.keys.add(key);
        container.member = key;
        container.expectingKey = false;
      }
      i = end;
    }
  }
  return duplicates;
}

/** Index of the closing quote of the string starting at `start`. */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i += 1;
    else if (text[i] === '"') return i;
  }
  return text.length - 1;
}
