// What is sent to the model for an item: its question, and for a multiple-choice item with `choices` the
// options rendered as "A. …" lines and an instruction to answer with the letter — appended to the last user
// message of a chat, or to a plain prompt ending in "Answer:" as MMLU-style completions do.

import type { ChatMessage } from "../manifest/manifest-schema";
import { CHOICE_LETTERS } from "./choice-answer";
import type { EvalPrompt, SuiteItem } from "./suite-item";

export function renderPrompt(item: SuiteItem): EvalPrompt {
  if (item.scorer !== "choice" || !item.choices) return item.question;
  const options = item.choices.map((choice, i) => `${CHOICE_LETTERS[i]}. ${choice}`).join("\n");
  if ("prompt" in item.question) return { prompt: `${item.question.prompt}\n\n${options}\nAnswer:` };
  const letters = CHOICE_LETTERS.slice(0, item.choices.length).split("");
  const instruction = `Answer with the letter of the correct option (${letters.slice(0, -1).join(", ")} or ${letters.at(-1)}).`;
  return { messages: appendToLastUserMessage(item.question.messages, `\n\n${options}\n\n${instruction}`) };
}

function appendToLastUserMessage(messages: readonly ChatMessage[], text: string): ChatMessage[] {
  const last = messages.findLastIndex((m) => m.role === "user");
  if (last < 0) return [...messages, { role: "user", content: text.trimStart() }];
  return messages.map((m, i) => (i === last ? { ...m, content: `${m.content}${text}` } : m));
}
