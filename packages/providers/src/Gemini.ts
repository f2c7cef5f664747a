/**
 * Google Gemini (`https://generativelanguage.googleapis.com/v1beta`), over
 * its own `generateContent` codec.
 *
 * - The key travels in the `x-goog-api-key` header (never in the URL, where
 *   logs and span attributes would see it).
 * - Structured output is native: `responseMimeType: "application/json"` with
 *   the schema as `responseJsonSchema` (draft-07's `definitions` moved
 *   under `$defs`, the only place Gemini documents); a recursive schema
 *   whose `$ref` loop runs through required fields only (no optional or
 *   nullable property, no array that may be empty), which Gemini refuses
 *   with a 400, is asked for in the system prompt instead, under JSON mode.
 *   Models before Gemini 3 answer 400 ("Function calling with a response
 *   mime type: 'application/json' is unsupported") to JSON mode beside
 *   function declarations, so there a request with tools (`generate` with
 *   `responseFormat: "json"`, `generateStructured` with `toolChoice:
 *   "none"`) keeps its tools and tool choice and gets no JSON mode: the
 *   system prompt asks for JSON matching the schema, or for
 *   `responseFormat: "json"` for one JSON value
 *   (`StructuredOutput.jsonInstruction`). The model is read from the id the
 *   request goes to: Gemini 3 and later (`gemini-3-flash-preview`,
 *   `gemini-3.5-flash`, ...) take both and get JSON mode; a name Baton cannot
 *   place (a tuned model, `gemini-flash-latest`) is treated as older. The
 *   answer is decoded against the caller's schema either way.
 * - A final assistant message is sent as a trailing `model` turn, which
 *   Gemini continues (prefill).
 * - `reasoning` is `generationConfig.thinkingConfig`: Gemini 2.5 takes a
 *   `thinkingBudget` (`"none"`: 0, thinking off, on Flash and Flash-Lite;
 *   128, the least, on Pro, which cannot turn it off; `"low"` 1024,
 *   `"medium"` 4096, `"high"` 16384), Gemini 3 and later a `thinkingLevel`
 *   (Flash and Flash-Lite: `MINIMAL`, `LOW`, `MEDIUM`, `HIGH`; Pro, which
 *   takes only `LOW` and `HIGH`: `LOW` for `"none"` and `"low"`, `HIGH` for
 *   `"medium"` and `"high"`). Older models (`gemini-2.0-*`, `gemini-1.5-*`),
 *   which do not think, and names Baton cannot place (tuned models,
 *   `gemini-flash-latest`) are sent nothing, as is a request that leaves the
 *   option out. The budget is sent as it is, whatever `maxTokens`: thinking
 *   counts against `maxOutputTokens`, so `"high"` under Baton's default
 *   2000 tokens can spend them all thinking and answer empty (finish reason
 *   `"length"`); ask for more tokens with more thinking.
 * - Input tokens are `promptTokenCount + toolUsePromptTokenCount`, output
 *   tokens `candidatesTokenCount + thoughtsTokenCount`: Gemini reports the
 *   tool-use results in the prompt and thinking apart, but bills them as
 *   input and as output.
 * - A prompt blocked by safety (`promptFeedback.blockReason`) is
 *   `ContentFiltered` at stage `prompt`, its `usage` the prompt tokens
 *   Gemini reported beside the block; a `SAFETY`-like finish reason is
 *   `ContentFiltered` at stage `response`.
 * - A 429 with `RetryInfo` gives `retryAfter`; a 429 whose `QuotaFailure`
 *   names a per-day quota is `ProviderQuotaExhausted` (waiting will not help
 *   today).
 * - Gemini streams have no terminator: the last event carries the finish
 *   reason; a stream that ends without one was cut.
 * - Tools are `functionDeclarations` (parameters as `parametersJsonSchema`),
 *   the tool choice is `toolConfig.functionCallingConfig`; Gemini sends its
 *   calls without ids, so Baton names them `gemini-call-<responseId>-<n>`
 *   and answers each by the tool's name (`functionResponse`). A streamed call
 *   arrives whole: one `ToolCallDelta` per call.
 * - A thinking model signs its calls (`thoughtSignature`), and Gemini 3
 *   answers 400 when a call of the current turn comes back unsigned: the
 *   signature is kept in the call's `replay` and sent back on its part; the
 *   first call of a model turn without one (another provider's, or the
 *   caller's) is sent Google's `skip_thought_signature_validator`.
 * - A model may be named by its resource name, as Google's model list
 *   returns it: `models/gemini-2.5-flash` is `gemini-2.5-flash` (its route,
 *   its price, its name in results, and to `LlmManager` one model: one
 *   circuit, one per-model policy entry, one metric series; see
 *   `LlmProvider.Service.modelId`). A tuned model, `tunedModels/<id>`, goes
 *   to its own route.
 *
 * @example
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import * as Pricing from "@baton/core/Pricing"
 * import * as Gemini from "@baton/providers/Gemini"
 * import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
 *
 * const GeminiLive = Gemini.layer({ apiKey: Redacted.make("AIza...") }).pipe(
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
import * as GeminiCodec from "./internal/gemini.ts"
import * as Provider from "./internal/provider.ts"

/**
 * Options of the Gemini layer: `apiKey` (required), `model` (default
 * `gemini-2.5-flash`), `baseUrl` (including the API version), `timeoutMs`
 * (default 30 000).
 *
 * @since 0.1.0
 */
export type Options = Provider.Options

/**
 * What Gemini can do: prefill, usage in streams, JSON Schema structured
 * output, thinking turned off by `reasoning: "none"` on 2.5 Flash and
 * Flash-Lite.
 *
 * @since 0.1.0
 */
export const capabilities: LlmProvider.Capabilities = {
  assistantPrefill: true,
  streamUsage: true,
  structuredOutput: "json-schema",
  stopsThinking: GeminiCodec.stopsThinking
}

const definition: Provider.Definition = {
  name: "gemini",
  defaultModel: "gemini-2.5-flash",
  defaultBaseUrl: "https://generativelanguage.googleapis.com/v1beta",
  capabilities,
  codec: GeminiCodec.codec
}

/**
 * The Gemini provider service.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Provider.make(definition, options)

/**
 * A layer providing `LlmProvider` backed by Gemini.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<LlmProvider.LlmProvider, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Provider.layer(definition, options)

/**
 * The Gemini layer configured by `LlmConfig` (`GEMINI_API_KEY`,
 * `GEMINI_MODEL`, `GEMINI_BASE_URL`, `LLM_ATTEMPT_TIMEOUT_MS`). Fails with an
 * `LlmConfigError` naming `GEMINI_API_KEY` when the key is absent.
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<
  LlmProvider.LlmProvider,
  LlmConfigError,
  HttpClient.HttpClient | Pricing.Pricing | LlmConfig.LlmConfig
> = Provider.layerConfig("gemini", definition)
