/**
 * Turns a provider definition (name, defaults, capabilities, codec) and
 * options into the `LlmProvider` service and its layers, so each public
 * provider module is a few declarations.
 *
 * Options are checked once, when the layer is built: a blank model, a name
 * that is not a valid `ProviderName`, a base URL that is not a URL or a
 * non-positive timeout or size cap fail with an `LlmConfigError` naming the option.
 * `fromConfig` reads the provider's settings from `LlmConfig` and fails with
 * an `LlmConfigError` naming the key variable (`DEEPSEEK_API_KEY`) when the
 * key is absent.
 */
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import { LlmConfigError } from "@baton/core/LlmError"
import * as LlmProvider from "@baton/core/LlmProvider"
import type * as Pricing from "@baton/core/Pricing"
import { Effect, Layer, Option, type Redacted } from "effect"
import type { HttpClient } from "effect/http"
import * as Adapter from "./adapter.ts"
import * as ExtraHeaders from "./extraHeaders.ts"

/** What the caller chooses for any provider; the key may be absent for a local server. */
export interface BaseOptions {
  /** The API key; revealed only in the request header. */
  readonly apiKey: Redacted.Redacted | undefined
  /** The model used when a request names none. */
  readonly model?: string | undefined
  /** The API base URL (a proxy, a mock server). */
  readonly baseUrl?: string | undefined
  /**
   * The limit of one call when the provider is used on its own, in
   * milliseconds (a request's `options.timeout` overrides it). Default 30 000.
   * Under `LlmManager` the manager's limits apply instead.
   */
  readonly timeoutMs?: number | undefined
  /**
   * The largest non-streaming reply body read, in bytes; a larger one is a
   * `MalformedResponse` (retried, then the chain falls back). Default 16 MiB.
   */
  readonly maxBodyBytes?: number | undefined
  /**
   * The largest single stream event, in UTF-16 code units (bytes for ASCII
   * text); a larger one is a `MalformedResponse`. Default 1 MiB.
   */
  readonly maxEventBytes?: number | undefined
  /**
   * Whether the model continues a final assistant message; default: the
   * provider's own capability. `LlmManager` continues a broken stream from
   * the delivered text where this is on, and restarts it elsewhere.
   */
  readonly assistantPrefill?: boolean | undefined
}

/** What the caller chooses for an endpoint it describes (`OpenAiCompatible`): headers of its own too. */
export interface EndpointOptions extends BaseOptions {
  /** Extra request headers; which values are secrets: `ExtraHeaders`. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted>> | undefined
}

/** What the caller chooses for a hosted provider: the key is required. */
export interface Options extends BaseOptions {
  readonly apiKey: Redacted.Redacted
}

/** What a provider module declares. */
export interface Definition {
  readonly name: string
  readonly defaultModel: string
  readonly defaultBaseUrl: string
  readonly capabilities: LlmProvider.Capabilities
  /**
   * Whether the endpoint at a base URL continues a final assistant message,
   * when that depends on the endpoint (DeepSeek's only on its beta path);
   * absent: `capabilities.assistantPrefill`. The caller's `assistantPrefill`
   * wins over both.
   */
  readonly prefillAt?: ((baseUrl: URL) => boolean) | undefined
  /** Whether the endpoint may be called without a key (a local server); a hosted provider requires one. */
  readonly keyOptional?: boolean | undefined
  readonly codec: Adapter.Codec
}

/** The default attempt limit, the same as `LLM_ATTEMPT_TIMEOUT_MS`'s. */
export const defaultTimeoutMs = 30_000

/** The default cap of a reply body, in bytes. */
export const defaultMaxBodyBytes = 16 * 1024 * 1024

/** The default cap of one stream event. */
export const defaultMaxEventBytes = 1024 * 1024

const invalid = (option: string, problem: string) =>
  Effect.fail(new LlmConfigError({ variable: option, message: `${option}: ${problem}` }))

const positiveInteger = (option: string, value: number) => LlmConfig.wholeNumber(option, value, "positive")

/** A definition's capabilities at `url`, prefill as the caller, else the endpoint, else the definition says. */
const capabilitiesAt = (
  definition: Definition,
  url: URL,
  assistantPrefill: boolean | undefined
): LlmProvider.Capabilities => {
  const prefill = assistantPrefill ?? definition.prefillAt?.(url)
  return prefill === undefined || prefill === definition.capabilities.assistantPrefill
    ? definition.capabilities
    : { ...definition.capabilities, assistantPrefill: prefill }
}

const settingsOf = (
  definition: Definition,
  options: EndpointOptions
): Effect.Effect<Adapter.Settings, LlmConfigError> =>
  Effect.gen(function*() {
    const name = yield* LlmConfig.option(ProviderName, "name", definition.name)
    const model = yield* LlmConfig.option(ModelId, "model", (options.model ?? definition.defaultModel).trim())
    const baseUrl = options.baseUrl ?? definition.defaultBaseUrl
    const url = URL.parse(baseUrl)
    if (url === null) return yield* invalid("baseUrl", `"${baseUrl}" is not a URL`)
    const timeoutMs = yield* positiveInteger("timeoutMs", options.timeoutMs ?? defaultTimeoutMs)
    const maxBodyBytes = yield* positiveInteger("maxBodyBytes", options.maxBodyBytes ?? defaultMaxBodyBytes)
    const maxEventBytes = yield* positiveInteger("maxEventBytes", options.maxEventBytes ?? defaultMaxEventBytes)
    const apiKey = options.apiKey === undefined ? Option.none() : yield* LlmConfig.checkKey("apiKey", options.apiKey)
    if (Option.isNone(apiKey) && definition.keyOptional !== true) {
      return yield* invalid("apiKey", `is blank; ${name} requires your ${name} API key`)
    }
    return {
      name,
      model,
      baseUrl,
      apiKey: Option.getOrUndefined(apiKey),
      headers: ExtraHeaders.make(options.headers),
      timeoutMs,
      maxBodyBytes,
      maxEventBytes,
      capabilities: capabilitiesAt(definition, url, options.assistantPrefill),
      codec: definition.codec
    }
  })

/** The service for a definition and options. */
export const make = (
  definition: Definition,
  options: EndpointOptions
): Effect.Effect<LlmProvider.Service, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Effect.flatMap(settingsOf(definition, options), (settings) => Effect.map(Adapter.make(settings), LlmProvider.make))

/** A layer providing the service for a definition and options. */
export const layer = (
  definition: Definition,
  options: EndpointOptions
): Layer.Layer<LlmProvider.LlmProvider, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing> =>
  Layer.effect(LlmProvider.LlmProvider, make(definition, options))

/**
 * A provider's options from `LlmConfig`: the model of `LlmConfig.CurrentStep`
 * when the step is of this kind, else the kind's default; fails naming the
 * key variable when the key is absent.
 */
export const fromConfig = (
  kind: LlmConfig.ProviderKind
): Effect.Effect<Options, LlmConfigError, LlmConfig.LlmConfig> =>
  Effect.gen(function*() {
    const settings = yield* LlmConfig.LlmConfig
    const step = yield* LlmConfig.CurrentStep
    const provider = settings.providers[kind]
    if (Option.isNone(provider.apiKey)) {
      return yield* invalid(provider.apiKeyVariable, `is required to use ${kind}; set it to your ${kind} API key`)
    }
    return {
      apiKey: provider.apiKey.value,
      model: step?.kind === kind ? step.model : provider.model,
      baseUrl: provider.baseUrl,
      ...configuredOptions(settings, kind, kind)
    }
  })

/** The attempt limit and size caps `LlmConfig` sets for every provider. */
export const configuredLimits = (settings: LlmConfig.Settings) => ({
  timeoutMs: settings.attemptTimeoutMs,
  maxBodyBytes: Option.getOrUndefined(settings.maxBodyBytes),
  maxEventBytes: Option.getOrUndefined(settings.maxEventBytes)
})

/**
 * The limits and the prefill setting `LlmConfig` sets for the provider `name`
 * of `kind`: `<PROVIDER>_ASSISTANT_PREFILL` for a hosted kind, an endpoint's
 * `LLM_COMPAT_<NAME>_ASSISTANT_PREFILL` (read for the endpoints `LLM_CHAIN`
 * names) for an OpenAI-compatible one.
 */
export const configuredOptions = (settings: LlmConfig.Settings, kind: LlmConfig.StepKind, name: string) => ({
  ...configuredLimits(settings),
  assistantPrefill: Option.getOrUndefined(
    kind === "openai-compatible"
      ? settings.compatible[name]?.assistantPrefill ?? Option.none()
      : settings.providers[kind].assistantPrefill
  )
})

/** A layer for a provider kind configured by `LlmConfig`. */
export const layerConfig = (
  kind: LlmConfig.ProviderKind,
  definition: Definition
): Layer.Layer<
  LlmProvider.LlmProvider,
  LlmConfigError,
  HttpClient.HttpClient | Pricing.Pricing | LlmConfig.LlmConfig
> => Layer.effect(LlmProvider.LlmProvider, Effect.flatMap(fromConfig(kind), (options) => make(definition, options)))
