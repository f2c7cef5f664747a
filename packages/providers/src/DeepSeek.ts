/**
 * DeepSeek (`https://api.deepseek.com`), over the shared chat-completions
 * codec.
 *
 * What differs from OpenAI:
 *
 * - `max_tokens`, and usage with cache hits in `prompt_cache_hit_tokens`
 *   (`prompt_tokens` already includes them; without it, as from a proxy,
 *   OpenAI's `prompt_tokens_details.cached_tokens`) and reasoning tokens in
 *   `completion_tokens_details.reasoning_tokens` (part of
 *   `completion_tokens`).
 * - Structured output has no JSON Schema mode: Baton sends `response_format:
 *   { type: "json_object" }` and puts the schema, with the word "json", in a
 *   system message. DeepSeek may answer blank content when it failed to
 *   produce JSON: that is a retryable `MalformedResponse`; an answer that does
 *   not match the schema is `StructuredOutputInvalid`.
 * - `responseFormat: "json"` is `json_object` too, with
 *   `StructuredOutput.jsonInstruction` in a system message unless a message
 *   already says "json"; a blank answer to it is a retryable
 *   `MalformedResponse` as well, plain or streamed (a JSON stream's leading
 *   whitespace is held back, so a blank one fails before any delta).
 * - A final assistant message is sent with `prefix: true` (chat prefix
 *   completion), so the model continues it. DeepSeek serves prefix completion
 *   only on its beta endpoint, so on `api.deepseek.com` outside `/beta` (the
 *   default base URL) the layer says it has no prefill and `LlmManager`
 *   rescues a cut stream by restarting it, never by a continuation the
 *   endpoint may not honour. Set the base URL to
 *   `https://api.deepseek.com/beta` to have cut streams continued; any other
 *   host (a proxy, a mock) is taken to serve it, and `assistantPrefill` in the
 *   options overrides both.
 * - A 402 ("Insufficient Balance") is `ProviderQuotaExhausted`.
 * - Thinking mode is on by default on DeepSeek's current models (the default
 *   `deepseek-flash`, `deepseek-v4-pro`; the legacy `deepseek-chat` alias did
 *   not think): each answer is preceded by reasoning (`reasoning_content`),
 *   which is never handed on as text, counts as the stream's first token for
 *   the watchdog, and is billed as output, with its count in
 *   `usage.reasoningTokens`. `temperature` is ignored in that mode, and
 *   DeepSeek's docs count the chain of thought in `max_tokens`: a small
 *   `maxTokens` can leave an empty answer with finish reason `length`.
 * - The `reasoning` option sets thinking mode, for every model:
 *
 *   | level | sent |
 *   | --- | --- |
 *   | left out | nothing: the model's default (thinking, at DeepSeek's default effort `high`) |
 *   | `"none"` | `thinking: { type: "disabled" }`: an answer without reasoning, none billed |
 *   | `"low"` | `thinking: { type: "enabled" }`, `reasoning_effort: "low"` |
 *   | `"medium"` | `thinking: { type: "enabled" }`, `reasoning_effort: "medium"` (DeepSeek's `high`) |
 *   | `"high"` | `thinking: { type: "enabled" }`, `reasoning_effort: "high"` |
 *
 *   The level is sent as given and DeepSeek maps it to its own efforts
 *   (`low`, `high`, `max`); nothing else in the body changes (the
 *   `reasoning_content` below is sent whatever the level).
 * - Thinking mode (DeepSeek's default) answers 400 when an assistant message
 *   of a turn that called tools (between two user messages; the final answer
 *   after the results too) comes back without its `reasoning_content`: the
 *   reasoning of an answer that calls tools is kept in its first call's
 *   `replay` (raw chain of thought: strip `replay` before showing a result to
 *   anyone who must not read it) and sent back with the message. Every other
 *   assistant message is sent an empty one (calls another provider made or
 *   the caller wrote; a text answer, whose reasoning Baton does not keep).
 *   DeepSeek documents no value for a reasoning that is lost: the empty
 *   string is what third-party clients send in its place (its docs say only
 *   that the field is ignored where it is not needed).
 *
 * @example
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import * as Pricing from "@baton/core/Pricing"
 * import * as DeepSeek from "@baton/providers/DeepSeek"
 * import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
 *
 * const DeepSeekLive = DeepSeek.layer({ apiKey: Redacted.make("sk-...") }).pipe(
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
import type { TokenCounts } from "@baton/core/TokenUsage"
import type { Effect, Layer } from "effect"
import type { HttpClient } from "effect/http"
import * as DeepSeekCodec from "./internal/deepSeek.ts"
import type * as Json from "./internal/json.ts"
import * as Provider from "./internal/provider.ts"

/**
 * Options of the DeepSeek layer: `apiKey` (required), `model`
 * (default `deepseek-flash`), `baseUrl`, `timeoutMs` (default 30 000).
 *
 * @since 0.1.0
 */
export type Options = Provider.Options

/**
 * DeepSeek's usage fields: cache hits from `prompt_cache_hit_tokens`, else
 * from OpenAI's `prompt_tokens_details.cached_tokens` (DeepSeek models served
 * through an OpenAI-shaped proxy).
 *
 * @since 0.1.0
 */
export const usage: (usage: Json.JsonObject) => TokenCounts | undefined = DeepSeekCodec.usage

/**
 * What DeepSeek can do: prefill (prefix completion, on its beta endpoint:
 * see {@link prefillAt}), usage at the end of streams, structured output
 * through JSON mode; a plain call's headers come at once (then blank lines
 * while it works), so the first-byte limit applies to it.
 *
 * @since 0.1.0
 */
export const capabilities: LlmProvider.Capabilities = {
  assistantPrefill: true,
  streamUsage: true,
  structuredOutput: "json-mode",
  stopsThinking: DeepSeekCodec.stopsThinking,
  headersBeforeAnswer: true
}

/**
 * Whether the DeepSeek endpoint at `baseUrl` continues a final assistant
 * message: DeepSeek's own host only under `/beta`; any other host (a proxy,
 * a mock server) is taken to.
 *
 * @since 0.1.0
 */
export const prefillAt = (baseUrl: URL): boolean =>
  baseUrl.hostname.toLowerCase() !== "api.deepseek.com" || /^\/beta(?:\/|$)/.test(baseUrl.pathname)

const definition: Provider.Definition = {
  name: "deepseek",
  defaultModel: "deepseek-flash",
  defaultBaseUrl: "https://api.deepseek.com",
  capabilities,
  prefillAt,
  codec: DeepSeekCodec.codec
}

/**
 * The DeepSeek provider service.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Provider.make(definition, options)

/**
 * A layer providing `LlmProvider` backed by DeepSeek.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<LlmProvider.LlmProvider, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Provider.layer(definition, options)

/**
 * The DeepSeek layer configured by `LlmConfig` (`DEEPSEEK_API_KEY`,
 * `DEEPSEEK_MODEL`, `DEEPSEEK_BASE_URL`, `LLM_ATTEMPT_TIMEOUT_MS`). Fails with
 * an `LlmConfigError` naming `DEEPSEEK_API_KEY` when the key is absent.
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<
  LlmProvider.LlmProvider,
  LlmConfigError,
  HttpClient.HttpClient | Pricing.Pricing | LlmConfig.LlmConfig
> = Provider.layerConfig("deepseek", definition)
