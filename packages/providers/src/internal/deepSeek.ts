/**
 * DeepSeek's flavour of the chat-completions wire format: `max_tokens`, JSON
 * mode for structured output, prefix completion for a prefill, usage with
 * cache hits in `prompt_cache_hit_tokens`, `[DONE]` required at the end of a
 * stream. The one codec `DeepSeek.layer` and the tests use.
 */
import type { TokenCounts } from "@baton/core/TokenUsage"
import * as Json from "./json.ts"
import * as OpenAiChat from "./openAiChat.ts"

/** DeepSeek's usage fields (`DeepSeek.usage`). */
export const usage = (usage: Json.JsonObject): TokenCounts | undefined => {
  const counts = OpenAiChat.openAiUsage(usage)
  return counts === undefined
    ? undefined
    : { ...counts, cachedPromptTokens: Json.count(usage.prompt_cache_hit_tokens) ?? counts.cachedPromptTokens }
}

export const codec = OpenAiChat.make({
  maxTokensField: "max_tokens",
  structured: "json-object",
  prefill: "prefix",
  usage,
  requireDone: true
})
