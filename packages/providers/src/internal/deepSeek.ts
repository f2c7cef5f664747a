/**
 * DeepSeek's flavour of the chat-completions wire format: `max_tokens`, JSON
 * mode for structured output, prefix completion for a prefill, usage with
 * cache hits in `prompt_cache_hit_tokens`, `[DONE]` required at the end of a
 * stream, and a `reasoning_content` on every assistant message but a
 * prefill (a call's own reasoning, else `""`): in thinking mode, on by default, DeepSeek answers
 * 400 ("Missing `reasoning_content` field") when one is missing on any
 * assistant message between two user messages where the model called a
 * tool, the answer after the results included, and ignores it elsewhere. The
 * one codec `DeepSeek.layer` and the tests use.
 */
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

export const codec: Codec = OpenAiChat.make({
  maxTokensField: "max_tokens",
  structured: "json-object",
  prefill: "prefix",
  usage,
  requireDone: true,
  reasoningOnEveryAnswer: true
})
