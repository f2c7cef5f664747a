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
 * - Prompt tokens are `input_tokens + cache_read_input_tokens +
 *   cache_creation_input_tokens` (`input_tokens` alone is the uncached part);
 *   cached prompt tokens are the cache reads.
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
 * output.
 *
 * @since 0.1.0
 */
export const capabilities: LlmProvider.Capabilities = {
  assistantPrefill: true,
  streamUsage: true,
  structuredOutput: "json-schema"
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
