/**
 * The managers of a gateway: one `LlmManager` per chain of steps. Aliases'
 * managers are built at start (so a bad provider fails the start) and kept
 * for the gateway's lifetime; the managers of other chains (a
 * `provider/model`, `fallbacks`) are built on first use and kept for the
 * {@link maxRequestChains} most recently used chains only: a client naming
 * ever new orderings of `model` and `fallbacks` cannot make the gateway hold
 * more. An evicted manager is closed once the last call using it has ended
 * (each call on a chain that is not an alias holds its manager in the
 * request's scope), never under a call.
 *
 * Each `provider/model` gets one provider client, built on first use in the
 * gateway's scope and shared by every chain that names it: building a
 * chain's manager builds no provider, and a rebuilt manager costs its
 * circuit watcher only. Every manager shares the quota limiter, ledger,
 * request log and circuit-breaker store of the gateway, and circuits are
 * keyed by `provider/model` in that store: a circuit opened through one
 * chain is open for every chain that uses the same provider and model,
 * whether its manager is new or evicted and built again. A chain's policy
 * is the environment's with each step's own retries and first-token limit
 * on top (keyed by `provider/model`, as `FallbackPolicy` reads them per
 * step); chains differing only in those get their own managers. Every
 * manager scrubs every key the gateway holds (the config's,
 * `GatewayConfig.secrets`, and the environment's) from its attempts'
 * errors and, handing them to the request log, from its records (a
 * logged prompt), not only its own chain's: an endpoint may echo any.
 *
 * Each provider client is wrapped to note, per request id of a streamed
 * answer (`Producers.watch`), which provider and model produced the latest
 * stream delta: a stream's chunks name the model that produced them,
 * fallbacks included. A whole answer names its producer in its result, so
 * the streams of a non-streamed answer are passed through untouched.
 *
 * `/metrics` shows what the gateway holds: `baton_gateway_chain_managers`
 * (managers, evicted ones still serving a call included) and
 * `baton_gateway_provider_clients`.
 */
import * as CircuitPolicy from "@baton/core/CircuitPolicy"
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { ModelId, ProviderName } from "@baton/core/Ids"
import type * as LlmConfig from "@baton/core/LlmConfig"
import { LlmConfigError } from "@baton/core/LlmError"
import * as LlmManager from "@baton/core/LlmManager"
import { LlmProvider, tapParts } from "@baton/core/LlmProvider"
import type * as Pricing from "@baton/core/Pricing"
import * as Anthropic from "@baton/providers/Anthropic"
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as Gemini from "@baton/providers/Gemini"
import * as OpenAi from "@baton/providers/OpenAi"
import * as OpenAiCompatible from "@baton/providers/OpenAiCompatible"
import * as Providers from "@baton/providers/Providers"
import { type Context, Effect, Exit, Layer, Metric, Option, type Redacted, Scope } from "effect"
import type { HttpClient } from "effect/http"
import type * as GatewayConfig from "../GatewayConfig.ts"

/** Who produced a request's latest text. */
export interface Producer {
  readonly provider: ProviderName
  readonly model: ModelId
}

/**
 * Who produced the latest text of each streamed answer, by request id. Only
 * the requests being watched are noted, and each is forgotten when the
 * scope that watches it closes.
 */
export interface Producers {
  /** Notes who produces `requestId`'s text until `scope` closes. */
  readonly watch: (requestId: string, scope: Scope.Scope) => Effect.Effect<void>
  /** Notes `producer` as the latest of `requestId` while it is watched (never after: nothing is left behind). */
  readonly note: (requestId: string, producer: Producer) => void
  /** The latest producer noted for `requestId`. */
  readonly latest: (requestId: string) => Producer | undefined
}

/** `Producers` as the provider clients see them: whether a request's streams are to be noted. */
interface Noting extends Producers {
  readonly watched: (requestId: string) => boolean
}

const makeProducers = (): Noting => {
  const watched = new Set<string>()
  const latest = new Map<string, Producer>()
  return {
    watch: (requestId, scope) =>
      Effect.andThen(
        Effect.sync(() => watched.add(requestId)),
        Scope.addFinalizer(
          scope,
          Effect.sync(() => {
            watched.delete(requestId)
            latest.delete(requestId)
          })
        )
      ),
    note: (requestId, producer) => {
      if (watched.has(requestId)) latest.set(requestId, producer)
    },
    latest: (requestId) => latest.get(requestId),
    watched: (requestId) => watched.has(requestId)
  }
}

/** The managers of a gateway. */
export interface Chains {
  /**
   * The manager of a chain, held until the current scope closes (the
   * request's: the call, its stream included, runs within it), so that an
   * eviction never closes a manager under a call; an alias's, never
   * evicted, is not held once it is kept (at start).
   */
  readonly managerFor: (
    steps: ReadonlyArray<GatewayConfig.Step>
  ) => Effect.Effect<LlmManager.Service, LlmConfigError, Scope.Scope>
  readonly producers: Producers
}

/**
 * How many chains that are not an alias keep their manager; past it, the
 * least recently used chain's manager is evicted.
 */
export const maxRequestChains = 64

const managersHeld = Metric.gauge("baton_gateway_chain_managers", {
  description: "LlmManagers the gateway holds: one per alias, one per other chain recently asked for " +
    `(at most ${maxRequestChains}), and evicted ones a call still uses`
})

const providerClients = Metric.gauge("baton_gateway_provider_clients", {
  description: "Provider clients the gateway has built: one per provider/model asked for, shared by every chain"
})

/** Counts `gauge` up now and down when the current scope closes. */
const held = (gauge: Metric.Metric<number, unknown>) =>
  Effect.andThen(Metric.modify(gauge, 1), Effect.addFinalizer(() => Metric.modify(gauge, -1)))

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
  // a file's provider without its own base URL is sent where the environment sends it (`<NAME>_BASE_URL`: a proxy)
  const baseUrl = provider.baseUrl ?? settings.providers[provider.kind].baseUrl
  return Option.match(provider.apiKey, {
    onNone: () =>
      Layer.effect(
        LlmProvider,
        Effect.fail(
          new LlmConfigError({ variable: provider.apiKeyVariable, message: `${provider.apiKeyVariable} is not set` })
        )
      ),
    onSome: (apiKey) => make({ apiKey, model, baseUrl, ...options })
  })
}

/**
 * `layer`'s provider, noting in `producers` who produced each part of text
 * or tool call of a watched request's stream, before the part goes on, its
 * push kept (`LlmProvider.tapParts`); any other request's stream is the
 * provider's own.
 */
const recording = (layer: ProviderLayer, producers: Noting): ProviderLayer =>
  Layer.effect(
    LlmProvider,
    LlmProvider.useSync((provider) =>
      LlmProvider.of({
        ...provider,
        stream: (request) => {
          if (!producers.watched(request.requestId)) return provider.stream(request)
          const producer = { provider: provider.name, model: request.options.model ?? provider.model }
          // keeps the adapter's push, which the manager reads the stream by
          return tapParts(provider.stream(request), (part) => {
            if (part._tag === "TextDelta" || part._tag === "ToolCallDelta") producers.note(request.requestId, producer)
          })
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

/** A chain's manager: built once, closed with its scope once evicted and no call holds it. */
interface Entry {
  readonly manager: Effect.Effect<LlmManager.Service, LlmConfigError>
  readonly scope: Scope.Closeable
  /** The calls holding it. */
  leases: number
  evicted: boolean
}

/**
 * The managers of a gateway, built in `scope` with the services of `context`
 * (HTTP client, pricing, quota limiter, ledger, log, circuit store), each
 * scrubbing `secrets` (`GatewayConfig.heldKeys`: every key the gateway holds,
 * not only its chain's own, for an endpoint may echo a key of a provider
 * outside its chain).
 */
export const make = (
  config: GatewayConfig.GatewayConfig,
  settings: LlmConfig.Settings,
  secrets: ReadonlyArray<Redacted.Redacted>,
  context: Context.Context<HttpClient.HttpClient | Pricing.Pricing>,
  scope: Scope.Scope
): Chains => {
  const producers = makeProducers()
  const providers = new Map<string, Effect.Effect<Context.Context<LlmProvider>, LlmConfigError>>()
  const aliasKeys = new Set([...config.aliases.values()].map(keyOf))
  /** The aliases' managers, never evicted. */
  const pinned = new Map<string, Entry>()
  /** The other chains' managers, least recently used first. */
  const recent = new Map<string, Entry>()
  const policy = FallbackPolicy.fromConfig(settings)
  const circuitPolicy = CircuitPolicy.fromConfig(settings)

  /** Memoises `build` under `key` in `cache` (the first of racing builds wins). */
  const memo = <A, E>(
    cache: Map<string, Effect.Effect<A, E>>,
    key: string,
    build: Effect.Effect<A, E>
  ): Effect.Effect<A, E> =>
    Effect.suspend(() => {
      const existing = cache.get(key)
      if (existing !== undefined) return existing
      return Effect.flatMap(Effect.cached(build), (cached) => {
        const winner = cache.get(key) ?? cached
        cache.set(key, winner)
        return winner
      })
    })

  /** The step's provider client: built once, in the gateway's scope, for every chain naming it. */
  const providerOf = (step: GatewayConfig.Step): Layer.Layer<LlmProvider, LlmConfigError> => {
    const provider = config.providers.get(step.provider)
    if (provider === undefined) {
      return Layer.effect(
        LlmProvider,
        Effect.fail(new LlmConfigError({ variable: step.provider, message: `unknown provider ${step.provider}` }))
      )
    }
    const build = Layer.build(recording(baseLayer(provider, step.model, settings), producers)).pipe(
      Effect.tap(() => held(providerClients)),
      Scope.provide(scope),
      Effect.provide(context)
    )
    return Layer.effectContext(memo(providers, `${step.provider}/${step.model}`, build))
  }

  const build = (steps: ReadonlyArray<GatewayConfig.Step>, managerScope: Scope.Scope) =>
    LlmManager.make({
      providers: steps.map(providerOf),
      policy: chainPolicy(policy, steps),
      circuitPolicy,
      generationEnabled: settings.generationEnabled,
      secrets
    }).pipe(
      Effect.tap(() => held(managersHeld)),
      Scope.provide(managerScope),
      Effect.provide(context)
    )

  const closeIdle = (entry: Entry) =>
    entry.evicted && entry.leases === 0 ? Scope.close(entry.scope, Exit.void) : Effect.void

  /** Evicts the least recently used chains past the limit: each closes now, or when its last call ends. */
  const evict = Effect.suspend(() => {
    const evicted: Array<Entry> = []
    for (const [key, entry] of recent) {
      if (recent.size <= maxRequestChains) break
      recent.delete(key)
      entry.evicted = true
      evicted.push(entry)
    }
    return Effect.forEach(evicted, closeIdle, { discard: true })
  })

  /** Holds `entry` until the current scope closes, as the most recently used of its chains. */
  const lease = (key: string, entry: Entry) =>
    Effect.suspend(() => {
      const cache = aliasKeys.has(key) ? pinned : recent
      cache.delete(key)
      cache.set(key, entry)
      entry.leases++
      return Effect.andThen(
        Effect.addFinalizer(() => Effect.suspend(() => (entry.leases--, closeIdle(entry)))),
        cache === recent ? evict : Effect.void
      )
    })

  const entryOf = (key: string, steps: ReadonlyArray<GatewayConfig.Step>) =>
    Effect.suspend(() => {
      const existing = pinned.get(key) ?? recent.get(key)
      if (existing !== undefined) return Effect.as(lease(key, existing), existing)
      const managerScope = Scope.forkUnsafe(scope)
      return Effect.flatMap(Effect.cached(build(steps, managerScope)), (manager) => {
        const raced = pinned.get(key) ?? recent.get(key)
        if (raced !== undefined) {
          return Effect.as(Effect.andThen(Scope.close(managerScope, Exit.void), lease(key, raced)), raced)
        }
        const entry: Entry = { manager, scope: managerScope, leases: 0, evicted: false }
        return Effect.as(lease(key, entry), entry)
      })
    })

  /** An alias's manager, kept at start and never evicted: a call takes it without a lease. */
  const managerFor = (steps: ReadonlyArray<GatewayConfig.Step>) =>
    Effect.suspend(() => {
      const key = keyOf(steps)
      const alias = pinned.get(key)
      return alias !== undefined
        ? alias.manager
        : Effect.flatMap(Effect.uninterruptible(entryOf(key, steps)), (entry) => entry.manager)
    })

  return { managerFor, producers }
}
