// The model the local llama.cpp server serves: node-llama-cpp loaded once per process on the CPU with an
// explicit thread count, one context, and the model's own chat template (node-llama-cpp picks its chat
// wrapper from `tokenizer.chat_template`). It turns requests into prompt tokens, checks them against the
// context, and runs generations one at a time.
//
// One at a time, in arrival order, on a single context sequence: on the CPU a generation already keeps the
// configured threads busy, so parallel sequences would mostly split the same cores while multiplying the KV
// cache memory; and a lone sequence keeps answers reproducible (the same prompt and seed give the same
// tokens, whatever else is in flight). Waiting requests are measured honestly by clients as queueing time.

import {
  type ChatHistoryItem,
  type ChatWrapper,
  getLlama,
  type LlamaContextSequence,
  LlamaLogLevel,
  type LlamaModel,
  type LlamaText,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import { type GenerationInput, type GenerationResult, generate } from "./generation";
import { OpenAiError } from "./openai-error";
import type { ChatMessage, Sampling } from "./openai-requests";

interface LoadOptions {
  readonly modelPath: string;
  readonly threads: number;
  /** Tokens of context; absent or more than the model was trained for: as many as it was trained for. */
  readonly contextSize?: number;
  /** Where llama.cpp's own warnings and errors go (the server's stderr). */
  readonly log: (line: string) => void;
}

/** A request's prompt as the model sees it, with what ends its answer. */
export interface Prompt {
  readonly tokens: readonly Token[];
  /** The request field the prompt came from, named in errors. */
  readonly param: "messages" | "prompt";
  readonly stopStrings: readonly string[];
  readonly stopTokens: ReadonlySet<Token>;
}

interface GenerationRequest {
  readonly maxTokens?: number;
  readonly sampling: Sampling;
  readonly stop: readonly string[];
}

interface RunCallbacks {
  /** The request's turn has come: generation starts now. */
  readonly onStart?: () => void;
  readonly onText: (piece: string) => void;
  /** Aborted (the client went away): the request is skipped or its generation cut short. */
  readonly signal: AbortSignal;
}

export class LoadedModel {
  private queue: Promise<void> = Promise.resolve();
  private waiting = 0;
  private running = 0;

  private constructor(
    private readonly model: LlamaModel,
    private readonly sequence: LlamaContextSequence,
    private readonly chatWrapper: ChatWrapper,
    readonly contextSize: number,
  ) {}

  static async load(options: LoadOptions): Promise<LoadedModel> {
    const llama = await getLlama({
      gpu: false,
      build: "never",
      progressLogs: false,
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => options.log(`llama.cpp ${level}: ${message.trimEnd()}`),
    });
    try {
      const model = await llama.loadModel({ modelPath: options.modelPath });
      const trained = model.trainContextSize;
      const asked = options.contextSize ?? trained;
      const contextSize = trained > 0 ? Math.min(asked, trained) : asked;
      if (contextSize < asked) {
        options.log(
          `a context of ${asked} tokens is more than the model was trained for: using ${contextSize}`,
        );
      }
      const context = await model.createContext({ contextSize, threads: options.threads, sequences: 1 });
      return new LoadedModel(model, context.getSequence(), resolveChatWrapper(model), context.contextSize);
    } catch (error) {
      await llama.dispose();
      throw error;
    }
  }

  /** The messages rendered through the model's chat template, ending where the assistant's answer starts. */
  chatPrompt(messages: readonly ChatMessage[]): Prompt {
    const history: ChatHistoryItem[] = messages.map((message) =>
      message.role === "assistant"
        ? { type: "model", response: [message.content] }
        : { type: message.role, text: message.content },
    );
    // A trailing assistant message is continued (a prefill), as llama.cpp's own server does.
    if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
    let state;
    try {
      state = this.chatWrapper.generateContextState({ chatHistory: history });
    } catch (error) {
      throw new OpenAiError(
        400,
        `The model's chat template cannot render these messages: ${(error as Error).message}`,
        "messages",
        "invalid_value",
      );
    }
    const stopStrings: string[] = [];
    const stopTokens = new Set<Token>();
    for (const trigger of state.stopGenerationTriggers) this.addStopTrigger(trigger, stopStrings, stopTokens);
    return {
      tokens: state.contextText.tokenize(this.model.tokenizer),
      param: "messages",
      stopStrings,
      stopTokens,
    };
  }

  /** A raw prompt; special-token text in it (`<|im_start|>`) is read as those tokens, as llama.cpp does. */
  textPrompt(prompt: string): Prompt {
    const bos = this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null;
    const tokens = this.model.tokenize(prompt, true, bos === null ? undefined : "trimLeadingSpace");
    const withBos = bos !== null && tokens[0] !== bos ? [bos, ...tokens] : tokens;
    if (withBos.length === 0) {
      throw new OpenAiError(400, "`prompt` is empty: give the model some text to continue.", "prompt");
    }
    return { tokens: withBos, param: "prompt", stopStrings: [], stopTokens: new Set() };
  }

  /** What to generate: the prompt must leave room in the context for the tokens asked for (at least one). */
  plan(prompt: Prompt, request: GenerationRequest): GenerationInput {
    const promptTokens = prompt.tokens.length;
    const room = this.contextSize - promptTokens;
    if (room < 1) {
      throw new OpenAiError(
        400,
        `The prompt is ${promptTokens} tokens, and this server's context is ${this.contextSize} tokens, which must ` +
          `also hold at least one generated token. Shorten the prompt to at most ${this.contextSize - 1} tokens, ` +
          `or serve the model with a larger context (serving.maxModelLen).`,
        prompt.param,
        "context_length_exceeded",
      );
    }
    if (request.maxTokens !== undefined && request.maxTokens > room) {
      throw new OpenAiError(
        400,
        `The prompt is ${promptTokens} tokens and ${request.maxTokens} more were asked for, ` +
          `${promptTokens + request.maxTokens} in all, over this server's context of ${this.contextSize} tokens. ` +
          `Ask for at most ${room} tokens, or shorten the prompt.`,
        "max_tokens",
        "context_length_exceeded",
      );
    }
    return {
      promptTokens: prompt.tokens,
      maxTokens: request.maxTokens ?? room,
      sampling: request.sampling,
      stopStrings: [...prompt.stopStrings, ...request.stop],
      stopTokens: prompt.stopTokens,
    };
  }

  /** Requests waiting for their turn, and generating now (vLLM's num_requests_waiting and _running). */
  get load(): { readonly waiting: number; readonly running: number } {
    return { waiting: this.waiting, running: this.running };
  }

  /** Generates when the request's turn comes; undefined when it was aborted before then. */
  async run(input: GenerationInput, callbacks: RunCallbacks): Promise<GenerationResult | undefined> {
    const previous = this.queue;
    let done!: () => void;
    this.queue = new Promise((resolve) => (done = resolve));
    this.waiting++;
    let started = false;
    try {
      await previous;
      this.waiting--;
      started = true;
      if (callbacks.signal.aborted) return undefined;
      this.running++;
      try {
        callbacks.onStart?.();
        return await generate(this.sequence, input, callbacks.onText, callbacks.signal);
      } finally {
        this.running--;
      }
    } finally {
      if (!started) this.waiting--;
      done();
    }
  }

  /**
   * A chat template's end-of-turn marker: plain text is a stop string; a special token is a stop token.
   * Longer special sequences are left to llama.cpp's end-of-generation tokens, which mark ends of turns.
   */
  private addStopTrigger(trigger: LlamaText, stopStrings: string[], stopTokens: Set<Token>): void {
    if (trigger.values.every((value) => typeof value === "string")) {
      const text = trigger.values.join("");
      if (text !== "") stopStrings.push(text);
      return;
    }
    const tokens = trigger.tokenize(this.model.tokenizer);
    const [only] = tokens;
    if (tokens.length === 1 && only !== undefined) stopTokens.add(only);
  }
}
