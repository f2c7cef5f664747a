/**
 * Anthropic Messages (`https://api.anthropic.com`, `anthropic-version:
 * 2023-06-01`), over its own codec.
 *
 * - The key travels in `x-api-key`; `max_tokens` is always sent (Anthropic
 *   requires it); system messages become the top-level `system`.
 * - Structured output is native: `output_config: { format: { type:
 *   "json_schema", schema } }` (Claude 4.5 and later).
 * - A final assistant message is a prefill Claude continues. Anthropic
 *   refuses one that ends in whitespace, so it is sent without that
 *   whitespace, and the answer is given without as much of it as the model
 *   repeats at its start: the prefill and the answer join as they would have.
 * - No `temperature` for the models after Opus 4.6 (`claude-opus-4-7`,
 *   `claude-sonnet-5-5`, `claude-haiku-5-5`, dated ids included), whatever
 *   the request asks for: on `2023-06-01` they take only their default, 1,
 *   and answer any other with a 400 (as OpenAI's gpt-5, see `OpenAi`).
 * - `reasoning`: `"none"` is `thinking: { type: "disabled" }`; low, medium
 *   and high are `thinking: { type: "adaptive" }` with `output_config.effort`
 *   the level on Claude 4.6 and later (`claude-sonnet-4-6`, `claude-opus-4-6`,
 *   `claude-sonnet-5-5`, `claude-haiku-5-5`), and `thinking: { type:
 *   "enabled", budget_tokens }` on older thinking models (`claude-haiku-4-5`,
 *   `claude-sonnet-4-5`, `claude-opus-4-1`, Claude 3.7), the budget 1024,
 *   4096 or 16384 kept below `max_tokens`; a name that is no Claude version
 *   (DeepSeek's Anthropic format, `deepseek-v4-pro`) gets `thinking: { type:
 *   "enabled" }` with `output_config.effort` the level, no budget; Claude
 *   before 3.7 is sent nothing. With thinking on no temperature is sent. On
 *   an older model a `maxTokens` of 1024 or less leaves no room for the
 *   least budget: a limit too small to think in is answered without
 *   thinking (`thinking: { type: "disabled" }`, the temperature sent). A
 *   limit left to the provider gets a Claude model's budget on top of 4096.
 *   A prefill (the manager's continuation of
 *   a cut stream) or a forced tool choice, which Anthropic refuses with
 *   thinking, is sent thinking disabled. In a tool loop, the turn's thinking
 *   blocks ride on the first call's `replay` and go back before its
 *   `tool_use` blocks, as Anthropic requires. A replay goes only to the
 *   provider and model that made the call, and thinking cannot be resumed
 *   without it: a tool loop (since the last `user` message) with calls that
 *   have no thinking to send back (another provider's or Claude model's,
 *   after a fallback; the caller's; thinking too long to keep) is sent
 *   thinking disabled, where Anthropic would answer 400; a new question
 *   after it thinks again.
 * - Prompt tokens are `input_tokens + cache_read_input_tokens +
 *   cache_creation_input_tokens` (`input_tokens` alone is the uncached part);
 *   cached prompt tokens are the cache reads. Cache writes are billed at the
 *   plain input rate, below Anthropic's 1.25x (5-minute) or 2x (1-hour): a
 *   known under-estimate, for writes Baton never asks for (it sends no
 *   `cache_control`) but a proxy may, which `LLM_PRICES` cannot correct (see
 *   `@baton/core/Pricing`).
 * - A `refusal` stop reason is `ContentFiltered`; 529 `overloaded_error` is
 *   `ProviderUnavailable`; "credit balance is too low" is
 *   `ProviderQuotaExhausted`.
 *
 * @example
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import * as Pricing from "@baton/core/Pricing"
 * import * as Anthropic from "@baton/providers/Anthropic"
 * import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
 *
 * const AnthropicLive = Anthropic.layer({ apiKey: Redacted.make("sk-ant-...") }).pipe(
 *   Layer.provide([ProviderHttpClient.layer, Pricing.layerDefault])
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as LlmConfig from "@baton/core/LlmConfig"
import type { LlmConfigError } from "@baton/core/LlmError"
import type * as LlmProvider from "@baton/core/LlmProvider"
import type * as Pricing from "@baton/core/Pricing"
import type { Effect, Layer } from "effect"
import type { HttpClient } from "effect/http"
import * as AnthropicCodec from "./internal/anthropic.ts"
import * as Provider from "./internal/provider.ts"

/**
 * Options of the Anthropic layer: `apiKey` (required), `model` (default
 * `claude-haiku-4-5`), `baseUrl`, `timeoutMs` (default 30 000).
 *
 * @since 0.1.0
 */
export type Options = Provider.Options

/**
 * What Anthropic can do: prefill, usage in streams, JSON Schema structured
 * output, thinking turned off by `reasoning: "none"`.
 *
 * @since 0.1.0
 */
export const capabilities: LlmProvider.Capabilities = {
  assistantPrefill: true,
  streamUsage: true,
  structuredOutput: "json-schema",
  stopsThinking: AnthropicCodec.stopsThinking
}

const definition: Provider.Definition = {
  name: "anthropic",
  defaultModel: "claude-haiku-4-5",
  defaultBaseUrl: "https://api.anthropic.com",
  capabilities,
  codec: AnthropicCodec.codec
}

/**
 * The Anthropic provider service.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Provider.make(definition, options)

/**
 * A layer providing `LlmProvider` backed by Anthropic.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<LlmProvider.LlmProvider, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Provider.layer(definition, options)

/**
 * The Anthropic layer configured by `LlmConfig` (`ANTHROPIC_API_KEY`,
 * `ANTHROPIC_MODEL`, `ANTHROPIC_BASE_URL`, `LLM_ATTEMPT_TIMEOUT_MS`). Fails
 * with an `LlmConfigError` naming `ANTHROPIC_API_KEY` when the key is absent.
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<
  LlmProvider.LlmProvider,
  LlmConfigError,
  HttpClient.HttpClient | Pricing.Pricing | LlmConfig.LlmConfig
> = Provider.layerConfig("anthropic", definition)
