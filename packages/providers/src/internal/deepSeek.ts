/**
 * DeepSeek's flavour of the chat-completions wire format: `max_tokens`, JSON
 * mode for structured output, prefix completion for a prefill, usage with
 * cache hits in `prompt_cache_hit_tokens`, `[DONE]` (or the usage chunk
 * after the finish) required at the end of a stream, and a
 * `reasoning_content` on every assistant message but a prefill (a call's
 * own reasoning, else `""`): in thinking mode, on by default, DeepSeek answers
 * 400 ("Missing `reasoning_content` field") when one is missing on any
 * assistant message between two user messages where the model called a
 * tool, the answer after the results included, and ignores it elsewhere; and
 * a `reasoning` level as thinking mode and its effort ({@link reasoning}). The
 * one codec `DeepSeek.layer` and the tests use.
 */
import type { Reasoning } from "@baton/core/GenerationOptions"
import type { TokenCounts } from "@baton/core/TokenUsage"
import type { Codec } from "./adapter.ts"
import * as Json from "./json.ts"
import * as OpenAiChat from "./openAiChat.ts"

/** DeepSeek's usage fields (`DeepSeek.usage`). */
export const usage = (usage: Json.JsonObject): TokenCounts | undefined => {
  const counts = OpenAiChat.openAiUsage(usage)
  return counts === undefined
    ? undefined
    : { ...counts, cachedPromptTokens: Json.count(usage.prompt_cache_hit_tokens) ?? counts.cachedPromptTokens }
}

/**
 * DeepSeek's fields for a reasoning level, whatever the model: `"none"` turns
 * thinking mode off (`thinking: { type: "disabled" }`); any other turns it on
 * with `reasoning_effort` at the level as given, which DeepSeek maps to its
 * own (`low` to low, `medium` and `high` to high).
 */
export const reasoning = (_model: string, level: Reasoning): Json.JsonObject =>
  level === "none"
    ? { thinking: { type: "disabled" } }
    : { thinking: { type: "enabled" }, reasoning_effort: level }

/**
 * Whether `"none"` turns a model's thinking off: DeepSeek's V4 models
 * (`deepseek-flash`, `deepseek-v4-pro`) switch thinking mode; R1 and the
 * retired reasoner think whatever they are sent.
 */
export const stopsThinking = (model: string): boolean => /^deepseek-(?:flash|v4)(?:-|$)/i.test(model)

export const codec: Codec = OpenAiChat.make({
  maxTokensField: "max_tokens",
  structured: "json-object",
  prefill: "prefix",
  usage,
  requireDone: true,
  reasoning,
  reasoningOnEveryAnswer: true
})
