/**
 * The manager: one request, served by whichever configured provider can
 * serve it, as fast as the healthiest one allows, failing only with a full
 * account of why.
 *
 * An `LlmManager` holds a chain of providers (each a `Layer` for the one
 * `LlmProvider` tag, built once when the manager is built) and runs every
 * call through the same policies:
 *
 * - `FallbackPolicy` (`@baton/core/FallbackPolicy`): retries on the same
 *   provider for retryable errors with jittered exponential backoff and
 *   `Retry-After`, fallback to the next provider, the rule that stops the
 *   chain, the per-attempt limits (first byte, first token, stream silence,
 *   attempt), the request deadline, hedging, structured re-asks and stream
 *   continuation.
 * - `CircuitPolicy` (`@baton/core/CircuitPolicy`): one circuit per provider
 *   and model the configuration names, and for the first 32 models only
 *   requests name on a provider (the rest share its `other` circuit); an
 *   open circuit skips its provider without a network call, and without the
 *   backoff of a retry it will refuse (open past that backoff: the failure
 *   that opened it is not retried after its `Retry-After`, but falls back at
 *   once; a half-open circuit keeps the backoff).
 *
 * Every attempt (retries, fallbacks, hedges, skips, cancellations) is listed,
 * in the order it started, on `GenerationResult.attempts`, or on the
 * failure (`AllProvidersFailed`, `DeadlineExceeded`, or a stream's
 * `StreamInterrupted`), and reported to `RequestLog` and `UsageLedger` when
 * those services are in context at build time. The failures raised before
 * any provider is called (`GenerationDisabled`, `InvalidOptions`,
 * `RateLimitExceeded`, `TooManyQuestions`, `QuotaStoreUnavailable`) have no
 * attempts to list. A result's `usage`, like a stream's `Finish.usage`, is
 * what the whole request billed: the sum of every attempt's usage (re-asks,
 * failed and cancelled attempts included), one record each in the log, and
 * one row in the ledger for each attempt that billed tokens.
 *
 * When a `QuotaLimiter` is in context, a request asking for more than
 * `AI_MAX_QUESTIONS_PER_REQUEST` units (`metadata.units`, default 1) fails
 * with `TooManyQuestions` before any network call; when it also names a
 * `subjectId`, each call spends its units, refunded if the call fails or is
 * interrupted (a hedged call still spends them once), and the subject's token
 * and cost budgets are charged with what every attempt billed, failed ones
 * included. A request that every provider's circuit refuses (each open and
 * already refusing this manager's calls when it starts) asks no quota and
 * spends nothing: it fails with `AllProvidersFailed` at once, even for a
 * subject out of units, and puts no load on a quota store during an outage.
 * A quota store that waits on I/O (`QuotaStore`'s `remote`, as the Redis
 * store), and a quota `overrides` lookup of one's own, are bounded by the
 * request's deadline (`@baton/core/StoreDeadline`): a reservation (or
 * lookup) still pending then fails the request with
 * `QuotaStoreUnavailable` (or, with `failOpen`, lets it through, to end at
 * its deadline), and its refund and budget charge may take a grace second
 * past it.
 *
 * Interrupting a call (a client that goes away) interrupts the HTTP request
 * in flight and still records the attempt as `cancelled`, reports it, and
 * refunds the quota.
 *
 * No key leaves in an error: a failed attempt's error is scrubbed, as it
 * fails, of every provider's key (`LlmProvider.Service.secrets`) and of the
 * `secrets` the manager was given (`layerConfig`: every configured key), not
 * only of the key of the provider that failed (an endpoint may echo another
 * provider's key), so its span, the request log, the ledger and the caller's
 * error carry the scrubbed error, of the same `_tag`.
 *
 * Gotchas:
 * - Build it once (a layer), not per request.
 * - `generate` streams underneath by default so that a stalled provider is
 *   caught within the first-token and idle limits, and a broken answer is
 *   completed before you get it (its result's `sources` and `rescued` say
 *   whose text it holds and whether that happened); set
 *   `FallbackPolicy.generateVia: "generate"` for plain calls.
 * - `stream` runs at most one batch (one read of the connection) ahead of
 *   its caller, and Baton's adapters over `ProviderHttpClient` stop reading
 *   once about 64 KiB is unread: a caller that does not pull holds the
 *   provider back, bounded by the request deadline (not by the idle limit,
 *   which measures the provider's silence).
 * - Circuit state is per process unless a `CircuitBreakerStore` for Redis
 *   (`@baton/redis/RedisCircuitBreaker`) is in context at build time. Such a
 *   store's commands are bounded by each request's deadline
 *   (`CircuitPolicy.boundedStore`, on `@baton/core/StoreDeadline`): one that
 *   never answers fails open, and the request still ends by its deadline.
 * - The first-byte limit needs to see the response headers: Baton's adapters
 *   report them through `LlmProvider.observeHttpClient`, whichever
 *   `HttpClient` their layer was given. A provider of your own that does not
 *   wrap its client with it is bounded by the first-token, idle and attempt
 *   limits only.
 * - A `ProviderThrottle` in context is checked before each call with the
 *   request's token estimate (`ProviderThrottle.estimateTokens`: prompt
 *   characters / 4 plus `maxTokens`): a spent local budget skips the provider
 *   (`ProviderThrottled`) like an open circuit. It is checked only once the
 *   provider's circuit admitted the attempt: an attempt an open circuit
 *   skips (or a half-open one whose probe is running) spends nothing, and a
 *   half-open probe the throttle refuses leaves the circuit waiting for the
 *   next probe (the circuit ignores a throttled attempt).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import * as LlmManager from "@baton/core/LlmManager"
 *
 * const program = Effect.gen(function*() {
 *   const manager = yield* LlmManager.LlmManager
 *   const result = yield* manager.generate({ prompt: "One quiz question on Mars" })
 *   return [result.content, result.provider, result.attempts.length]
 * })
 * // provide LlmManager.layer({ providers: [DeepSeek.layer(...), Gemini.layer(...)] })
 * // or LlmManager.layerConfig({ deepseek: DeepSeek.layerConfig, gemini: Gemini.layerConfig })
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, identity, Layer, Option, Redacted, type Schema, type Scope, Stream } from "effect"
import { CircuitBreaker } from "effect/persistence"
import * as CircuitPolicy from "./CircuitPolicy.ts"
import * as FallbackPolicy from "./FallbackPolicy.ts"
import type { GenerationResult, StreamPart, StructuredResult } from "./GenerationResult.ts"
import type { ModelId, ProviderName } from "./Ids.ts"
import * as Handoff from "./internal/handoff.ts"
import * as internal from "./internal/manager.ts"
import * as Watchdog from "./internal/watchdog.ts"
import * as LlmConfig from "./LlmConfig.ts"
import {
  type AllProvidersFailed,
  CircuitStoreUnavailable,
  type DeadlineExceeded,
  GenerationDisabled,
  InvalidOptions,
  LlmConfigError,
  type QuotaStoreUnavailable,
  type RateLimitExceeded,
  type TooManyQuestions
} from "./LlmError.ts"
import * as LlmMetrics from "./LlmMetrics.ts"
import { LlmProvider } from "./LlmProvider.ts"
import * as LlmRequest from "./LlmRequest.ts"
import type { StreamInterrupted } from "./ProviderError.ts"
import * as ProviderThrottle from "./ProviderThrottle.ts"
import { QuotaLimiter } from "./QuotaLimiter.ts"
import { RequestLog } from "./RequestLog.ts"
import * as StructuredOutput from "./StructuredOutput.ts"
import { UsageLedger } from "./UsageLedger.ts"

/**
 * How a `generate` or `generateStructured` call can fail.
 *
 * @since 0.1.0
 */
export type GenerateError =
  | AllProvidersFailed
  | DeadlineExceeded
  | GenerationDisabled
  | InvalidOptions
  | RateLimitExceeded
  | TooManyQuestions
  | QuotaStoreUnavailable

/**
 * How a `stream` can fail: as `generate`, or with `StreamInterrupted` once
 * text has reached the caller (listing every attempt in `attempts`).
 *
 * @since 0.1.0
 */
export type StreamError = GenerateError | StreamInterrupted

/**
 * A request as a caller writes it, or one already checked by `LlmRequest.make`.
 *
 * @since 0.1.0
 */
export type Input = LlmRequest.Input | LlmRequest.LlmRequest

/**
 * Structured generation from any schema specification; the value is typed by
 * the schema (`unknown` for a raw JSON Schema). The answer is JSON, never a
 * tool call: a request offering tools the model may call (any `toolChoice`
 * but `"none"`) fails with `InvalidOptions` (field `tools`) before any
 * provider is asked (`StructuredOutput.toolsRefused`).
 *
 * @since 0.1.0
 */
export interface GenerateStructured {
  <A>(
    input: Input,
    schema: Schema.Codec<A, unknown> | StructuredOutput.StructuredOutput<A>
  ): Effect.Effect<StructuredResult<A>, GenerateError>
  (input: Input, schema: StructuredOutput.JsonSchema): Effect.Effect<StructuredResult<unknown>, GenerateError>
}

/**
 * One step of the chain: a provider and the model it is configured with, as
 * the provider knows it (`LlmProvider.Service.modelId`: a Gemini step
 * configured with `models/gemini-2.5-flash` is `gemini-2.5-flash`).
 *
 * @since 0.1.0
 */
export interface Step {
  readonly provider: ProviderName
  readonly model: ModelId
}

/**
 * The manager service.
 *
 * @since 0.1.0
 */
export interface Service {
  /** The providers in the order they are tried (a provider chained with several models appears once per step). */
  readonly providers: ReadonlyArray<ProviderName>
  /**
   * The steps in the order they are tried, each with its model: what a
   * health check reads the circuits of (`circuitState(step.provider,
   * step.model)`), since one provider may be chained with several models,
   * each with a circuit of its own.
   */
  readonly steps: ReadonlyArray<Step>
  /**
   * The policy the manager applies: the one it was given, each per-model
   * key (`maxRetriesByModel`, `firstTokenMsByModel`) also under the id its
   * model has on the providers of the chain (`LlmProvider.Service.modelId`:
   * `gemini/models/gemini-2.5-flash` applies to `gemini/gemini-2.5-flash`).
   */
  readonly policy: FallbackPolicy.FallbackPolicy
  readonly circuitPolicy: CircuitPolicy.CircuitPolicy
  readonly generate: (input: Input) => Effect.Effect<GenerationResult, GenerateError>
  readonly generateStructured: GenerateStructured
  readonly stream: (input: Input) => Stream.Stream<StreamPart, StreamError>
  /**
   * The circuit of a provider and model (by default the model of the
   * provider's first step; a model only requests name past the first 32
   * on that provider reads its shared `other` circuit), as the store sees it now; the names of
   * one model on the provider (`LlmProvider.Service.modelId`: Gemini's `models/gemini-2.5-flash`
   * and `gemini-2.5-flash`) read one circuit. Fails with `InvalidOptions` for a provider that
   * is not in the chain and with `CircuitStoreUnavailable` when the store cannot be read.
   */
  readonly circuitState: (
    provider: ProviderName,
    model?: ModelId
  ) => Effect.Effect<CircuitBreaker.State, InvalidOptions | CircuitStoreUnavailable>
}

/**
 * The manager tag.
 *
 * @since 0.1.0
 */
export class LlmManager extends Context.Service<LlmManager, Service>()("@baton/core/LlmManager") {}

/**
 * What the manager is built from.
 *
 * @since 0.1.0
 */
export interface Options<E, R> {
  /** The chain, in order: primary first. Each layer is built once. */
  readonly providers: ReadonlyArray<Layer.Layer<LlmProvider, E, R>>
  /** The defaults when absent; checked when the manager is built (`FallbackPolicy.check`). */
  readonly policy?: FallbackPolicy.FallbackPolicy | undefined
  /** The defaults when absent; checked when the manager is built (`CircuitPolicy.check`). */
  readonly circuitPolicy?: CircuitPolicy.CircuitPolicy | undefined
  /** `false` fails every call with `GenerationDisabled` before any network call (default `true`). */
  readonly generationEnabled?: boolean | undefined
  /**
   * Secrets to scrub from every attempt's error and from the request log's
   * records (a logged prompt) besides the providers' own keys
   * (`LlmProvider.Service.secrets`), which the manager always scrubs: e.g.
   * the keys of providers outside this chain behind the same proxy, or the
   * key of a provider that declares none.
   */
  readonly secrets?: ReadonlyArray<Redacted.Redacted> | undefined
}

const toRequest = LlmRequest.fromInput

const buildProviders = <E, R>(
  providers: ReadonlyArray<Layer.Layer<LlmProvider, E, R>>
): Effect.Effect<ReadonlyArray<LlmProvider["Service"]>, E, R | Scope.Scope> =>
  Effect.forEach(
    providers,
    (providerLayer) => Effect.map(Layer.build(providerLayer), (context) => Context.get(context, LlmProvider))
  )

/**
 * The secrets of a manager: `given`, then each provider's own (one of each
 * value), scrubbed from every attempt's error (see `internal/scrubError.ts`).
 */
const secretsOf = (
  given: ReadonlyArray<Redacted.Redacted>,
  routes: ReadonlyArray<internal.Route>
): ReadonlyArray<Redacted.Redacted> => {
  const byValue = new Map<string, Redacted.Redacted>()
  for (const secret of [...given, ...routes.flatMap((route) => route.provider.secrets ?? [])]) {
    byValue.set(Redacted.value(secret), secret)
  }
  return [...byValue.values()]
}

/** The store in context, bounded by each request's deadline, else a store in memory (answering at once). */
const circuitStore = Effect.flatMap(
  Effect.serviceOption(CircuitBreaker.CircuitBreakerStore),
  (store) =>
    store._tag === "Some"
      ? Effect.succeed({ store: CircuitPolicy.boundedStore(store.value), fromContext: true })
      : Effect.map(
        Layer.build(CircuitBreaker.layerStoreMemory()),
        (context) => ({ store: Context.get(context, CircuitBreaker.CircuitBreakerStore), fromContext: false })
      )
)

const circuitStates = { Closed: "closed", Open: "open", HalfOpen: "half-open" } as const

const watchTransitions = (circuits: CircuitPolicy.Circuits, routes: ReadonlyArray<internal.Route>) =>
  circuits.transitions.pipe(
    Stream.runForEach((transition) =>
      Effect.all([
        transition.to === "Open"
          ? Effect.logWarning(`circuit ${transition.key}: ${transition.from} -> Open`).pipe(
            Effect.annotateLogs({ circuit: transition.key, retryAfterMs: transition.retryAfter.toString() })
          )
          : Effect.logInfo(`circuit ${transition.key}: ${transition.from} -> ${transition.to}`).pipe(
            Effect.annotateLogs({ circuit: transition.key })
          ),
        Effect.forEach(
          routes.filter((route) => transition.key.startsWith(`${route.provider.name}/`)).slice(0, 1),
          (route) => LlmMetrics.recordCircuitTransition(route.provider.name, circuitStates[transition.to])
        )
      ], { discard: true })
    ),
    Effect.forkScoped({ startImmediately: true })
  )

/**
 * Builds a manager: each provider layer once, the circuits on the
 * `CircuitBreakerStore` in context (memory when there is none), and the
 * optional `RequestLog`, `UsageLedger` and `QuotaLimiter` found in context.
 * Fails with `LlmConfigError` for an empty chain, for a policy number
 * that is no whole number in range (`FallbackPolicy.check`,
 * `CircuitPolicy.check`), naming its field: `policy.requestTimeoutMs`,
 * `circuitPolicy.cooldownMs`. A `ProviderThrottle` in context limiting a
 * provider that is neither hosted nor in the chain is logged as a warning,
 * scrubbed of the manager's secrets, as `LLM_PRICES` is
 * (`LlmConfig.warnUnknownProviders`): a typo there limits nothing, but one
 * throttle may serve chains chosen by the environment, and a provider built
 * in code may bear the name. (`continueOnInterruption`
 * works on any chain: a provider without assistant prefill rescues a broken
 * stream by restarting it and suppressing the replayed prefix.)
 *
 * @since 0.1.0
 */
export const make = <E, R>(options: Options<E, R>): Effect.Effect<Service, E | LlmConfigError, R | Scope.Scope> =>
  Effect.gen(function*() {
    if (options.providers.length === 0) {
      return yield* new LlmConfigError({
        variable: "LLM_PRIMARY_PROVIDER",
        message: "LlmManager needs at least one provider"
      })
    }
    const checked = yield* FallbackPolicy.check(options.policy ?? FallbackPolicy.defaults)
    const circuitPolicy = yield* CircuitPolicy.check(options.circuitPolicy ?? CircuitPolicy.defaults)
    const providers = yield* buildProviders(options.providers)
    const policy = internal.withModelIds(checked, providers)
    const routes = providers.map((provider, index) => internal.makeRoute(policy, index, provider))
    const { fromContext, store } = yield* circuitStore
    const circuits = yield* CircuitPolicy.makeCircuits(circuitPolicy).pipe(
      Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
    )
    yield* watchTransitions(circuits, routes)
    const quota = yield* Effect.serviceOption(QuotaLimiter)
    const throttle = yield* Effect.serviceOption(ProviderThrottle.ProviderThrottle)
    const engine: internal.Engine = {
      routes,
      policy,
      knownModels: internal.knownModels(routes, policy),
      modelIds: internal.hasModelIds(providers),
      circuits,
      openCircuits: CircuitPolicy.makeOpenCircuits(),
      requestLog: yield* Effect.serviceOption(RequestLog),
      usageLedger: yield* Effect.serviceOption(UsageLedger),
      quota,
      throttle,
      watchdog: Watchdog.make(),
      secrets: secretsOf(options.secrets ?? [], routes),
      remoteStores: fromContext || (Option.isSome(quota) && quota.value.remote === true) ||
        (Option.isSome(throttle) && throttle.value.remote === true)
    }
    if (Option.isSome(throttle)) {
      yield* ProviderThrottle.warnUnknown(throttle.value, routes.map((route) => route.provider.name), engine.secrets)
    }
    const enabled = options.generationEnabled ?? true
    /** `input`'s request, checked, started and run by `body` (one step for the clock; none for a request checked at once). */
    const withRun = <A, E2>(
      input: Input,
      body: (run: internal.Run) => Effect.Effect<A, E2>
    ): Effect.Effect<A, E2 | InvalidOptions | GenerationDisabled> =>
      enabled
        ? Effect.clockWith((clock) =>
          Effect.flatMapEager(toRequest(input), (request) => body(internal.startRun(engine, request, clock)))
        )
        : Effect.fail(new GenerationDisabled())

    const generate = (input: Input) =>
      withRun(input, (run) => internal.observe(engine, run, () => internal.generate(engine, run)))

    function generateStructured<A>(
      input: Input,
      schema: Schema.Codec<A, unknown> | StructuredOutput.StructuredOutput<A>
    ): Effect.Effect<StructuredResult<A>, GenerateError>
    function generateStructured(
      input: Input,
      schema: StructuredOutput.JsonSchema
    ): Effect.Effect<StructuredResult<unknown>, GenerateError>
    function generateStructured(
      input: Input,
      spec: StructuredOutput.Spec<unknown>
    ): Effect.Effect<StructuredResult<unknown>, GenerateError> {
      return Effect.flatMapEager(
        StructuredOutput.fromSpec(spec),
        (output) =>
          withRun(input, (run) => {
            const refused = StructuredOutput.toolsRefused(run.request)
            return refused !== undefined
              ? Effect.fail(refused)
              : internal.observe(engine, run, () => internal.generateStructured(engine, run, output))
          })
      )
    }

    const stream = (input: Input): Stream.Stream<StreamPart, StreamError> =>
      Handoff.stream<StreamPart, StreamError>((handoff) =>
        Effect.flatMap(
          withRun(input, (run) => internal.observe(engine, run, () => internal.stream(engine, run, handoff))),
          // handed over once the request is settled: a caller that stops at the Finish stops a served request
          (finish) => handoff.emit([finish])
        )
      )

    return LlmManager.of({
      providers: routes.map((route) => route.provider.name),
      steps: routes.map((route) => ({ provider: route.provider.name, model: route.model })),
      policy,
      circuitPolicy,
      generate,
      generateStructured,
      stream,
      circuitState: (provider, model) => {
        const route = routes.find((r) => r.provider.name === provider)
        return route === undefined
          ? Effect.fail(
            new InvalidOptions({
              field: "provider",
              message: `provider: "${provider}" is not in the chain (${routes.map((r) => r.provider.name).join(", ")})`
            })
          )
          : Effect.mapError(
            circuits.state(internal.circuitKey(engine, route, internal.modelFor(route, model))),
            (error) => new CircuitStoreUnavailable({ message: `circuit store: ${error.message}` })
          )
      }
    })
  })

/**
 * The manager as a layer, from an explicit chain of provider layers.
 *
 * @since 0.1.0
 */
export const layer = <E, R>(options: Options<E, R>): Layer.Layer<LlmManager, E | LlmConfigError, R> =>
  Layer.effect(LlmManager, make(options))

/**
 * The provider layers `layerConfig` may pick from, by the kind of a chain
 * step: a hosted provider, or `"openai-compatible"` for every
 * OpenAI-compatible endpoint of `LLM_CHAIN`.
 *
 * @since 0.1.0
 */
export type ProviderLayers<E, R> = { readonly [K in LlmConfig.StepKind]?: Layer.Layer<LlmProvider, E, R> }

/**
 * What `layerConfig` lets code choose over the configuration: the fallback
 * policy as a function of the configured one (e.g. `(p) => ({ ...p,
 * generateVia: "generate" })`), and the circuit policy.
 *
 * @since 0.1.0
 */
export interface ConfigOverrides {
  readonly policy?: ((configured: FallbackPolicy.FallbackPolicy) => FallbackPolicy.FallbackPolicy) | undefined
  readonly circuitPolicy?: CircuitPolicy.CircuitPolicy | undefined
}

/** One step's layer: a fresh build of its kind's layer, with `CurrentStep` set to the step. */
const stepLayer = <E, R>(
  providers: ProviderLayers<E, R>,
  step: LlmConfig.ChainStep
): Effect.Effect<Layer.Layer<LlmProvider, E, R>, LlmConfigError> => {
  const provider = providers[step.kind]
  return provider === undefined
    ? Effect.fail(
      new LlmConfigError({
        variable: step.variable,
        message: `${step.variable}: ${step.provider} is configured but no "${step.kind}" layer was given to ` +
          "LlmManager.layerConfig"
      })
    )
    : Effect.succeed(Layer.fresh(provider).pipe(Layer.provide(Layer.succeed(LlmConfig.CurrentStep, step))))
}

/**
 * The manager from `LlmConfig`: one provider per step of the configured
 * chain (`LLM_CHAIN`, or `LLM_PRIMARY_PROVIDER` then the fallbacks), each
 * built from the layer of its kind in `providers` (e.g. `{ deepseek:
 * DeepSeek.layerConfig, gemini: Gemini.layerConfig }`, or
 * `Providers.layersFromConfig` for every kind) with `LlmConfig.CurrentStep`
 * set to the step, so one kind may serve several steps with different
 * models. The policies and `AI_GENERATION_ENABLED` come from the
 * configuration, adjusted by `overrides`. A configured kind missing from
 * `providers` is an `LlmConfigError`; an `LLM_PRICES` key naming no step
 * of the chain nor a hosted provider is logged as a warning
 * (`LlmConfig.warnUnknownPricedProviders`).
 *
 * @example
 * ```ts
 * import * as LlmManager from "@baton/core/LlmManager"
 * import * as Providers from "@baton/providers/Providers"
 *
 * const Manager = LlmManager.layerConfig(
 *   { openai: Providers.layerFromConfig("openai"), anthropic: Providers.layerFromConfig("anthropic") },
 *   { policy: (configured) => ({ ...configured, generateVia: "generate" }) }
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig = <E, R>(
  providers: ProviderLayers<E, R>,
  overrides: ConfigOverrides = {}
): Layer.Layer<LlmManager, E | LlmConfigError, R | LlmConfig.LlmConfig> =>
  Layer.effect(
    LlmManager,
    Effect.gen(function*() {
      const settings = yield* LlmConfig.LlmConfig
      yield* LlmConfig.warnUnknownPricedProviders(settings)
      const chain = yield* Effect.forEach(settings.steps, (step) => stepLayer(providers, step))
      return yield* make({
        providers: chain,
        policy: (overrides.policy ?? identity)(FallbackPolicy.fromConfig(settings)),
        circuitPolicy: overrides.circuitPolicy ?? CircuitPolicy.fromConfig(settings),
        generationEnabled: settings.generationEnabled,
        secrets: LlmConfig.secrets(settings)
      })
    })
  )
