// An error the local llama.cpp server answers with, in the OpenAI API's shape, so OpenAI clients show it as
// they show OpenAI's own: `{"error": {"message", "type", "param", "code"}}` with a 4xx/5xx status.

export interface OpenAiErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: string;
    readonly param: string | null;
    readonly code: string | null;
  };
}

export class OpenAiError extends Error {
  override readonly name = "OpenAiError";

  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: string = status >= 500 ? "server_error" : "invalid_request_error",
  ) {
    super(message);
  }

  toBody(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
