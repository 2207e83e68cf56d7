// The built-in `sanity` suite every rollout runs, written for this project: small arithmetic, following a
// format ("answer in JSON", "reply with exactly the word …") and multiple choice with obvious answers. Any
// working chat model gets nearly all of it right; a model that is broken in a way the smoke test misses
// (a wrong chat template, scrambled weights, a tokenizer mismatch) does not. Its items go through the same
// checks as a suite file's.

import { checkSuiteItem, type SuiteItem, type SuiteLine } from "./suite-item";

export const SANITY_SUITE_NAME = "sanity";

const ask = (content: string) => [{ role: "user" as const, content }];

const lines: readonly SuiteLine[] = [
  // Arithmetic: the last number in the answer is read (GSM8K "flexible"), or "#### <n>" where asked for.
  {
    id: "arith-add",
    messages: ask("What is 17 + 25? Reply with the number only."),
    answer: 42,
    scorer: "numeric",
  },
  {
    id: "arith-multiply",
    messages: ask("What is 9 times 8? Reply with the number only."),
    answer: 72,
    scorer: "numeric",
  },
  {
    id: "arith-subtract",
    messages: ask("What is 100 minus 37? Reply with the number only."),
    answer: 63,
    scorer: "numeric",
  },
  {
    id: "arith-divide",
    messages: ask("What is 144 divided by 12? Reply with the number only."),
    answer: 12,
    scorer: "numeric",
  },
  {
    id: "arith-negative",
    messages: ask("What is -8 + 3? Reply with the number only."),
    answer: -5,
    scorer: "numeric",
  },
  {
    id: "arith-power",
    messages: ask("What is 2 to the power of 10? Reply with the number only."),
    answer: 1024,
    scorer: "numeric",
  },
  {
    id: "arith-percent",
    messages: ask("What is 15% of 200? Reply with the number only."),
    answer: 30,
    scorer: "numeric",
  },
  {
    id: "arith-thousands",
    messages: ask("What is 1,000 + 250? Reply with the number only."),
    answer: "1,250",
    scorer: "numeric",
  },
  {
    id: "word-apples",
    messages: ask(
      "Tom has 12 apples and gives 5 of them away. How many apples does he have left? Reply with the number only.",
    ),
    answer: 7,
    scorer: "numeric",
  },
  {
    id: "word-pencils",
    messages: ask(
      "A pencil costs 3 dollars. How many dollars do 7 pencils cost? Reply with the number only.",
    ),
    answer: 21,
    scorer: "numeric",
  },
  {
    id: "word-train",
    messages: ask(
      "A train travels at 60 kilometres per hour for 3 hours. How many kilometres does it travel? Reply with the number only.",
    ),
    answer: 180,
    scorer: "numeric",
  },
  {
    id: "word-eggs-strict",
    messages: ask(
      "Sara buys 4 boxes with 6 eggs in each box. How many eggs does she have? Explain briefly, then write the final answer on its own last line in the form '#### <number>'.",
    ),
    answer: 24,
    scorer: "numeric",
    mode: "strict",
  },
  {
    id: "word-minutes-strict",
    messages: ask(
      "How many minutes are there in 2 hours? Explain briefly, then write the final answer on its own last line in the form '#### <number>'.",
    ),
    answer: 120,
    scorer: "numeric",
    mode: "strict",
  },
  {
    id: "completion-add",
    prompt: "Question: What is 5 + 5?\nAnswer (a number):",
    answer: 10,
    scorer: "numeric",
    maxTokens: 16,
  },

  // Following a format.
  {
    id: "format-word-ok",
    messages: ask("Reply with exactly the word OK and nothing else."),
    answer: "OK",
    scorer: "exact",
  },
  {
    id: "format-word-banana",
    messages: ask("Reply with exactly the word banana, in lowercase, and nothing else."),
    answer: "banana",
    scorer: "exact",
  },
  {
    id: "format-repeat",
    messages: ask("Repeat this text exactly and write nothing else: hello world"),
    answer: "hello world",
    scorer: "exact",
  },
  {
    id: "format-opposite",
    messages: ask("What is the opposite of 'hot'? Reply with one word."),
    answer: "cold",
    scorer: "exact",
  },
  {
    id: "format-backwards",
    messages: ask("Write the word 'cat' backwards, in lowercase, and nothing else."),
    answer: "tac",
    scorer: "exact",
  },
  {
    id: "format-json-object",
    messages: ask(
      'Answer in JSON: an object with the key "city" whose value is the capital of France. Output only the JSON.',
    ),
    scorer: "json-valid",
  },
  {
    id: "format-json-array",
    messages: ask("Output a JSON array of the numbers 1, 2 and 3, and nothing else."),
    scorer: "json-valid",
  },
  {
    id: "format-json-person",
    messages: ask(
      'Output a JSON object with the keys "name" and "age" for a person called Ada who is 36 years old. Output only the JSON.',
    ),
    scorer: "json-valid",
  },
  {
    id: "format-date",
    messages: ask(
      "Write the first day of the year 2000 as a date in the format YYYY-MM-DD, and nothing else.",
    ),
    answer: "^\\s*2000-01-01\\s*$",
    scorer: "regex",
  },
  {
    id: "format-yes",
    messages: ask("Is 7 an odd number? Answer yes or no."),
    answer: "^\\W*(?i:yes)\\b",
    scorer: "regex",
  },
  {
    id: "fact-tokyo",
    messages: ask("What is the capital of Japan? Answer in one word."),
    answer: "Tokyo",
    scorer: "contains",
  },
  {
    id: "fact-jupiter",
    messages: ask("What is the largest planet in our solar system? Answer in one word."),
    answer: "Jupiter",
    scorer: "contains",
  },
  {
    id: "fact-sky",
    messages: ask("What colour is a clear sky in the daytime? Answer in one word."),
    answer: "blue",
    scorer: "contains",
  },
  {
    id: "system-pirate",
    messages: [
      { role: "system", content: "Always end every reply with the word ARRR." },
      { role: "user", content: "Say hello." },
    ],
    answer: "arrr",
    scorer: "contains",
  },

  // Multiple choice with obvious answers, the right letter spread over A–D.
  {
    id: "choice-fruit",
    messages: ask("Which of these is a fruit?"),
    choices: ["Carrot", "Apple", "Potato", "Onion"],
    answer: "B",
    scorer: "choice",
  },
  {
    id: "choice-spider",
    messages: ask("How many legs does a spider have?"),
    choices: ["Eight", "Six", "Ten", "Four"],
    answer: "A",
    scorer: "choice",
  },
  {
    id: "choice-boiling",
    messages: ask("At sea level, at what temperature in degrees Celsius does water boil?"),
    choices: ["50", "150", "100", "200"],
    answer: "C",
    scorer: "choice",
  },
  {
    id: "choice-mercury",
    messages: ask("Which planet is closest to the Sun?"),
    choices: ["Venus", "Earth", "Mars", "Mercury"],
    answer: "D",
    scorer: "choice",
  },
  {
    id: "choice-six",
    messages: ask("What is 3 + 3?"),
    choices: ["5", "6", "7", "8"],
    answer: "B",
    scorer: "choice",
  },
  {
    id: "choice-cow",
    messages: ask("Which animal says 'moo'?"),
    choices: ["Cow", "Cat", "Dog", "Duck"],
    answer: "A",
    scorer: "choice",
  },
  {
    id: "choice-dolphin",
    messages: ask("Which of these animals is a mammal?"),
    choices: ["Shark", "Salmon", "Dolphin", "Octopus"],
    answer: "C",
    scorer: "choice",
  },
  {
    id: "choice-april",
    messages: ask("Which month comes right after March?"),
    choices: ["May", "June", "February", "April"],
    answer: "D",
    scorer: "choice",
  },
  {
    id: "choice-freezing",
    messages: ask("At what temperature in degrees Celsius does water freeze?"),
    choices: ["0", "10", "-10", "100"],
    answer: "A",
    scorer: "choice",
  },
  {
    id: "choice-completion",
    prompt: "Question: Which of these is the colour of grass?",
    choices: ["Red", "Green", "Blue", "Purple"],
    answer: "B",
    scorer: "choice",
    maxTokens: 16,
  },
];

/** The built-in suite's items, checked like a suite file's. */
export const SANITY_SUITE: readonly SuiteItem[] = lines.map((line) => {
  const { item, findings } = checkSuiteItem(line);
  if (!item || findings.length > 0) {
    throw new Error(
      `Sanity suite item ${String(line.id)} does not pass its own checks: ${JSON.stringify(findings)}`,
    );
  }
  return item;
});
