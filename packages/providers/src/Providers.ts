/**
 * The provider layers by kind, for code that builds its chain from
 * configuration.
 *
 * `LlmConfig` names a chain of provider kinds (`LLM_PRIMARY_PROVIDER`,
 * `LLM_FALLBACK_PROVIDERS`); `layerFromConfig(kind)` is the configured layer
 * of one kind, so a manager builds one `LlmProvider` per kind in the chain:
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import * as LlmConfig from "@baton/core/LlmConfig"
 * import * as LlmProvider from "@baton/core/LlmProvider"
 * import * as Providers from "@baton/providers/Providers"
 *
 * // one built service per kind of the configured chain
 * const chain = Effect.gen(function*() {
 *   const settings = yield* LlmConfig.LlmConfig
 *   return yield* Effect.forEach(settings.chain, (kind) => Providers.make(kind))
 * })
 * ```
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

const layers: Readonly<Record<LlmConfig.ProviderKind, ConfiguredLayer>> = {
  deepseek: DeepSeek.layerConfig,
  gemini: Gemini.layerConfig,
  openai: OpenAi.layerConfig,
  anthropic: Anthropic.layerConfig
}

/**
 * Every provider kind's configured layer, for `LlmManager.layerConfig`
 * (which picks the chain `LlmConfig` names).
 *
 * @since 0.1.0
 */
export const layersFromConfig: Readonly<Record<LlmConfig.ProviderKind, ConfiguredLayer>> = layers

/**
 * The configured layer of one provider kind.
 *
 * @since 0.1.0
 */
export const layerFromConfig = (kind: LlmConfig.ProviderKind): ConfiguredLayer => layers[kind]

/**
 * The configured service of one provider kind, built in the current context
 * (for a manager holding several providers at once). Fails with an
 * `LlmConfigError` naming the key variable when the key is absent.
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
