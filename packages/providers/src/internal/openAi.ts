/**
 * OpenAI's flavour of the chat-completions wire format: `max_completion_tokens`,
 * JSON Schema structured output, a prefill sent as a plain assistant message,
 * `[DONE]` (or the usage chunk after the finish) required at the end of a
 * stream, no temperature for the models
 * that take only their default, no stop sequences for the models that reject
 * them (the adapter cuts their answers at them), a `reasoning` level as the
 * `reasoning_effort` each model family takes (none to a model that does not
 * reason). The one codec `OpenAi.layer` and the tests use.
 */
import type { Reasoning } from "@baton/core/GenerationOptions"
import type * as Json from "./json.ts"
import * as OpenAiChat from "./openAiChat.ts"

/**
 * The model a fine-tuned one (`ft:o4-mini:org::id`, `ft:gpt-5.1:org::id`) was
 * tuned from: the name between `ft:` and the next `:`; any other as it is.
 */
const baseModel = (model: string): string => model.startsWith("ft:") ? model.slice(3).replace(/:.*/s, "") : model

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

/**
 * The reasoning models whose `reasoning_effort` is not the level as given,
 * each with its rule; the first whose pattern matches the base model wins.
 * `o1-mini` and `o1-preview` take no `reasoning_effort` at all.
 */
const effortRules: ReadonlyArray<readonly [RegExp, (level: Reasoning) => string | undefined]> = [
  [/^o1-(?:mini|preview)(?:-|$)/, () => undefined],
  [/^gpt-5-pro(?:-|$)/, () => "high"],
  [/^gpt-\d+\.\d+-chat(?:-|$)/, () => "medium"],
  [/^o\d+(?:-|$)/, (level) => level === "none" ? "low" : level],
  [/^gpt-5(?:-|$)/, (level) => level === "none" ? "minimal" : level]
]

/**
 * The `reasoning_effort` an OpenAI model is sent for a reasoning level, or
 * `undefined` for a model that takes none (any other value is a 400
 * `unsupported_value`; the field, on a model that does not reason, a 400
 * `unsupported_parameter`):
 *
 * - Models that do not reason (`gpt-4o`, `gpt-4.1`, `gpt-5-chat-latest`, any
 *   that takes a temperature, see {@link onlyDefaultTemperature}) and
 *   `o1-mini`, `o1-preview`: none.
 * - The o-series (`o1`, `o3`, `o3-mini`, `o4-mini`, dated): the level, but
 *   `"none"` is `"low"` (their least; they cannot answer without thinking).
 * - gpt-5, gpt-5-mini, gpt-5-nano (dated): the level, but `"none"` is
 *   `"minimal"`.
 * - gpt-5-pro: always `"high"`, the only effort it takes.
 * - The gpt-5.x chat models (`gpt-5.1-chat-latest`): always `"medium"`, the
 *   only effort they take.
 * - gpt-5.1 and later (`gpt-5.4-mini`, `gpt-6-sol`): the level as given,
 *   `"none"` included.
 *
 * A fine-tuned model as its base model.
 */
export const reasoningEffort = (model: string, level: Reasoning): string | undefined => {
  if (!onlyDefaultTemperature(model)) return undefined
  const base = baseModel(model)
  const rule = effortRules.find(([pattern]) => pattern.test(base))
  return rule === undefined ? level : rule[1](level)
}

/**
 * Whether `"none"` turns a model's thinking off: it is sent
 * `reasoning_effort: "none"` (gpt-5.1 and later; the o-series and gpt-5
 * still think at their least).
 */
export const stopsThinking = (model: string): boolean => reasoningEffort(model, "none") === "none"

/** OpenAI's field for a reasoning level: {@link reasoningEffort}, none where it gives none. */
const reasoning = (model: string, level: Reasoning): Json.JsonObject | undefined => {
  const effort = reasoningEffort(model, level)
  return effort === undefined ? undefined : { reasoning_effort: effort }
}

export const codec = OpenAiChat.make({
  maxTokensField: "max_completion_tokens",
  structured: "json-schema",
  prefill: "plain",
  usage: OpenAiChat.openAiUsage,
  requireDone: true,
  onlyDefaultTemperature,
  rejectsStop,
  reasoning
})
