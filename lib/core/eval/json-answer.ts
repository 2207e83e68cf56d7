// Decides whether a model's output is JSON, for "answer in JSON" items. Chat models often wrap JSON in a
// Markdown fence (```json … ```), which a caller asking for JSON strips as a matter of course; anything
// else around the JSON (a sentence before it) makes the answer not JSON.

const FENCED = /^\s*```[A-Za-z0-9_-]*[ \t]*\r?\n([\s\S]*?)\r?\n?```\s*$/;

/** The JSON text the output holds (its fence removed), or undefined when it does not parse as JSON. */
export function extractJson(output: string): string | undefined {
  const text = (FENCED.exec(output)?.[1] ?? output).trim();
  if (text === "") return undefined;
  try {
    JSON.parse(text);
    return text;
  } catch {
    return undefined;
  }
}
