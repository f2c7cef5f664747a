/**
 * OpenAI's flavour of the chat-completions wire format: `max_completion_tokens`,
 * JSON Schema structured output, a prefill sent as a plain assistant message,
 * `[DONE]` required at the end of a stream. The one codec `OpenAi.layer` and
 * the tests use.
 */
import * as OpenAiChat from "./openAiChat.ts"

export const codec = OpenAiChat.make({
  maxTokensField: "max_completion_tokens",
  structured: "json-schema",
  prefill: "plain",
  usage: OpenAiChat.openAiUsage,
  requireDone: true
})
