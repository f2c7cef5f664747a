/**
 * Any server that speaks OpenAI chat completions: Ollama, vLLM, LM Studio,
 * Groq, OpenRouter, Together, a company proxy. Give it a name (used in logs,
 * metrics, prices and errors), a base URL, a model and, when the server
 * wants one, a key.
 *
 * Defaults suit most servers and can be changed per endpoint:
 *
 * | option | default | why |
 * | --- | --- | --- |
 * | `maxTokensField` | `max_tokens` | the field every compatible server knows |
 * | `structuredOutput` | `json-schema` | `response_format: json_schema` (strict when the schema has a strict form, else `strict: false`, as `OpenAi`); `json-mode` sends `json_object` plus the schema in a system message, for servers without schema support |
 * | `assistantPrefill` | `false` | whether the server continues a final assistant message |
 * | `headers` | none | extra headers (Azure's `api-key`, OpenRouter's `HTTP-Referer`, ...); a `Redacted` value, or one under a credential's name (containing `auth`, `key`, `token`, `secret`, `password`, `cookie` or `credential`), is a secret as `apiKey` is, and so is the credential of its `<scheme> <credential>`; give every credential `Redacted` |
 *
 * From the environment, `LLM_CHAIN` names an endpoint declared with
 * `LLM_COMPAT_<NAME>_BASE_URL` (and `_MODEL`, `_API_KEY`,
 * `_ASSISTANT_PREFILL`; see `@baton/core/LlmConfig`), and `layerConfig`
 * builds it for `LlmManager.layerConfig`, which sets the step it builds:
 * `LlmManager.layerConfig({ "openai-compatible": OpenAiCompatible.layerConfig,
 * ... })`, or `Providers.layersFromConfig`, which includes it.
 *
 * `responseFormat: "json"` sends `response_format: json_object` with
 * `StructuredOutput.jsonInstruction` in a system message, unless a message
 * already says "json" (as OpenAI and DeepSeek demand).
 *
 * A `reasoning` level that asks for thinking (`"low"`, `"medium"`,
 * `"high"`) is sent as `reasoning_effort` with the level as given, for every
 * model: the field vLLM, Ollama, Groq and OpenRouter read, each for its own
 * models. A server that does not know it, or a model that takes no such
 * value (one that does not reason), may ignore it or reject the request (a
 * 400, after which `LlmManager` falls back). `"none"` is sent nothing: most
 * models behind such servers do not reason, and some that do reject
 * `"none"` (Groq's gpt-oss), so a request asking for no thinking (the quiz
 * example's, `baton check --ping`'s) stays valid on every endpoint; such a
 * model thinks as it does by default. Left out, nothing is sent.
 *
 * An error sent with HTTP 200, as an event of the stream or as the whole
 * body (OpenRouter's `{"error":{"code":402,...}}`, vLLM's flat
 * `{"object":"error","message":...,"code":400}`, OpenRouter's `error` on the
 * choice itself), is the error the same body sent with its status is (a
 * prompt over the context window `ContextLengthExceeded`, else
 * `InvalidRequest`, ...): not retried when retrying cannot help.
 * `finish_reason: "error"` (OpenRouter's for a generation that failed
 * mid-way) cuts the answer: retried, then the chain falls back, never served
 * as finished; an `error` object beside it decides first.
 *
 * Streams are complete at `data: [DONE]` or, for servers that omit it, at
 * the end of a body whose last chunk carried a `finish_reason`. Usage is read
 * OpenAI-style, from `usage` or, when that is absent, from `x_groq.usage`
 * (where Groq's stream reports it); a server that reports none is charged
 * with an estimate from the text (four characters a token), labelled
 * `usage.estimated`. Prices
 * come from the `Pricing` table under the endpoint's name (unpriced when the
 * table has no row for it).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as Pricing from "@baton/core/Pricing"
 * import * as OpenAiCompatible from "@baton/providers/OpenAiCompatible"
 * import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
 *
 * const Ollama = OpenAiCompatible.layer({
 *   name: "ollama",
 *   baseUrl: "http://localhost:11434/v1",
 *   model: "llama3.2"
 * }).pipe(Layer.provide([ProviderHttpClient.layer, Pricing.layerDefault]))
 * ```
 *
 * @since 0.1.0
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import { LlmConfigError } from "@baton/core/LlmError"
import * as LlmProvider from "@baton/core/LlmProvider"
import type * as Pricing from "@baton/core/Pricing"
import { Effect, Layer, Option, type Redacted } from "effect"
import type { HttpClient } from "effect/http"
import * as OpenAiChat from "./internal/openAiChat.ts"
import * as Provider from "./internal/provider.ts"

/**
 * Options of an OpenAI-compatible endpoint.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The provider name: lower-case letters, digits, `-`, `_` (`ollama`, `groq`). */
  readonly name: string
  /**
   * The base URL, up to and including the version segment (`http://localhost:11434/v1`); its query
   * (`?api-version=...`) is sent with every request, the value of a parameter named as a credential
   * (`?access_token=`, `?key=`) scrubbed from errors as the key is.
   */
  readonly baseUrl: string
  /** The model used when a request names none. */
  readonly model: string
  /** The key sent as `Authorization: Bearer`; omit it for servers without auth. */
  readonly apiKey?: Redacted.Redacted | undefined
  /** The limit of one attempt, in milliseconds. Default 30 000. */
  readonly timeoutMs?: number | undefined
  /** The largest plain reply body read, in bytes; over it: `MalformedResponse`. Default 16 MiB. */
  readonly maxBodyBytes?: number | undefined
  /** The largest single stream event, in UTF-16 code units; over it: `MalformedResponse`. Default 1 MiB. */
  readonly maxEventBytes?: number | undefined
  /** `max_tokens` (default) or `max_completion_tokens`. */
  readonly maxTokensField?: "max_tokens" | "max_completion_tokens" | undefined
  /** `json-schema` (default) or `json-mode`. */
  readonly structuredOutput?: LlmProvider.Capabilities["structuredOutput"] | undefined
  /** Whether the server continues a final assistant message. Default `false`. */
  readonly assistantPrefill?: boolean | undefined
  /**
   * Extra request headers (Azure's `api-key`, a custom auth header,
   * OpenRouter's `HTTP-Referer`). A value is a secret, as `apiKey` is, when
   * it is `Redacted` or its header's name (in any case) contains `auth`,
   * `key`, `token`, `secret`, `password`, `cookie` or `credential`: kept
   * redacted until it is sent, and scrubbed (when at least 8 characters
   * long) from every error, request-log record, log line and span, where a
   * server that quotes it back would put it; of a `<scheme> <credential>`
   * value (`Token ...`, `Basic ...`) the credential alone is scrubbed too.
   * Other plain values (`HTTP-Referer`, `X-Title`) are not secrets and are
   * never scrubbed. Give every credential as `Redacted`, whatever its
   * header's name. A header named as the key's in any case (`Authorization`,
   * when `apiKey` is given) is dropped: the key's is sent.
   */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted>> | undefined
}

const baseOptionsOf = (options: Options): Provider.EndpointOptions => ({
  apiKey: options.apiKey,
  headers: options.headers,
  timeoutMs: options.timeoutMs,
  maxBodyBytes: options.maxBodyBytes,
  maxEventBytes: options.maxEventBytes
})

const definitionOf = (options: Options): Provider.Definition => {
  const structured = options.structuredOutput ?? "json-schema"
  return {
    name: options.name,
    defaultModel: options.model,
    defaultBaseUrl: options.baseUrl,
    keyOptional: true,
    capabilities: {
      assistantPrefill: options.assistantPrefill ?? false,
      streamUsage: true,
      structuredOutput: structured
    },
    codec: OpenAiChat.make({
      maxTokensField: options.maxTokensField ?? "max_tokens",
      structured: structured === "json-schema" ? "json-schema" : "json-object",
      prefill: "plain",
      usage: OpenAiChat.openAiUsage,
      requireDone: false,
      reasoning: (_model, level) => level === "none" ? undefined : { reasoning_effort: level }
    })
  }
}

/**
 * The provider service for an OpenAI-compatible endpoint. Fails with an
 * `LlmConfigError` naming the option when the name, model, base URL,
 * timeout or a size cap is invalid.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Provider.make(definitionOf(options), baseOptionsOf(options))

/**
 * A layer providing `LlmProvider` backed by an OpenAI-compatible endpoint.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<LlmProvider.LlmProvider, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Provider.layer(definitionOf(options), baseOptionsOf(options))

/**
 * The OpenAI-compatible step `LlmManager.layerConfig` is building
 * (`LlmConfig.CurrentStep`), configured by its `LLM_COMPAT_<NAME>_*`
 * variables, with the attempt limit and size caps of `LlmConfig`. Outside
 * such a step it fails with an `LlmConfigError` naming `LLM_CHAIN`.
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<
  LlmProvider.LlmProvider,
  LlmConfigError,
  HttpClient.HttpClient | Pricing.Pricing | LlmConfig.LlmConfig
> = Layer.effect(
  LlmProvider.LlmProvider,
  Effect.gen(function*() {
    const settings = yield* LlmConfig.LlmConfig
    const step = yield* LlmConfig.CurrentStep
    const endpoint = step === undefined ? undefined : settings.compatible[step.provider]
    if (step === undefined || endpoint === undefined) {
      return yield* new LlmConfigError({
        variable: "LLM_CHAIN",
        message: "LLM_CHAIN: OpenAiCompatible.layerConfig builds an OpenAI-compatible step of LLM_CHAIN " +
          "under LlmManager.layerConfig; use OpenAiCompatible.layer on its own"
      })
    }
    return yield* make({
      name: endpoint.name,
      baseUrl: endpoint.baseUrl,
      model: step.model,
      apiKey: Option.getOrUndefined(endpoint.apiKey),
      ...Provider.configuredOptions(settings, "openai-compatible", endpoint.name)
    })
  })
)
