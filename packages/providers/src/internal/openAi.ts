/**
 * OpenAI's flavour of the chat-completions wire format: `max_completion_tokens`,
 * JSON Schema structured output, a prefill sent as a plain assistant message,
 * `[DONE]` required at the end of a stream, no temperature for the models
 * that take only their default, no stop sequences for the models that reject
 * them (the adapter cuts their answers at them). The one codec `OpenAi.layer`
 * and the tests use.
 */
import * as OpenAiChat from "./openAiChat.ts"

/** The model a fine-tuned one (`ft:o4-mini:org::id`) was tuned from; any other as it is. */
const baseModel = (model: string): string => model.startsWith("ft:") ? model.slice(3) : model

/**
 * Whether an OpenAI model takes only its default temperature (1, any other is
 * a 400 `unsupported_value`): the o-series (`o1`, `o3-mini`, `o4-mini`, ...)
 * and gpt-5 and later (`gpt-5`, `gpt-5-mini`, `gpt-5.6-luna`, `gpt-6-sol`,
 * dated ones such as `gpt-5-2025-08-07`), but for the non-reasoning
 * `gpt-N-chat` models (`gpt-5-chat-latest`), as the Vercel AI SDK does; a
 * fine-tuned model (`ft:o4-mini:org::id`) as its base model.
 */
export const onlyDefaultTemperature = (model: string): boolean => {
  const base = baseModel(model)
  return /^(?:o\d+|gpt-(?:[5-9]|[1-9]\d+)(?:\.\d+)?)(?:-|$)/.test(base) && !/^gpt-\d+-chat/.test(base)
}

/**
 * Whether an OpenAI model rejects `stop` (a 400 `unsupported_parameter`), so
 * none is sent, as no temperature is to the models that take only their
 * default, and the adapter applies the stop sequences itself: `o3` (dated, `o3-pro`; not `o3-mini`, which takes it), `o4-mini`
 * (OpenAI's reference: "not supported with latest reasoning models o3 and
 * o4-mini") and the gpt-5 family, dotted ones included (`gpt-5`,
 * `gpt-5-mini`, `gpt-5-nano`, dated, `gpt-5.1`, `gpt-5.2`, `gpt-5.4-mini`;
 * not `gpt-5-chat-latest`), which answers `stop` with the same 400 (reported
 * for gpt-5, gpt-5-mini, gpt-5.1 and gpt-5.2). A fine-tuned model as its base
 * model. The other models, `o1` and `gpt-6` among them, are sent the
 * request's stop sequences.
 */
export const rejectsStop = (model: string): boolean =>
  /^(?:o3(?!-mini)|o4|gpt-5(?:\.\d+)?(?!-chat))(?:-|$)/.test(baseModel(model))

export const codec = OpenAiChat.make({
  maxTokensField: "max_completion_tokens",
  structured: "json-schema",
  prefill: "plain",
  usage: OpenAiChat.openAiUsage,
  requireDone: true,
  onlyDefaultTemperature,
  rejectsStop
})
