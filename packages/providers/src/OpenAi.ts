/**
 * OpenAI chat completions (`https://api.openai.com/v1`), over the shared
 * chat-completions codec.
 *
 * What is OpenAI's own:
 *
 * - `max_completion_tokens` (`max_tokens` is rejected by gpt-5 and o-series
 *   models).
 * - No `temperature` for the models that take only their default, whatever
 *   the request asks for: gpt-5 and later (`gpt-5-mini`, `gpt-5.6-luna`, ...,
 *   not `gpt-5-chat-latest`) and the o-series (`o1`, `o3-mini`, ...).
 * - No `stop` for the models that reject it (a 400 `unsupported_parameter`):
 *   o3, o4-mini and the gpt-5 family (`gpt-5`, `gpt-5-mini`, `gpt-5-nano`,
 *   `gpt-5.1`, `gpt-5.2`, ...; not `gpt-5-chat-latest`). Their answers are
 *   cut at the request's stop sequences by Baton instead: the text up to, not
 *   including, the one that ends first, finish reason `stop`, without the
 *   tool calls after it, generated or streamed. A stream holds back only an
 *   end of its text that could begin a stop sequence, and finishes as soon
 *   as one ends, closing the connection (the model does not stop by itself):
 *   it is billed the usage OpenAI reported if the chunks already read hold
 *   it, else an estimate (`estimated: true`) of the prompt and the text, as
 *   for any stream stopped early, which cannot count the reasoning these
 *   models do not stream; a plain answer is billed what OpenAI reports for
 *   the whole of it. Other models, `o3-mini` among them, are sent `stop`, and
 *   OpenAI applies it.
 * - The `reasoning` option is `reasoning_effort`, per model family (left out:
 *   nothing is sent, the model's default applies):
 *
 *   | model | `"none"` | `"low"` | `"medium"` | `"high"` |
 *   | --- | --- | --- | --- | --- |
 *   | not reasoning (`gpt-4o`, `gpt-4.1`, `gpt-5-chat-latest`, ...), `o1-mini`, `o1-preview` | nothing | nothing | nothing | nothing |
 *   | o-series (`o1`, `o3`, `o3-mini`, `o4-mini`, dated) | `low` | `low` | `medium` | `high` |
 *   | `gpt-5`, `gpt-5-mini`, `gpt-5-nano` (dated) | `minimal` | `low` | `medium` | `high` |
 *   | gpt-5.1 and later (`gpt-5.1`, `gpt-5.4-mini`, `gpt-6-...`) | `none` | `low` | `medium` | `high` |
 *   | `gpt-5-pro` (dated) | `high` | `high` | `high` | `high` |
 *   | gpt-5.x chat models (`gpt-5.1-chat-latest`) | `medium` | `medium` | `medium` | `medium` |
 *
 *   Each is the value the model takes (OpenAI answers any other with a 400
 *   `unsupported_value`, the field on a model that does not reason with
 *   `unsupported_parameter`); a fine-tuned model as its base model. Nothing
 *   else in the body changes.
 * - Structured output is `response_format: json_schema` in strict mode. The
 *   schema is rewritten to OpenAI's strict subset (every property required,
 *   optional ones nullable, `additionalProperties: false`); `null`s the model
 *   puts in optional properties whose schemas do not take `null` are
 *   removed before the answer is decoded with the caller's schema, so the
 *   caller's types hold. A `null` the caller's schema takes (`type`, `enum`,
 *   `const`, OpenAPI's `nullable: true`) is kept, as every adapter keeps it.
 *   A schema with no strict form (a root that is not an object, an open
 *   object such as a record, a tuple, a field with no type) or past strict
 *   mode's limits (more than 1 000 enum values, 5 000 properties, 10 levels
 *   of objects) is sent as written with `strict: false`, and its answer
 *   decoded as it came.
 * - `responseFormat: "json"` is `response_format: json_object`, which OpenAI
 *   takes only when a message says "json": unless one does, the
 *   `StructuredOutput.jsonInstruction` goes in a system message after the
 *   caller's. A blank answer to it is a retryable `MalformedResponse`.
 * - No assistant prefill: chat completions do not reliably continue a final
 *   assistant message, so `capabilities.assistantPrefill` is `false`.
 * - 429 `insufficient_quota` is `ProviderQuotaExhausted`; other 429s are
 *   `ProviderRateLimited`; `context_length_exceeded` is
 *   `ContextLengthExceeded`.
 *
 * @example
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import * as Pricing from "@baton/core/Pricing"
 * import * as OpenAi from "@baton/providers/OpenAi"
 * import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
 *
 * const OpenAiLive = OpenAi.layer({ apiKey: Redacted.make("sk-..."), model: "gpt-4.1" }).pipe(
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
import * as OpenAiCodec from "./internal/openAi.ts"
import * as Provider from "./internal/provider.ts"

/**
 * Options of the OpenAI layer: `apiKey` (required), `model` (default
 * `gpt-4o-mini`), `baseUrl`, `timeoutMs` (default 30 000).
 *
 * @since 0.1.0
 */
export type Options = Provider.Options

/**
 * What OpenAI can do: no prefill, usage at the end of streams, JSON Schema
 * structured output, thinking turned off by `reasoning: "none"` on gpt-5.1
 * and later.
 *
 * @since 0.1.0
 */
export const capabilities: LlmProvider.Capabilities = {
  assistantPrefill: false,
  streamUsage: true,
  structuredOutput: "json-schema",
  stopsThinking: OpenAiCodec.stopsThinking
}

const definition: Provider.Definition = {
  name: "openai",
  defaultModel: "gpt-4o-mini",
  defaultBaseUrl: "https://api.openai.com/v1",
  capabilities,
  codec: OpenAiCodec.codec
}

/**
 * The OpenAI provider service.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Provider.make(definition, options)

/**
 * A layer providing `LlmProvider` backed by OpenAI.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<LlmProvider.LlmProvider, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Provider.layer(definition, options)

/**
 * The OpenAI layer configured by `LlmConfig` (`OPENAI_API_KEY`,
 * `OPENAI_MODEL`, `OPENAI_BASE_URL`, `LLM_ATTEMPT_TIMEOUT_MS`). Fails with an
 * `LlmConfigError` naming `OPENAI_API_KEY` when the key is absent.
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<
  LlmProvider.LlmProvider,
  LlmConfigError,
  HttpClient.HttpClient | Pricing.Pricing | LlmConfig.LlmConfig
> = Provider.layerConfig("openai", definition)
