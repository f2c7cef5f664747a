/**
 * OpenAI's flavour of the chat-completions wire format: `max_completion_tokens`,
 * JSON Schema structured output, a prefill sent as a plain assistant message,
 * `[DONE]` required at the end of a stream, no temperature for the models
 * that take only their default. The one codec `OpenAi.layer` and the tests use.
 */
import * as OpenAiChat from "./openAiChat.ts"

/**
 * Whether an OpenAI model takes only its default temperature (1, any other is
 * a 400 `unsupported_value`): the o-series (`o1`, `o3-mini`, `o4-mini`, ...)
 * and gpt-5 and later (`gpt-5`, `gpt-5-mini`, `gpt-5.6-luna`, `gpt-6-sol`,
 * dated ones such as `gpt-5-2025-08-07`), but for the non-reasoning
 * `gpt-N-chat` models (`gpt-5-chat-latest`), as the Vercel AI SDK does; a
 * fine-tuned model (`ft:o4-mini:org::id`) as its base model.
 */
export const onlyDefaultTemperature = (model: string): boolean => {
  const base = model.startsWith("ft:") ? model.slice(3) : model
  return /^(?:o\d+|gpt-(?:[5-9]|[1-9]\d+)(?:\.\d+)?)(?:-|$)/.test(base) && !/^gpt-\d+-chat/.test(base)
}

export const codec = OpenAiChat.make({
  maxTokensField: "max_completion_tokens",
  structured: "json-schema",
  prefill: "plain",
  usage: OpenAiChat.openAiUsage,
  requireDone: true,
  onlyDefaultTemperature
})
