/**
 * The provider layers by kind, for code that builds its chain from
 * configuration.
 *
 * `LlmConfig` names a chain of steps, a provider and model each
 * (`LLM_CHAIN`, or `LLM_PRIMARY_PROVIDER` and `LLM_FALLBACK_PROVIDERS`);
 * `layersFromConfig` has the configured layer of every step kind (the four
 * hosted providers and `"openai-compatible"`), and `LlmManager.layerConfig`
 * builds one per step, so one kind may serve several steps with different
 * models:
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as LlmConfig from "@baton/core/LlmConfig"
 * import * as LlmManager from "@baton/core/LlmManager"
 * import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
 * import * as Providers from "@baton/providers/Providers"
 *
 * // LLM_CHAIN=deepseek/deepseek-flash,deepseek/deepseek-v4-pro,ollama
 * // LLM_COMPAT_OLLAMA_BASE_URL=http://127.0.0.1:11434/v1 LLM_COMPAT_OLLAMA_MODEL=llama3.2
 * // the providers' HTTP client (ProviderHttpClient.layer) and prices come with it
 * const Manager = LlmManager.layerConfig(Providers.layersFromConfig).pipe(
 *   Layer.provide([LlmConfig.layerPricing, ProviderHttpClient.layer]),
 *   Layer.provideMerge(LlmConfig.layer)
 * )
 * ```
 *
 * `make(kind)` builds one hosted provider with its default model, outside a
 * manager (a health check).
 *
 * @since 0.1.0
 */
import type * as LlmConfig from "@baton/core/LlmConfig"
import type { LlmConfigError } from "@baton/core/LlmError"
import type * as LlmProvider from "@baton/core/LlmProvider"
import type * as Pricing from "@baton/core/Pricing"
import { Effect, type Layer } from "effect"
import type { HttpClient } from "effect/http"
import * as Anthropic from "./Anthropic.ts"
import * as DeepSeek from "./DeepSeek.ts"
import * as Gemini from "./Gemini.ts"
import * as Provider from "./internal/provider.ts"
import * as OpenAi from "./OpenAi.ts"
import * as OpenAiCompatible from "./OpenAiCompatible.ts"

/**
 * What a provider layer configured by `LlmConfig` needs and may fail with.
 *
 * @since 0.1.0
 */
export type ConfiguredLayer = Layer.Layer<
  LlmProvider.LlmProvider,
  LlmConfigError,
  HttpClient.HttpClient | Pricing.Pricing | LlmConfig.LlmConfig
>

const makers: Readonly<
  Record<
    LlmConfig.ProviderKind,
    (
      options: Provider.Options
    ) => Effect.Effect<LlmProvider.Service, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing>
  >
> = {
  deepseek: DeepSeek.make,
  gemini: Gemini.make,
  openai: OpenAi.make,
  anthropic: Anthropic.make
}

const layers: Readonly<Record<LlmConfig.StepKind, ConfiguredLayer>> = {
  deepseek: DeepSeek.layerConfig,
  gemini: Gemini.layerConfig,
  openai: OpenAi.layerConfig,
  anthropic: Anthropic.layerConfig,
  "openai-compatible": OpenAiCompatible.layerConfig
}

/**
 * Every step kind's configured layer, OpenAI-compatible endpoints included,
 * for `LlmManager.layerConfig` (which builds one per step of the chain
 * `LlmConfig` names).
 *
 * @since 0.1.0
 */
export const layersFromConfig: Readonly<Record<LlmConfig.StepKind, ConfiguredLayer>> = layers

/**
 * The configured layer of one step kind. Under `LlmManager.layerConfig` it
 * takes the model of the step being built; on its own, the kind's default
 * model (an `"openai-compatible"` layer needs a step).
 *
 * @since 0.1.0
 */
export const layerFromConfig = (kind: LlmConfig.StepKind): ConfiguredLayer => layers[kind]

/**
 * The attempt limit and size caps of a provider layer's options.
 *
 * @since 0.1.0
 */
export interface Limits {
  readonly timeoutMs: number
  readonly maxBodyBytes: number | undefined
  readonly maxEventBytes: number | undefined
}

/**
 * The per-provider limits `LlmConfig` sets (`LLM_ATTEMPT_TIMEOUT_MS`,
 * `LLM_MAX_BODY_BYTES`, `LLM_MAX_EVENT_BYTES`), as provider layer options,
 * for code that builds provider layers from its own settings (a gateway's
 * config file) but keeps the environment's limits: `DeepSeek.layer({ apiKey,
 * model, ...Providers.limitsFromConfig(settings) })`.
 *
 * @since 0.1.0
 */
export const limitsFromConfig: (settings: LlmConfig.Settings) => Limits = Provider.configuredLimits

/**
 * The options `LlmConfig` sets for the provider `name` of step kind `kind`:
 * the limits of {@link limitsFromConfig} and its prefill setting
 * (`<PROVIDER>_ASSISTANT_PREFILL`, or `LLM_COMPAT_<NAME>_ASSISTANT_PREFILL`
 * for an endpoint `LLM_CHAIN` names), for code that builds provider layers
 * from its own settings: `OpenAiCompatible.layer({ name, baseUrl, model,
 * ...Providers.optionsFromConfig(settings, "openai-compatible", name) })`.
 *
 * @since 0.1.0
 */
export const optionsFromConfig: (
  settings: LlmConfig.Settings,
  kind: LlmConfig.StepKind,
  name: string
) => Limits & { readonly assistantPrefill: boolean | undefined } = Provider.configuredOptions

/**
 * The configured service of one hosted provider kind, built in the current
 * context, with the kind's default model. Fails with an `LlmConfigError`
 * naming the key variable when the key is absent.
 *
 * @since 0.1.0
 */
export const make = (
  kind: LlmConfig.ProviderKind
): Effect.Effect<
  LlmProvider.Service,
  LlmConfigError,
  HttpClient.HttpClient | Pricing.Pricing | LlmConfig.LlmConfig
> => Effect.flatMap(Provider.fromConfig(kind), makers[kind])
