/**
 * One `LlmManager` per chain of steps, built on first use and kept for the
 * gateway's lifetime (aliases are built at start so a bad provider fails
 * the start). Every manager shares the quota limiter, ledger, request log
 * and circuit-breaker store of the gateway, so a circuit opened by one
 * chain is open for every chain that uses the same provider and model.
 * A chain's policy is the environment's with each step's own retries and
 * first-token limit on top (keyed by `provider/model`, as `FallbackPolicy`
 * reads them per step); chains differing only in those get their own
 * managers.
 *
 * Each step's provider layer is wrapped to note, per request id, which
 * provider and model produced the latest stream delta: a stream's chunks
 * name the model that produced them, fallbacks included.
 */
import * as CircuitPolicy from "@baton/core/CircuitPolicy"
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { ModelId, ProviderName } from "@baton/core/Ids"
import type * as LlmConfig from "@baton/core/LlmConfig"
import { LlmConfigError } from "@baton/core/LlmError"
import * as LlmManager from "@baton/core/LlmManager"
import { LlmProvider } from "@baton/core/LlmProvider"
import type * as Pricing from "@baton/core/Pricing"
import * as Anthropic from "@baton/providers/Anthropic"
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as Gemini from "@baton/providers/Gemini"
import * as OpenAi from "@baton/providers/OpenAi"
import * as OpenAiCompatible from "@baton/providers/OpenAiCompatible"
import * as Providers from "@baton/providers/Providers"
import { type Context, Effect, Layer, Option, Scope, Stream } from "effect"
import type { HttpClient } from "effect/http"
import type * as GatewayConfig from "../GatewayConfig.ts"

/** Who produced a request's latest text. */
export interface Producer {
  readonly provider: ProviderName
  readonly model: ModelId
}

/** The managers of a gateway. */
export interface Chains {
  readonly managerFor: (steps: ReadonlyArray<GatewayConfig.Step>) => Effect.Effect<LlmManager.Service, LlmConfigError>
  readonly producers: Map<string, Producer>
}

type ProviderLayer = Layer.Layer<LlmProvider, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing>

const hostedLayers = {
  deepseek: DeepSeek.layer,
  gemini: Gemini.layer,
  openai: OpenAi.layer,
  anthropic: Anthropic.layer
}

/** A step's provider layer with the environment's limits and prefill setting (`Providers.optionsFromConfig`). */
const baseLayer = (provider: GatewayConfig.Provider, model: ModelId, settings: LlmConfig.Settings): ProviderLayer => {
  const options = Providers.optionsFromConfig(settings, provider.kind, provider.name)
  if (provider.kind === "openai-compatible") {
    return OpenAiCompatible.layer({
      name: provider.name,
      baseUrl: provider.baseUrl ?? "",
      model,
      apiKey: Option.getOrUndefined(provider.apiKey),
      ...options
    })
  }
  const make = hostedLayers[provider.kind]
  return Option.match(provider.apiKey, {
    onNone: () =>
      Layer.effect(
        LlmProvider,
        Effect.fail(
          new LlmConfigError({ variable: provider.apiKeyVariable, message: `${provider.apiKeyVariable} is not set` })
        )
      ),
    onSome: (apiKey) => make({ apiKey, model, baseUrl: provider.baseUrl, ...options })
  })
}

const recording = (layer: ProviderLayer, producers: Map<string, Producer>): ProviderLayer =>
  Layer.effect(
    LlmProvider,
    LlmProvider.useSync((provider) =>
      LlmProvider.of({
        ...provider,
        stream: (request) => {
          const producer = { provider: provider.name, model: request.options.model ?? provider.model }
          return provider.stream(request).pipe(
            Stream.tap((part) =>
              Effect.sync(() => {
                if (part._tag === "TextDelta" || part._tag === "ToolCallDelta") {
                  producers.set(request.requestId, producer)
                }
              })
            )
          )
        }
      })
    )
  ).pipe(Layer.provide(layer))

const keyOf = (steps: ReadonlyArray<GatewayConfig.Step>) =>
  steps.map((s) => `${s.provider}/${s.model}:${s.retries ?? ""}:${s.firstTokenMs ?? ""}`).join(",")

/** The environment's policy with each step's own settings on top. */
const chainPolicy = (
  base: FallbackPolicy.FallbackPolicy,
  steps: ReadonlyArray<GatewayConfig.Step>
): FallbackPolicy.FallbackPolicy => {
  const maxRetriesByModel: Record<string, number> = { ...base.maxRetriesByModel }
  const firstTokenMsByModel: Record<string, number> = { ...base.limits.firstTokenMsByModel }
  for (const step of steps) {
    const name = `${step.provider}/${step.model}`
    if (step.retries !== undefined) maxRetriesByModel[name] = step.retries
    if (step.firstTokenMs !== undefined) firstTokenMsByModel[name] = step.firstTokenMs
  }
  return { ...base, maxRetriesByModel, limits: { ...base.limits, firstTokenMsByModel } }
}

/**
 * The managers of a gateway, built in `scope` with the services of `context`
 * (HTTP client, pricing, quota limiter, ledger, log, circuit store).
 */
export const make = (
  config: GatewayConfig.GatewayConfig,
  settings: LlmConfig.Settings,
  context: Context.Context<HttpClient.HttpClient | Pricing.Pricing>,
  scope: Scope.Scope
): Chains => {
  const producers = new Map<string, Producer>()
  const managers = new Map<string, Effect.Effect<LlmManager.Service, LlmConfigError>>()
  const policy = FallbackPolicy.fromConfig(settings)
  const circuitPolicy = CircuitPolicy.fromConfig(settings)

  const build = (steps: ReadonlyArray<GatewayConfig.Step>) =>
    LlmManager.make({
      providers: steps.map((step) => {
        const provider = config.providers.get(step.provider)
        return provider === undefined
          ? Layer.effect(
            LlmProvider,
            Effect.fail(new LlmConfigError({ variable: step.provider, message: `unknown provider ${step.provider}` }))
          )
          : recording(baseLayer(provider, step.model, settings), producers)
      }),
      policy: chainPolicy(policy, steps),
      circuitPolicy,
      generationEnabled: settings.generationEnabled
    }).pipe(Scope.provide(scope), Effect.provide(context))

  const managerFor = (steps: ReadonlyArray<GatewayConfig.Step>) =>
    Effect.suspend(() => {
      const key = keyOf(steps)
      const existing = managers.get(key)
      if (existing !== undefined) return existing
      return Effect.flatMap(Effect.cached(build(steps)), (cached) => {
        const winner = managers.get(key) ?? cached
        managers.set(key, winner)
        return winner
      })
    })

  return { managerFor, producers }
}
