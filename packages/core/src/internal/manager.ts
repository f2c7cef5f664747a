/**
 * The engine behind `LlmManager`: one attempt, the retries on one provider,
 * the walk along the chain, hedging, streams and their continuation.
 *
 * Everything a request needs is captured when the manager is built (each
 * provider's service, the circuits, the optional log, ledger and quota
 * services), so a call builds no layer. Each attempt runs under the
 * manager's watchdog (`watchdog.ts`), which enforces the limits.
 */
import {
  Cause,
  type Clock,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  type Exit,
  Fiber,
  Option,
  type Redacted,
  Result,
  Stream
} from "effect"
import type { Attempt, Role } from "../Attempt.ts"
import * as CircuitPolicy from "../CircuitPolicy.ts"
import * as ErrorPolicy from "../ErrorPolicy.ts"
import * as FallbackPolicy from "../FallbackPolicy.ts"
import type { Reasoning } from "../GenerationOptions.ts"
import type {
  Finish,
  GenerationResult,
  Source,
  StreamPart,
  StructuredResult,
  TextDelta,
  ToolCallDelta
} from "../GenerationResult.ts"
import { textDelta } from "../GenerationResult.ts"
import { ModelId, ProviderName } from "../Ids.ts"
import { AllProvidersFailed, DeadlineExceeded, type InvalidOptions, type QuotaError } from "../LlmError.ts"
import * as LlmMetrics from "../LlmMetrics.ts"
import * as LlmProvider from "../LlmProvider.ts"
import * as LlmRequest from "../LlmRequest.ts"
import {
  CircuitOpen,
  Defect,
  MalformedResponse,
  type ProviderError,
  ProviderThrottled,
  ProviderTimeout,
  StreamInterrupted,
  type StructuredOutputInvalid
} from "../ProviderError.ts"
import * as ProviderThrottle from "../ProviderThrottle.ts"
import type * as QuotaLimiter from "../QuotaLimiter.ts"
import { scrub } from "../Redact.ts"
import type * as RequestLog from "../RequestLog.ts"
import * as StoreDeadline from "../StoreDeadline.ts"
import type * as StructuredOutput from "../StructuredOutput.ts"
import * as TokenUsage from "../TokenUsage.ts"
import type * as UsageLedger from "../UsageLedger.ts"
import type * as Handoff from "./handoff.ts"
import { scrubError } from "./scrubError.ts"
import { construct, trusted } from "./trusted.ts"
import type * as Watchdog from "./watchdog.ts"

/** The request's own deadline cut an attempt or a wait (not the provider's fault). */
export class DeadlineReached extends Data.TaggedError("DeadlineReached") {}

/** What can end an attempt, a provider or the chain inside the engine. */
export type Failure = ProviderError | DeadlineReached

// ---------------------------------------------------------------------------
// routes and the first-byte signal
// ---------------------------------------------------------------------------

/** `delivering`: a stream waits for the caller to take a delta (no limit but the deadline). */
type Phase = "first-byte" | "first-token" | "reasoning" | "idle" | "body" | "delivering"

/**
 * How far the current attempt has got, updated by the provider's observed
 * HTTP client (request sent, headers received) and by the stream (each chunk).
 * Before the request leaves, the attempt is in `afterHeaders` (the first
 * token for a stream, the body for a plain call). It is also the attempt's
 * `LlmProvider.Supervisor`: the adapter reports usage seen mid-stream to it,
 * and the reasoning the stream carries (see {@link reasoned}).
 */
interface Progress extends LlmProvider.Supervisor {
  /** The request's clock: the phases' times are read from it directly. */
  readonly clock: Clock.Clock
  /** When the attempt started, on `clock`. */
  readonly startedAt: number
  phase: Phase
  since: number
  readonly afterHeaders: Phase
  /** Characters of text received by this attempt. */
  received: number
  /** The latest usage the provider reported during this attempt. */
  reported: TokenUsage.TokenUsage | undefined
  /** The `Finish` of a stream stopped after its whole answer, before its end marker (`Supervisor.complete`). */
  completed: Finish | undefined
}

const makeProgress = (first: Phase, clock: Clock.Clock, now: number): Progress => {
  const progress: Progress = {
    clock,
    startedAt: now,
    phase: first,
    since: now,
    afterHeaders: first,
    received: 0,
    reported: undefined,
    completed: undefined,
    usage: (usage) => {
      progress.reported = usage
    },
    complete: (finish) => {
      progress.completed = finish
    },
    reasoning: () => {
      reasoned(progress)
    }
  }
  return progress
}

/**
 * A stream event carried reasoning the caller is not handed (DeepSeek's
 * `reasoning_content`, Anthropic's thinking, Gemini's thoughts): the model
 * streams. Before its first answer token the attempt is `reasoning`: each
 * such event restarts the wait for the next, which may last the longer of
 * the model's first-token limit and the idle limit (a model may think
 * silently between two bursts of reasoning), and the attempt limit no longer
 * applies (the deadline does), as once a first token came, unless the model
 * has been silent for the idle limit where a step behind it needs the rest
 * of the deadline ({@link limitsCheck}). After it, the
 * attempt stays `idle`, its wait restarted. No text reached the caller
 * (`received` does not grow, and the answer is claimed only by its first
 * delta). An attempt `delivering` stays so: the caller still holds a batch.
 */
const reasoned = (progress: Progress): void => {
  const phase = progress.phase
  if (phase === "first-token" || phase === "reasoning" || phase === "idle") {
    if (phase === "first-token") progress.phase = "reasoning"
    progress.since = progress.clock.currentTimeMillisUnsafe()
  }
}

/** The progress of the attempt running on this fiber, moved by the HTTP observer. */
const CurrentProgress = Context.Reference<Progress | undefined>("@baton/core/internal/manager/CurrentProgress", {
  defaultValue: () => undefined
})

/** One provider of the chain, built once, with what its attempts on its own model need (see {@link makeRoute}). */
export interface Route {
  readonly index: number
  readonly provider: LlmProvider.Service
  /** The provider's model, as the provider knows it (see {@link modelFor}). */
  readonly model: ModelId
  /** The retries, circuit key and attempt limits of its own model. */
  readonly own: Target
  /** The targets of other models the configuration knows, built the first time a request names one. */
  readonly known: Map<string, Target>
  /** The targets of the first {@link ownCircuits} models only requests name: a circuit of their own each. */
  readonly unknown: Map<string, Target>
  /** The target every further model shares: plain, then one that thinks silently (`FallbackPolicy.thinksSilently`). */
  readonly others: [plain: Target | undefined, thinking: Target | undefined]
}

/**
 * The retries, circuit key, attempt limits and metric `model` label of one
 * provider and model.
 */
interface Target {
  readonly maxRetries: number
  readonly key: string
  /** The limits of a request that asks for no reasoning level. */
  readonly limits: AttemptLimits
  /**
   * The limits of a request asking for a level, by level, each built the first time one does (see {@link limitsAt});
   * `undefined` on a target models share, whose limits at a level may differ.
   */
  readonly levels: Partial<Record<Reasoning, AttemptLimits>> | undefined
  /** The `model` of its circuit key and of its attempts' metrics: the model, or {@link otherModel}. */
  readonly label: ModelId
}

/** The circuit and metric `model` of every model the configuration does not name (see {@link targetFor}). */
const otherModel = ModelId.make(LlmMetrics.otherModel)

/** How many models only requests name get a circuit of their own on a provider (see {@link targetFor}). */
const ownCircuits = 32

/**
 * The attempt limits of `model` on `provider`: the policy's, with the model's first-token limit at the level
 * `reasoning` (`stopsThinking`: the provider's `"none"` turns the model's thinking off), and the attempt limit
 * longer by as much as that first-token limit is longer than the plain one (a model that thinks first), so that
 * it never cuts the wait the first-token limit allows: a stream's until its first token, a plain call's (a
 * structured answer, `generateVia: "generate"`), which thinks as long before its answer, in all.
 */
const limitsOf = (
  policy: FallbackPolicy.FallbackPolicy,
  provider: ProviderName,
  model: ModelId,
  reasoning?: Reasoning,
  stopsThinking?: boolean
): AttemptLimits => {
  const firstTokenMs = FallbackPolicy.firstTokenLimit(policy.limits, provider, model, reasoning, stopsThinking)
  return {
    ...policy.limits,
    attemptMs: policy.limits.attemptMs + Math.max(0, firstTokenMs - policy.limits.firstTokenMs),
    firstTokenMs
  }
}

const targetOf = (
  policy: FallbackPolicy.FallbackPolicy,
  provider: ProviderName,
  model: ModelId,
  label: ModelId,
  circuit: ModelId = label
): Target => ({
  maxRetries: FallbackPolicy.maxRetriesFor(policy, provider, model),
  key: CircuitPolicy.key(provider, circuit),
  limits: limitsOf(policy, provider, model),
  // the target further models share (their circuit `otherModel`) keeps no level's limits: theirs may differ
  levels: circuit === otherModel ? undefined : {},
  label
})

/**
 * The attempt limits of a request asking for the reasoning level `reasoning`
 * on `model`'s target on `route`: only its first-token limit may differ from
 * the target's ({@link FallbackPolicy.firstTokenLimit}, by the route's
 * `LlmProvider.Capabilities.stopsThinking`), built the first time a request
 * asks for the level on the target; on the target models share
 * ({@link Route.others}), for each attempt.
 */
const limitsAt = (
  policy: FallbackPolicy.FallbackPolicy,
  route: Route,
  target: Target,
  model: ModelId,
  reasoning: Reasoning
): AttemptLimits => {
  const levels = target.levels
  const cached = levels?.[reasoning]
  if (cached !== undefined) return cached
  const stops = reasoning === "none" && route.provider.capabilities.stopsThinking?.(model) === true
  const limits = limitsOf(policy, route.provider.name, model, reasoning, stops)
  if (levels !== undefined) levels[reasoning] = limits
  return limits
}

/**
 * The id `provider` knows `model` by (`LlmProvider.Service.modelId`: Gemini's
 * `models/gemini-2.5-flash` is `gemini-2.5-flash`): what the manager keys a
 * model's circuit, policy entries and metrics by, and what its attempts, the
 * request log and the ledger name, so both names are one model.
 */
const idOf = (provider: LlmProvider.Service, model: ModelId): ModelId =>
  provider.modelId === undefined ? model : provider.modelId(model)

/**
 * The model a request naming `model` (`options.model`; `undefined`: none)
 * runs on `route`, as the route's provider knows it (see {@link idOf}).
 */
export const modelFor = (route: Route, model: ModelId | undefined): ModelId =>
  model === undefined ? route.model : idOf(route.provider, model)

/**
 * The route of the `index`th provider: its own model's retries, circuit key
 * and attempt limits computed once, not per attempt (see {@link targetFor}).
 */
export const makeRoute = (
  policy: FallbackPolicy.FallbackPolicy,
  index: number,
  provider: LlmProvider.Service
): Route => {
  const model = idOf(provider, provider.model)
  return {
    index,
    provider,
    model,
    own: targetOf(policy, provider.name, model, model),
    known: new Map(),
    unknown: new Map(),
    others: [undefined, undefined]
  }
}

/**
 * The entries of a per-model record (`maxRetriesByModel`,
 * `firstTokenMsByModel`), each also under its model's id on the providers
 * of the chain ({@link idOf}): a key `gemini/models/gemini-2.5-flash`
 * applies to `gemini/gemini-2.5-flash` too, and a key
 * `models/gemini-2.5-flash` to `gemini-2.5-flash` on the providers whose id
 * it is (not on another provider serving a model of that name). A key
 * written with the id wins.
 */
const byModelIds = (
  byModel: Readonly<Record<string, number>>,
  providers: ReadonlyArray<LlmProvider.Service>
): Readonly<Record<string, number>> => {
  const entries = new Map(Object.entries(byModel))
  const add = (key: string, value: number) => {
    if (!entries.has(key)) entries.set(key, value)
  }
  for (const [key, value] of Object.entries(byModel)) {
    // a provider name has no `/`: the first one ends it
    const slash = key.indexOf("/")
    const named = slash > 0 ? providers.filter((provider) => provider.name === key.slice(0, slash)) : []
    for (const provider of named) add(`${provider.name}/${idOf(provider, key.slice(slash + 1) as ModelId)}`, value)
    if (named.length > 0) continue
    for (const provider of providers) {
      const id = idOf(provider, key as ModelId)
      if (id !== key && !entries.has(id)) add(`${provider.name}/${id}`, value)
    }
  }
  return Object.fromEntries(entries)
}

/** Whether a provider of `providers` knows models by ids of its own (`LlmProvider.Service.modelId`). */
export const hasModelIds = (providers: ReadonlyArray<LlmProvider.Service>): boolean =>
  providers.some((provider) => provider.modelId !== undefined)

/**
 * The policy a manager over `providers` applies: `policy`, its per-model
 * keys also under their models' ids on those providers (see
 * {@link byModelIds}); `policy` itself when no provider has ids of its own.
 */
export const withModelIds = (
  policy: FallbackPolicy.FallbackPolicy,
  providers: ReadonlyArray<LlmProvider.Service>
): FallbackPolicy.FallbackPolicy =>
  !hasModelIds(providers) ? policy : {
    ...policy,
    maxRetriesByModel: byModelIds(policy.maxRetriesByModel, providers),
    limits: { ...policy.limits, firstTokenMsByModel: byModelIds(policy.limits.firstTokenMsByModel, providers) }
  }

/**
 * The models a manager's configuration names: each step's model, and the
 * model of each per-model policy key (`maxRetriesByModel`,
 * `firstTokenMsByModel`; a key is a model, or `provider/model` for a
 * provider of the chain). Computed once, when the manager is built.
 */
export const knownModels = (
  routes: ReadonlyArray<Route>,
  policy: FallbackPolicy.FallbackPolicy
): ReadonlySet<string> => {
  const known = new Set<string>()
  const providers = new Set<string>()
  for (const route of routes) {
    known.add(route.model)
    providers.add(route.provider.name)
  }
  for (const keys of [policy.maxRetriesByModel, policy.limits.firstTokenMsByModel]) {
    for (const key of Object.keys(keys)) {
      known.add(key)
      // a provider name has no `/`: the first one ends it
      const slash = key.indexOf("/")
      if (slash > 0 && providers.has(key.slice(0, slash))) known.add(key.slice(slash + 1))
    }
  }
  return known
}

/**
 * The target of a request on a route: the route's own, or that of the model
 * the request names (`options.model`, as the provider knows it:
 * {@link modelFor}). A model the configuration knows
 * (`Engine.knownModels`) has its own circuit and metric series; every other
 * model a caller may name is counted as {@link otherModel}
 * (`LlmMetrics.otherModel`), and the first {@link ownCircuits} of them on a
 * provider have a circuit of their own (one caller's failing model does not
 * open its neighbours'), the rest share one, so callers choosing models
 * cannot grow the circuits or the metric series without bound. The retries
 * and limits are still the named model's (for a model no policy key names:
 * the defaults, and the thinking first-token limit when it thinks silently,
 * by its name and, with a level, by {@link limitsAt}).
 * The attempts, the request log and the ledger keep the real model.
 */
const targetFor = (engine: Engine, route: Route, model: ModelId): Target => {
  if (model === route.model) return route.own
  const provider = route.provider.name
  if (engine.knownModels.has(model)) {
    let target = route.known.get(model)
    if (target === undefined) {
      target = targetOf(engine.policy, provider, model, model)
      route.known.set(model, target)
    }
    return target
  }
  let target = route.unknown.get(model)
  if (target === undefined && route.unknown.size < ownCircuits) {
    target = targetOf(engine.policy, provider, model, otherModel, model)
    route.unknown.set(model, target)
  }
  if (target !== undefined) return target
  // no policy key names the model: its retries and limits depend on whether it thinks silently alone
  const slot = FallbackPolicy.thinksSilently(model) ? 1 : 0
  return route.others[slot] ??= targetOf(engine.policy, provider, model, otherModel)
}

/**
 * The circuit key of `model` (as the route's provider knows it:
 * {@link modelFor}) on a route: what `LlmManager.circuitState` reads, the
 * key its attempts would use now.
 * Reading takes none of the {@link ownCircuits} a requested model may get.
 */
export const circuitKey = (engine: Engine, route: Route, model: ModelId): string => {
  if (model === route.model || engine.knownModels.has(model)) return targetFor(engine, route, model).key
  const circuit = route.unknown.has(model) || route.unknown.size < ownCircuits ? model : otherModel
  return CircuitPolicy.key(route.provider.name, circuit)
}

/**
 * Moves the current attempt from phase `from` (the phase after the headers
 * when `from` is `undefined`) to `to`, if it is there. One context read, no
 * generator: it runs twice per HTTP request.
 */
const mark = (from: Phase | undefined, to: Phase | undefined): Effect.Effect<void> =>
  Effect.contextWith((context: Context.Context<never>) => {
    const progress = Context.get(context, CurrentProgress)
    if (progress !== undefined && progress.phase === (from ?? progress.afterHeaders)) {
      progress.phase = to ?? progress.afterHeaders
      progress.since = progress.clock.currentTimeMillisUnsafe()
    }
    return Effect.void
  })

/** The request left: from now on the attempt waits for its first byte. */
const markSent = mark(undefined, "first-byte")

/** The headers arrived: the attempt moves on to its first token (streams) or its body. */
const markHeaders = mark("first-byte", undefined)

/** What the manager hears from a provider's observed `HttpClient` (`LlmProvider.observeHttpClient`). */
const httpObserver: LlmProvider.HttpObserver = { sent: markSent, headers: markHeaders }

// ---------------------------------------------------------------------------
// the engine and one request
// ---------------------------------------------------------------------------

/** What the engine captured at build time. */
export interface Engine {
  readonly routes: ReadonlyArray<Route>
  readonly policy: FallbackPolicy.FallbackPolicy
  /** The models the configuration names ({@link knownModels}): their own circuits and metric series. */
  readonly knownModels: ReadonlySet<string>
  /** Whether a provider of the chain knows models by ids of its own (`LlmProvider.Service.modelId`). */
  readonly modelIds: boolean
  readonly circuits: CircuitPolicy.Circuits
  /** The circuits known open, skipped without asking the circuits' store. */
  readonly openCircuits: CircuitPolicy.OpenCircuits
  readonly requestLog: Option.Option<RequestLog.Service>
  readonly usageLedger: Option.Option<UsageLedger.Service>
  readonly quota: Option.Option<QuotaLimiter.Service>
  readonly throttle: Option.Option<ProviderThrottle.Service>
  readonly watchdog: Watchdog.Watchdog<Failure>
  /**
   * Every secret to scrub from an attempt's error and its request-log record:
   * each provider's key (`LlmProvider.Service.secrets`) and those the
   * manager was given.
   */
  readonly secrets: ReadonlyArray<Redacted.Redacted>
  /**
   * A store waits on I/O (the breaker's store came from context, or the quota's
   * is remote): each request runs with its deadline as `StoreDeadline`, which
   * bounds the stores' commands.
   */
  readonly remoteStores: boolean
}

/** One request on its way through the chain. */
export interface Run {
  readonly request: LlmRequest.LlmRequest
  /**
   * The model the request names on each route, by `Route.index`, as its
   * provider knows it ({@link modelFor}); `undefined` when it names none, or
   * no provider of the chain has ids of its own (`Engine.modelIds`).
   */
  readonly models: ReadonlyArray<ModelId> | undefined
  /** The fiber's `Clock` when the request started: read directly, not through an effect per use. */
  readonly clock: Clock.Clock
  readonly timeoutMs: number
  readonly deadlineAt: number
  /** One slot per attempt, in the order they started; filled when each ends. */
  readonly attempts: Array<Attempt | undefined>
  /** The sum of the usage every attempt reported (what the request was billed). */
  billed: TokenUsage.TokenUsage | undefined
  /** Streams: the answer the caller receives as it comes (`generate` builds one per hedge side instead). */
  readonly answer: Answer
  /** Streams: routes that refused an assistant prefill during this request. */
  readonly noPrefill: Array<number>
  /** The quota held for the request, billed with each attempt's usage (when there is a quota and a subject). */
  reservation: QuotaLimiter.Reservation | undefined
  /**
   * Set when a request with a subject starts while every provider's circuit
   * is known open (see {@link knownOpenEverywhere}): each route's wait, by
   * `Route.index`. Every attempt of the request is then skipped with that
   * wait, whatever the circuits say by then, so none runs on the quota it did
   * not take.
   */
  skipsAll: ReadonlyArray<number> | undefined
  /**
   * When each skipped attempt was skipped, by slot (none until one is): its
   * error's wait counts from then, and the request's error from its own end
   * ({@link attemptsAt}).
   */
  skippedAt: Array<number> | undefined
}

/**
 * One answer streamed from a provider, across the attempts that rescue it.
 * A `stream`'s is the caller's ({@link Run.answer}): the sides of a hedge
 * share it, and the first to deliver a delta claims it. `generate` hands
 * its text to nobody before the end: each hedge side builds an answer of
 * its own, and the first to succeed wins.
 */
interface Answer {
  /** The text handed on (since the last `Restart`). */
  delivered: string
  /**
   * The output tokens behind `delivered`, as the attempts that ended after handing it on spent them (see
   * {@link spend}): what a continuation's `maxTokens` leaves out.
   */
  spent: number
  /** Some text or tool-call delta was handed on (a failure now ends in `StreamInterrupted`). */
  shown: boolean
  /** A `Restart` is owed before the next delta. */
  restartPending: boolean
  /** Who produced the delivered text, in order. */
  sources: Array<Source>
  /** The answer survived a broken attempt. */
  rescued: boolean
}

const makeAnswer = (): Answer => ({
  delivered: "",
  spent: 0,
  shown: false,
  restartPending: false,
  sources: [],
  rescued: false
})

/** Starts the clock of a request at `clock`'s now (the fiber's clock, read by the caller's step). */
export const startRun = (engine: Engine, request: LlmRequest.LlmRequest, clock: Clock.Clock): Run => {
  const now = clock.currentTimeMillisUnsafe()
  // whole milliseconds, as `DeadlineExceeded.timeoutMs` reports them
  const timeoutMs = request.options.timeout === undefined
    ? engine.policy.requestTimeoutMs
    : Math.ceil(Duration.toMillis(request.options.timeout))
  const named = request.options.model
  return {
    request,
    models: named === undefined || !engine.modelIds ? undefined : engine.routes.map((route) => modelFor(route, named)),
    clock,
    timeoutMs,
    deadlineAt: now + timeoutMs,
    attempts: [],
    billed: undefined,
    answer: makeAnswer(),
    noPrefill: [],
    reservation: undefined,
    skipsAll: undefined,
    skippedAt: undefined
  }
}

const attemptsOf = (run: Run): ReadonlyArray<Attempt> => run.attempts.filter((a) => a !== undefined)

/** Notes that the attempt in `slot` was skipped at `at`: its wait counts from then. */
const skippedAt = (run: Run, slot: number, at: number): void => {
  ;(run.skippedAt ??= [])[slot] = at
}

/**
 * `run`'s attempts as the request's error reports them at `now`: each skip's
 * wait (a circuit's half-open, a budget's refill) counted from `now`, not
 * from the skip, so the `Retry-After` made of it is not late by the time the
 * attempts after the skip took.
 */
const attemptsAt = (run: Run, now: number): ReadonlyArray<Attempt> => {
  const at = run.skippedAt
  if (at === undefined) return attemptsOf(run)
  const attempts: Array<Attempt> = []
  run.attempts.forEach((attempt, slot) => {
    if (attempt !== undefined) attempts.push(waitFrom(attempt, now - (at[slot] ?? now)))
  })
  return attempts
}

/** `attempt` with its skip's wait shortened by the `elapsed` milliseconds since the skip (none below 0). */
const waitFrom = (attempt: Attempt, elapsed: number): Attempt => {
  const error = attempt.error
  if (elapsed <= 0 || (error?._tag !== "CircuitOpen" && error?._tag !== "ProviderThrottled")) return attempt
  if (error.retryAfter === undefined) return attempt
  const retryAfter = Duration.millis(Math.max(0, Duration.toMillis(error.retryAfter) - elapsed))
  const fields = { provider: error.provider, ...(error.model === undefined ? {} : { model: error.model }), retryAfter }
  return withError(
    attempt,
    error._tag === "CircuitOpen"
      ? new CircuitOpen(fields, trusted)
      : new ProviderThrottled({ ...fields, limit: error.limit }, trusted)
  )
}

/** The model of `run`'s attempts on `route`: the one the request names, else the route's own. */
const modelOf = (route: Route, run: Run): ModelId =>
  run.models?.[route.index] ?? run.request.options.model ?? route.model

// ---------------------------------------------------------------------------
// one attempt
// ---------------------------------------------------------------------------

/** What a finished attempt reports to the log and the ledger. */
interface Report {
  readonly usage: TokenUsage.TokenUsage | undefined
  readonly finishReason: GenerationResult["finishReason"] | undefined
  /** The id the provider gave its response (the attempt span's `gen_ai.response.id`). */
  readonly responseId?: string | undefined
  /** The model the provider says answered (the attempt span's `gen_ai.response.model`). */
  readonly responseModel?: string | undefined
}

/** The limits of one attempt: the policy's, with the first-token limit of its model and reasoning level. */
interface AttemptLimits {
  /** A plain call's attempt limit, and a stream's until its first token (see {@link limitsOf}). */
  readonly attemptMs: number
  readonly firstByteMs: number
  readonly firstTokenMs: number
  readonly idleMs: number
}

const limitOf = (limits: AttemptLimits, phase: Phase): number => {
  switch (phase) {
    case "first-byte":
      return limits.firstByteMs
    case "first-token":
      return limits.firstTokenMs
    case "reasoning":
      return Math.max(limits.firstTokenMs, limits.idleMs)
    case "idle":
      return limits.idleMs
    case "body":
    case "delivering":
      return Number.POSITIVE_INFINITY
  }
}

/**
 * Whether the policy hedges the chain: a hedge delay, and more than one
 * provider (a chain of one is never hedged: see `chain`).
 */
const hedges = (engine: Engine): boolean => engine.policy.hedgeDelayMs !== undefined && engine.routes.length > 1

/**
 * What an attempt leaves of the deadline to the steps behind it: the plain
 * attempt limit when one of them may run after it (not known open at `now`
 * for the model the request names: a circuit the store refused lately),
 * none when every later step is known open, or when hedging runs them beside
 * it rather than after it.
 */
const reserveFor = (engine: Engine, run: Run, route: Route, now: number): number => {
  if (hedges(engine)) return 0
  const routes = engine.routes
  for (let index = route.index + 1; index < routes.length; index++) {
    // read only: a later step's circuit key takes none of the circuits a named model may get
    const later = routes[index] as Route
    const key = circuitKey(engine, later, modelOf(later, run))
    if (engine.openCircuits.retryAfter(key, now) === undefined) {
      return engine.policy.limits.attemptMs
    }
  }
  return 0
}

/**
 * The watchdog's check of one attempt (see `watchdog.ts`): at `now`, its
 * failure once it outlived a limit (its phase limit: first byte, first
 * token, idle; the attempt limit; the request's deadline), else when to
 * check it next. Once a stream produced its first token only the idle limit
 * and the deadline bound it: a healthy long answer is not cut by the attempt
 * limit; once it streamed reasoning before its answer, the longer of the
 * first-token and idle limits between two events, and the deadline
 * ({@link reasoned}), except that silent for the idle limit where only the
 * plain attempt limit of a step behind it is left of the deadline it ends
 * (the step keeps its time). A
 * plain call waits for its headers within the first-byte limit only where
 * they come before its answer (`early`:
 * `LlmProvider.Capabilities.headersBeforeAnswer`); elsewhere they come with
 * the whole answer, and the attempt limit alone bounds the wait. An attempt
 * with a step behind it in the chain ends, at the latest, when the plain
 * attempt limit (`reserveMs`) is what is left of the deadline (never before
 * the plain limit itself): the next provider gets its turn. The next
 * check is never later than the shortest limit, since a later phase may
 * start any moment. It is the only clock on the manager's path (adapters run
 * none under a supervisor).
 */
const limitsCheck = (
  progress: Progress,
  limits: AttemptLimits,
  startedAt: number,
  deadlineAt: number,
  provider: ProviderName,
  model: ModelId,
  early: boolean,
  reserveMs: number
): Watchdog.Check<Failure> => {
  const plain = progress.afterHeaders === "body"
  // a step behind this one keeps `reserveMs` of the deadline (never less than the plain limit, which `reserveMs`
  // is): the attempt ends where only that is left, and a model that thinks first waits its longer limit only there
  const reservedAt = Math.max(Math.min(startedAt + reserveMs, deadlineAt), deadlineAt - reserveMs)
  const attemptEnd = Math.min(startedAt + limits.attemptMs, reservedAt)
  const attemptMs = attemptEnd - startedAt
  // a plain call's headers come with its answer unless the provider sends them early: then only the attempt limit
  const firstByteMs = plain && !early ? Number.POSITIVE_INFINITY : limits.firstByteMs
  const shortest = plain ? Math.min(firstByteMs, attemptMs) : Math.min(firstByteMs, limits.firstTokenMs, limits.idleMs)
  return (now) => {
    if (now >= deadlineAt) return new DeadlineReached()
    const phase = progress.phase
    const received = progress.received
    // silent for the idle limit after its reasoning where the step behind it needs the rest: it gets its turn
    if (phase === "reasoning" && now >= reservedAt && now - progress.since >= limits.idleMs) {
      return new ProviderTimeout({ provider, model, phase: "attempt", timeoutMs: reservedAt - startedAt, received })
    }
    // only the deadline ends `delivering`: the caller's slowness is not the provider's
    const end = phase === "idle" || phase === "reasoning" || phase === "delivering" ? deadlineAt : attemptEnd
    if (now >= end) {
      return new ProviderTimeout({ provider, model, phase: "attempt", timeoutMs: attemptMs, received })
    }
    const limit = phase === "first-byte" ? firstByteMs : limitOf(limits, phase)
    const phaseEnd = progress.since + limit
    if (now >= phaseEnd && phase !== "body" && phase !== "delivering") {
      // a model that reasoned and then went silent is still waited on for its first token
      const timedOut = phase === "reasoning" ? "first-token" : phase
      return new ProviderTimeout({ provider, model, phase: timedOut, timeoutMs: limit, received })
    }
    // a reasoning model that stays silent is checked again the moment it may be ended for the step behind it
    const silentAt = phase === "reasoning" ? Math.max(reservedAt, progress.since + limits.idleMs) : end
    return Math.min(end, phaseEnd, silentAt, now + shortest)
  }
}

/**
 * The attempt an exit records. Provider errors (a `Defect` included) are
 * errors or skips; only an interruption or the request's own deadline is
 * `cancelled`.
 */
const toAttempt = <A>(
  exit: Exit.Exit<A, Failure>,
  base: Omit<Attempt, "outcome" | "error">
): Attempt => {
  if (exit._tag === "Success") return { ...base, outcome: "success" }
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error) || error.value._tag === "DeadlineReached") return { ...base, outcome: "cancelled" }
  const skipped = error.value._tag === "CircuitOpen" || error.value._tag === "ProviderThrottled"
  return { ...base, outcome: skipped ? "skipped" : "error", error: error.value }
}

/** A failed or cancelled attempt's report: the usage its error carries, else what the stream reported. */
const failureReport = (cause: Cause.Cause<Failure>, progress: Progress): Report => {
  const error = Cause.findErrorOption(cause)
  const usage = Option.isSome(error) && "usage" in error.value ? error.value.usage : undefined
  // an answer that did not decode because it was cut: the log says where it ended
  const cut = Option.isSome(error) && "truncated" in error.value && error.value.truncated
  return { usage: usage ?? progress.reported, finishReason: cut ? "length" : undefined }
}

/**
 * The call's failure as its attempt records it: a provider error scrubbed of
 * every secret of the chain (an endpoint may echo another provider's key:
 * see `scrubError.ts`), a bug in the adapter or codec (a throw, a die) as a
 * `Defect`, scrubbed too. Scrubbed once, here, as the call fails: the
 * circuit, the attempt's span, the log, the ledger and the caller's error
 * all get the scrubbed error. A call that succeeds pays nothing more than
 * the one handler it always had.
 */
const asFailure = <A>(
  call: Effect.Effect<A, ProviderError>,
  provider: ProviderName,
  model: ModelId,
  secrets: ReadonlyArray<Redacted.Redacted>
): Effect.Effect<A, ProviderError> =>
  Effect.catchCause(call, (cause) => {
    const defect = Cause.findDefect(cause)
    if (Result.isFailure(defect)) {
      return Effect.failCause(Cause.map(cause, (error) => scrubError(error, secrets, provider, model)))
    }
    const text = defect.success instanceof Error ? defect.success.message : String(defect.success)
    return Effect.fail(
      new Defect({ provider, model, message: scrub(`bug in the ${provider} adapter: ${text}`, secrets) })
    )
  })

/** What a provider's answer says of itself: the id and model its response names. */
interface Named {
  readonly responseId?: string | undefined
  readonly responseModel?: string | undefined
}

/**
 * `answer` with its response id and model scrubbed of every secret of the
 * chain (a server may echo a key into them, as into an error: see
 * {@link asFailure}); itself when they hold none. The result, a stream's
 * `Finish`, the attempt's span and the request log all get the scrubbed one.
 */
const scrubNames = <A extends Named>(answer: A, secrets: ReadonlyArray<Redacted.Redacted>): A => {
  const { responseId, responseModel } = answer
  const id = responseId === undefined ? undefined : scrub(responseId, secrets)
  const model = responseModel === undefined ? undefined : scrub(responseModel, secrets)
  return id === responseId && model === responseModel ? answer : { ...answer, responseId: id, responseModel: model }
}

/**
 * Runs one call on one provider: skipped when its circuit is known open
 * ({@link skip}), else through its circuit, under the watchdog, and,
 * whatever happens (interruption included), records the attempt and reports
 * it to the request log and the usage ledger. A stream that went silent past
 * the idle limit after its whole answer came, before its end marker
 * ({@link Progress.completed}), ends as that answer (`completed`), not as a
 * failure to rescue.
 */
const attempt = <A>(
  engine: Engine,
  run: Run,
  route: Route,
  role: Role,
  mode: "stream" | "call",
  call: (progress: Progress) => Effect.Effect<A, ProviderError>,
  report: (value: A) => Report,
  completed?: (finish: Finish, progress: Progress) => Effect.Effect<A, Failure>
): Effect.Effect<A, Failure> => {
  // built when the attempt starts (see `Once`)
  const startedAt = run.clock.currentTimeMillisUnsafe()
  if (startedAt >= run.deadlineAt) return Effect.fail(new DeadlineReached())
  const provider = route.provider.name
  const model = modelOf(route, run)
  const target = targetFor(engine, route, model)
  const { key, label } = target
  const reasoning = run.request.options.reasoning
  const limits = reasoning === undefined ? target.limits : limitsAt(engine.policy, route, target, model, reasoning)
  const slot = run.attempts.push(undefined) - 1
  const known = run.skipsAll === undefined
    ? engine.openCircuits.retryAfter(key, startedAt)
    : run.skipsAll[route.index] ?? 0
  if (known !== undefined) {
    return skip(engine, run, slot, { provider, model, role }, known, label, startedAt, route.provider.server)
  }
  const estimate = Option.isNone(engine.throttle) ? 0 : ProviderThrottle.estimateTokens(run.request)
  const progress = makeProgress(mode === "stream" ? "first-token" : "body", run.clock, startedAt)
  // built only once no circuit known open skips the attempt (and a throttle let it through)
  const watched = () =>
    engine.watchdog.guard(
      // one context update, not three: a request holds each one's restore frame while in flight
      Effect.updateContext(
        asFailure(Effect.suspend(() => call(progress)), provider, model, engine.secrets),
        (context: Context.Context<never>) =>
          Context.add(
            Context.add(Context.add(context, CurrentProgress, progress), LlmProvider.Supervisor, progress),
            LlmProvider.CurrentHttpObserver,
            httpObserver
          )
      ),
      limitsCheck(
        progress,
        limits,
        startedAt,
        run.deadlineAt,
        provider,
        model,
        route.provider.capabilities.headersBeforeAnswer === true,
        reserveFor(engine, run, route, startedAt)
      )
    )
  const guarded = completed === undefined ? watched : () =>
    Effect.catch(watched(), (error) => {
      const finish = progress.completed
      // silent past the idle limit, or until the deadline, after the whole answer came
      return finish !== undefined &&
          (error._tag === "DeadlineReached" || (error._tag === "ProviderTimeout" && error.phase === "idle"))
        ? completed(scrubNames(finish, engine.secrets), progress)
        : Effect.fail(error)
    })
  const record = (exit: Exit.Exit<A, Failure>) => {
    const now = run.clock.currentTimeMillisUnsafe()
    const entry = toAttempt(exit, { provider, model, role, latencyMs: now - startedAt })
    run.attempts[slot] = entry
    if (entry.outcome === "skipped") skippedAt(run, slot, now)
    const details = exit._tag === "Success" ? report(exit.value) : failureReport(exit.cause, progress)
    if (details.usage !== undefined) {
      run.billed = run.billed === undefined ? details.usage : TokenUsage.add(run.billed, details.usage)
    }
    return writeReport(
      engine,
      run,
      {
        request: run.request,
        attemptNumber: slot + 1,
        attempt: entry,
        ...details,
        endedAt: now,
        secrets: engine.secrets
      },
      estimate,
      label
    )
  }
  // the throttle is taken only once the circuit admitted the attempt: a skip calls nobody and spends nothing. Its
  // refusal ends the admitted call, an outcome the circuit ignores (`ErrorPolicy`; a half-open probe's slot is freed)
  const throttle = engine.throttle
  const throttled = Option.isNone(throttle)
    ? guarded
    : () => Effect.andThen(throttle.value.check(provider, { model, tokens: estimate }), guarded)
  return circuit(engine, throttled, key, provider, model, startedAt).pipe(
    Effect.onExit(record),
    LlmMetrics.withAttemptSpan({
      request: run.request,
      provider,
      model,
      role,
      attemptNumber: slot + 1,
      server: route.provider.server
    })
  )
}

/**
 * An attempt on a circuit known open: refused at once, without asking the
 * circuits' store or calling the provider, and recorded as a skip (its
 * span started and ended at once by `LlmMetrics.recordSkippedAttempt`, the
 * log, the ledger).
 */
const skip = (
  engine: Engine,
  run: Run,
  slot: number,
  target: Pick<Attempt, "provider" | "model" | "role">,
  retryAfterMs: number,
  label: string,
  startedAt: number,
  server: LlmProvider.Server | undefined
): Effect.Effect<never, Failure> => {
  const error = construct(CircuitOpen, {
    _tag: "CircuitOpen",
    provider: target.provider,
    model: target.model,
    retryAfter: Duration.millis(retryAfterMs)
  })
  const entry: Attempt = { ...target, latencyMs: 0, outcome: "skipped", error }
  run.attempts[slot] = entry
  skippedAt(run, slot, startedAt)
  const report: RequestLog.AttemptReport = {
    request: run.request,
    attemptNumber: slot + 1,
    attempt: entry,
    usage: undefined,
    finishReason: undefined,
    endedAt: startedAt,
    secrets: engine.secrets
  }
  // recorded whatever happens, as `attempt`'s `onExit` records: a hedge side interrupted mid-write keeps its rows
  return Effect.andThen(
    Effect.uninterruptible(
      writeReport(
        engine,
        run,
        report,
        0,
        label,
        (report, label) => LlmMetrics.recordSkippedAttempt(report, label, server)
      )
    ),
    Effect.fail(error)
  )
}

/**
 * Runs `guarded` through the circuit of `provider/model` once the circuits'
 * store admitted it (see `CircuitPolicy`; a store that cannot answer lets it
 * run unrecorded). A circuit known open never gets here (see {@link skip}).
 */
const circuit = <A>(
  engine: Engine,
  guarded: () => Effect.Effect<A, Failure>,
  key: string,
  provider: ProviderName,
  model: ModelId,
  now: number
): Effect.Effect<A, Failure> =>
  // `execute` runs the call unrecorded when the store cannot admit it: what it refuses is an open or probing circuit
  engine.circuits.execute(guarded(), key, (error) => {
    if (error.reason._tag !== "CircuitOpen") return Effect.fail(new CircuitOpen({ provider, model }, trusted))
    const retryAfter = error.reason.retryAfter
    engine.openCircuits.opened(key, now, Duration.toMillis(retryAfter))
    return Effect.fail(new CircuitOpen({ provider, model, retryAfter }, trusted))
  })

/** `first`, then `next`; `first` alone when `next` is `Effect.void` (a quota with no budget bills nothing): two steps fewer. */
const unlessVoid = (first: Effect.Effect<void>, next: Effect.Effect<void>): Effect.Effect<void> =>
  next === Effect.void ? first : Effect.andThen(first, next)

/**
 * Metrics (under the bounded model `label`), throttle budget, quota budgets, request log and ledger (with the real
 * model) for one finished attempt, in one chain (runs per attempt).
 */
const writeReport = (
  engine: Engine,
  run: Run,
  report: LlmMetrics.AttemptSpanReport,
  estimate: number,
  label: string,
  metrics: (report: LlmMetrics.AttemptSpanReport, label: string) => Effect.Effect<void> = LlmMetrics.recordAttempt
): Effect.Effect<void> => {
  let written = metrics(report, label)
  if (report.usage !== undefined && Option.isSome(engine.throttle)) {
    // the estimate was taken by `check`: charge only what the usage exceeded it by
    const extra = report.usage.totalTokens - estimate
    written = Effect.andThen(written, engine.throttle.value.record(report.attempt.provider, extra))
  }
  if (report.usage !== undefined && run.reservation !== undefined) {
    written = unlessVoid(written, run.reservation.bill(report.usage))
  }
  if (Option.isSome(engine.requestLog)) written = Effect.andThen(written, engine.requestLog.value.write(report))
  if (Option.isSome(engine.usageLedger)) written = Effect.andThen(written, engine.usageLedger.value.record(report))
  return written
}

// ---------------------------------------------------------------------------
// the kinds of attempt
// ---------------------------------------------------------------------------

/** A stream consumed to its end, by the attempt that started at `startedAt` (none: now). */
interface Streamed {
  readonly finish: Finish
  readonly startedAt: number
}

/** A delta of an answer: text, or a piece of a tool call. */
type Delta = TextDelta | ToolCallDelta

/** Hands parts to the caller, in order (the stream's handoff; nothing for `generate`). */
export type Offer = Handoff.Handoff<StreamPart>

/**
 * Where a stream attempt's deltas go: `emit` with the deltas of one chunk the
 * provider sent (never empty, but for the end of a restarted answer that had
 * none, which still announces its `Restart`), or `give` when the provider
 * pushes them, `end` called once the provider finished (may refuse the end),
 * then `taken` (what completes once the caller took every batch handed on),
 * `ended` once the attempt ended, however, with its progress (what it
 * reported).
 */
interface Sink {
  /**
   * Takes the deltas as `emit` would, without waiting (the stream may then push its parts to it,
   * `LlmProvider.pushOf`, rather than be pulled): a `Hold` while the caller has not taken them. None when taking
   * them may wait on more than the caller (a hedge's claim) or fail (a replay).
   */
  readonly give: ((deltas: ReadonlyArray<Delta>) => LlmProvider.Hold | undefined) | undefined
  readonly emit: (deltas: ReadonlyArray<Delta>) => Effect.Effect<void, StreamInterrupted>
  readonly end: () => Effect.Effect<void, StreamInterrupted>
  readonly taken: () => Effect.Effect<void>
  readonly ended: (progress: Progress) => void
}

/**
 * Consumes a provider's stream, moving the watchdog along on every chunk and
 * handing its deltas to the sink at once: pushed by the provider to a sink
 * that gives (no effect per chunk), else pulled (one effect per chunk, not
 * per delta). While the caller has not taken a batch, whatever it holds (the
 * deltas, or the lone `Restart` of a restarted answer that had none), the
 * attempt is `delivering`, which no limit but the deadline bounds (the idle
 * limit measures the provider's silence, not the caller's), and a push holds
 * the provider's body unread. A stream that
 * ends without its `Finish` was cut (`MalformedResponse` naming `model`,
 * rescued like any other break). The sink is told once the attempt ended, its stream closed
 * (so the usage of a stopped stream was reported).
 */
const consume = (
  route: Route,
  request: LlmRequest.LlmRequest,
  model: ModelId,
  progress: Progress,
  sink: Sink,
  secrets: ReadonlyArray<Redacted.Redacted>
): Effect.Effect<Streamed, ProviderError> => {
  let finish: Finish | undefined
  // the provider sent a chunk, or the caller took a batch: the idle limit counts from now
  const idle = (): void => {
    progress.phase = "idle"
    progress.since = progress.clock.currentTimeMillisUnsafe()
  }
  const taken = Effect.sync(idle)
  // `handed` hands a batch to the caller: the attempt is `delivering` until the caller took it
  const delivering = (handed: Effect.Effect<void, StreamInterrupted>): Effect.Effect<void, StreamInterrupted> => {
    // delivered at once (`generate` hands its text to nobody): no step waits for it
    if (handed === Effect.void) return Effect.void
    progress.phase = "delivering"
    return Effect.andThen(handed, taken)
  }
  // called as each chunk (never empty) arrives: it moves the watchdog on, the clock read directly, once a chunk
  const deltasOf = (parts: ReadonlyArray<StreamPart>): ReadonlyArray<Delta> => {
    idle()
    const deltas: Array<Delta> = []
    for (const part of parts) {
      if (part._tag === "Finish") finish = scrubNames(part, secrets)
      else if (part._tag !== "Restart") {
        if (part._tag === "TextDelta") progress.received += part.text.length
        deltas.push(part)
      }
    }
    return deltas
  }
  const onParts = (parts: ReadonlyArray<StreamPart>): Effect.Effect<void, StreamInterrupted> => {
    const deltas = deltasOf(parts)
    return deltas.length === 0 ? Effect.void : delivering(sink.emit(deltas))
  }
  const stream = route.provider.stream(request)
  // a sink that takes deltas without waiting takes the parts as the provider pushes them: no pull per chunk
  const give = sink.give
  const push = give === undefined ? undefined : LlmProvider.pushOf(stream)
  const read = push === undefined || give === undefined ? Stream.runForEachArray(stream, onParts) : push((parts) => {
    const deltas = deltasOf(parts)
    const hold = deltas.length === 0 ? undefined : give(deltas)
    if (hold === undefined) return undefined
    // the provider is read no further until the caller took them: only the deadline bounds that wait
    progress.phase = "delivering"
    return (resume) => {
      hold(() => {
        idle()
        resume()
      })
    }
  })
  return read.pipe(
    Effect.flatMap((): Effect.Effect<Streamed, ProviderError> =>
      finish === undefined
        ? Effect.fail(
          new MalformedResponse({
            provider: route.provider.name,
            model,
            message: `${route.provider.name} stream ended without its finish`
          })
        )
        : succeedAfter(delivering(ending(sink)), { finish, startedAt: progress.startedAt })
    ),
    // a finalizer with no effect of its own: no step after the stream's end
    (streamed) =>
      Effect.onExitPrimitive(streamed, () => {
        sink.ended(progress)
        return undefined
      })
  )
}

/**
 * The end of a provider's stream handed to the caller ({@link Sink}'s `end`), and the wait until the caller took
 * every batch: `Effect.void` when neither waits. Under the watchdog: an answer completed once its stream stopped
 * (after its deadline) does not wait for the caller.
 */
const ending = (sink: Sink): Effect.Effect<void, StreamInterrupted> => {
  const end = sink.end()
  const taken = sink.taken()
  return taken === Effect.void ? end : end === Effect.void ? taken : Effect.andThen(end, taken)
}

/** `value` once `first` succeeded; at once when `first` is `Effect.void` (nothing handed on): a step fewer. */
const succeedAfter = <A, E>(first: Effect.Effect<void, E>, value: A): Effect.Effect<A, E> =>
  first === Effect.void ? Effect.succeed(value) : Effect.as(first, value)

/**
 * The same interruption, carrying all the text the caller received (and, once
 * final, the request's attempts and what it billed in place of the attempt's usage).
 */
const withPartialText = (
  error: StreamInterrupted,
  partialText: string,
  final?: { readonly attempts: ReadonlyArray<Attempt>; readonly usage?: TokenUsage.TokenUsage }
): StreamInterrupted =>
  new StreamInterrupted({
    provider: error.provider,
    ...(error.model === undefined ? {} : { model: error.model }),
    ...(error.usage === undefined ? {} : { usage: error.usage }),
    ...(error.restartedLength === undefined ? {} : { restartedLength: error.restartedLength }),
    ...final,
    reason: error.reason,
    partialText
  })

/** Once text reached the caller and it may not be rescued, every failure is an interruption carrying it. */
const interrupted = (answer: Answer, error: Failure): Failure => {
  if (!answer.shown || error._tag === "DeadlineReached") return error
  if (error._tag === "StreamInterrupted") return withPartialText(error, answer.delivered)
  return new StreamInterrupted({
    provider: error.provider,
    ...(error.model === undefined ? {} : { model: error.model }),
    partialText: answer.delivered,
    reason: error.message
  })
}

const streamAttempt = (
  engine: Engine,
  run: Run,
  route: Route,
  role: Role,
  request: LlmRequest.LlmRequest,
  sink: Sink
): Effect.Effect<Streamed, Failure> =>
  attempt(
    engine,
    run,
    route,
    role,
    "stream",
    (progress) => consume(route, request, modelOf(route, run), progress, sink, engine.secrets),
    ({ finish }) => ({
      usage: finish.usage,
      finishReason: finish.finishReason,
      responseId: finish.responseId,
      responseModel: finish.responseModel
    }),
    (finish, progress) => succeedAfter(sink.end(), { finish, startedAt: progress.startedAt })
  )

/** The attempt of a plain call on a route: its answer's names scrubbed ({@link scrubNames}), reported as a result. */
const callAttempt = <A extends GenerationResult>(
  engine: Engine,
  run: Run,
  route: Route,
  role: Role,
  call: () => Effect.Effect<A, ProviderError>
): Effect.Effect<A, Failure> =>
  attempt(
    engine,
    run,
    route,
    role,
    "call",
    () => Effect.map(call(), (answer) => scrubNames(answer, engine.secrets)),
    resultReport
  )

const resultReport = (result: GenerationResult): Report => ({
  usage: result.usage,
  finishReason: result.finishReason,
  responseId: result.responseId,
  responseModel: result.responseModel
})

/**
 * The tries of one `generate` answer: each streamed underneath when the
 * policy says so and the provider reports stream usage, by the stream's
 * rescue rules with nothing shown: an answer broken after its first token
 * is continued where a prefill is accepted, else restarted whole. Its text
 * is its own (see {@link Answer}): a hedge side builds another.
 */
const generateOnce = (engine: Engine, run: Run): Once<GenerationResult> => {
  const answer = makeAnswer()
  const streamed = streamOnce(engine, run, answer, undefined, "whole")
  return (route, role) => {
    if (engine.policy.generateVia !== "stream" || !route.provider.capabilities.streamUsage) {
      return Effect.map(
        callAttempt(engine, run, route, role, () => route.provider.generate(run.request)),
        // a plain call answers whole: a rescue when a streamed attempt of the answer broke before it
        (result) => ({ ...result, sources: plainSources(result), rescued: answer.shown })
      )
    }
    return Effect.map(streamed(route, role), ({ finish, startedAt }): GenerationResult => ({
      content: answer.delivered,
      // the attempt's own: `generate` puts what the whole request billed on its result
      usage: finish.usage,
      model: finish.model,
      provider: finish.provider,
      latencyMs: run.clock.currentTimeMillisUnsafe() - startedAt,
      finishReason: finish.finishReason,
      requestId: run.request.requestId,
      attempts: [],
      responseId: finish.responseId,
      responseModel: finish.responseModel,
      ...(finish.toolCalls === undefined ? {} : { toolCalls: finish.toolCalls }),
      sources: answer.sources,
      rescued: answer.rescued
    }))
  }
}

/** The prompt that re-asks a model whose answer did not match the schema. */
export const reaskMessages = (
  request: LlmRequest.LlmRequest,
  error: StructuredOutputInvalid
): ReadonlyArray<LlmRequest.Message> => [
  ...request.messages,
  { role: "assistant", content: error.content },
  {
    role: "user",
    content: `Your answer does not match the required JSON schema: ${error.issue}\n` +
      "Reply again with only the corrected JSON, nothing else."
  }
]

/** Where a provider is in a structured answer: the conversation it is asked next, and the re-asks it has left. */
interface Conversation {
  request: LlmRequest.LlmRequest
  left: number
}

/**
 * The tries of one `generateStructured` answer, each re-asked on a schema
 * mismatch. Each provider keeps its conversation across its tries: a
 * backoff retry after a failed re-ask sends that re-ask again (the model's
 * answer and the decode error kept), and the re-asks a provider gets are
 * `structuredOutputRetries` in all, its retries included.
 */
const structuredOnce = <A>(
  engine: Engine,
  run: Run,
  output: StructuredOutput.StructuredOutput<A>
): Once<StructuredResult<A>> => {
  const conversations = new Map<number, Conversation>()
  return (route, role) => {
    let conversation = conversations.get(route.index)
    if (conversation === undefined) {
      conversation = { request: run.request, left: engine.policy.structuredOutputRetries }
      conversations.set(route.index, conversation)
    }
    const asked = conversation
    const ask = (role: Role): Effect.Effect<StructuredResult<A>, Failure> =>
      callAttempt(engine, run, route, role, () => route.provider.generateStructuredOutput(asked.request, output)).pipe(
        Effect.catchTag("StructuredOutputInvalid", (error) => {
          if (asked.left === 0 || !ErrorPolicy.reasks(error)) return Effect.fail(error)
          asked.request = LlmRequest.withMessages(asked.request, reaskMessages(asked.request, error))
          asked.left -= 1
          return ask("retry")
        })
      )
    return ask(role)
  }
}

// ---------------------------------------------------------------------------
// the chain
// ---------------------------------------------------------------------------

/**
 * One try on a route. Called when the try starts (`onRoute` calls it inside
 * a suspend, once per try; a re-ask and a restart without a prefill build
 * their attempt in the handler that starts it): an attempt reads its start
 * time and takes its slot as it is built.
 */
type Once<A> = (route: Route, role: Role) => Effect.Effect<A, Failure>

/**
 * Tries one provider, retrying retryable failures by the policy's schedule.
 * The schedule is built at the first failure (most requests never fail): it
 * is stepped with that failure first, then retries, each after its wait, or
 * skipped at once when the provider's circuit reads open past it
 * ({@link retryWait}).
 */
const onRoute = <A>(engine: Engine, run: Run, route: Route, role: Role, once: Once<A>): Effect.Effect<A, Failure> =>
  Effect.catch(Effect.suspend(() => once(route, role)), (first) => {
    // the retries of the model tried: a request naming another model gets that model's
    const { key, maxRetries } = targetFor(engine, route, modelOf(route, run))
    // a failure that is never retried (a skip, a deadline, a final error) needs no schedule
    if (maxRetries === 0 || first._tag === "DeadlineReached" || !ErrorPolicy.retries(first)) {
      return Effect.fail(first)
    }
    let failed: Failure | undefined = first
    const again = Effect.suspend(() => {
      if (failed === undefined) return once(route, "retry")
      const error = failed
      failed = undefined
      return Effect.fail(error)
    })
    const schedule = FallbackPolicy.retrySchedule(
      engine.policy,
      run.deadlineAt,
      maxRetries,
      (wait) => retryWait(engine, run.clock, key, wait)
    )
    return Effect.retry(again, schedule)
  })

/**
 * The wait before a retry on the circuit `key`: none when the circuit reads
 * open past the end of `wait` (`CircuitPolicy.refusesFor`: the failure
 * opened it, or another request's did), so the retry is skipped at once and
 * the next provider tried without the wait. The open time read is noted as
 * known open (`Engine.openCircuits`), so the skip is certain and asks the
 * store nothing. A circuit half-open (its probe running or not) keeps the
 * wait: the probe may end before the retry, which the store then admits.
 * Read only after a failure, from what is known open, else from the store,
 * within the wait: a store that has not answered by then (or cannot answer)
 * leaves the retry where it was.
 */
const retryWait = (
  engine: Engine,
  clock: Clock.Clock,
  key: string,
  wait: Duration.Duration
): Effect.Effect<Duration.Duration> => {
  const waitMs = Duration.toMillis(wait)
  const startedAt = clock.currentTimeMillisUnsafe()
  const known = engine.openCircuits.retryAfter(key, startedAt)
  if (known !== undefined) return Effect.succeed(known > waitMs ? Duration.zero : wait)
  if (waitMs === 0) return Effect.succeed(wait)
  // what is left of the wait once the store answered (or did not): none when the circuit refuses past it
  const rest = (refused: number | undefined): Duration.Duration => {
    const now = clock.currentTimeMillisUnsafe()
    const left = Math.max(0, startedAt + waitMs - now)
    if (refused === undefined || refused <= left) return Duration.millis(left)
    engine.openCircuits.opened(key, now, refused)
    return Duration.zero
  }
  return Effect.timeoutOption(engine.circuits.state(key), waitMs).pipe(
    Effect.map((state) => Option.isSome(state) ? CircuitPolicy.refusesFor(state.value) : undefined),
    Effect.orElseSucceed(() => undefined),
    Effect.map(rest)
  )
}

/**
 * True when the next provider may be tried after this failure (`ErrorPolicy`).
 * A `StreamInterrupted` raised once text reached the caller is final (no
 * rescue asked, or a restarted answer that diverged).
 */
const movesOn = (engine: Engine, run: Run, error: Failure): boolean =>
  error._tag !== "DeadlineReached" && !(error._tag === "StreamInterrupted" && run.answer.shown) &&
  !FallbackPolicy.stopsChain(engine.policy, error)

/**
 * Walks the chain from `from`, hedging when the policy says so. `once`
 * makes the tries of the answer under way, and a fallback goes on with it;
 * a hedge side makes its tries with `hedgeOnce()`: the same `once` where
 * the sides share the answer (a stream's), a new answer's where each side
 * builds its own (`generate`, see {@link Answer}).
 */
const chain = <A>(
  engine: Engine,
  run: Run,
  from: number,
  role: Role,
  once: Once<A>,
  hedgeOnce: () => Once<A>
): Effect.Effect<A, Failure> => {
  const route = engine.routes[from]
  if (route === undefined) return Effect.die(new Error(`no provider at position ${from}`))
  const current = (role: Role) => onRoute(engine, run, route, role, once)
  if (from + 1 === engine.routes.length) return current(role)
  const next = (role: Role) => chain(engine, run, from + 1, role, role === "hedge" ? hedgeOnce() : once, hedgeOnce)
  const delay = engine.policy.hedgeDelayMs
  if (delay !== undefined) return hedged(engine, run, current, role, next, delay)
  return Effect.catch(current(role), (error) => movesOn(engine, run, error) ? next("fallback") : Effect.fail(error))
}

/** A hedged stream's side: its first token claims the request for it (and for the sides around it). */
interface Lane {
  readonly claim: Effect.Effect<boolean>
}

/** The hedge side the current fiber runs on, if any. */
const HedgeLane = Context.Reference<Lane | undefined>("@baton/core/internal/manager/HedgeLane", {
  defaultValue: () => undefined
})

/** True when the current attempt may deliver: no hedge, or its side won (or just won) the race. */
const claim: Effect.Effect<boolean> = HedgeLane.use((lane) => lane === undefined ? Effect.succeed(true) : lane.claim)

/** The two sides of one hedge; a side wins once its parent side (if any) let it. */
const lanes = (parent: Lane | undefined, claimed: Deferred.Deferred<0 | 1>) => {
  let winner: 0 | 1 | undefined
  return (side: 0 | 1): Lane => ({
    claim: Effect.suspend(() => {
      if (winner !== undefined) return Effect.succeed(winner === side)
      return Effect.flatMap(parent === undefined ? Effect.succeed(true) : parent.claim, (won) => {
        if (!won || winner !== undefined) return Effect.succeed(won && winner === side)
        winner = side
        return Effect.as(Deferred.succeed(claimed, side), true)
      })
    })
  })
}

/**
 * Runs the current provider as `role`; if it has not answered after
 * `delay`, starts the rest of the chain in parallel as a hedge. The first
 * success wins, or for a stream the first side to deliver a delta claims
 * the caller's answer (the other is interrupted at once, and awaited, so
 * its attempt is recorded as cancelled with any usage it was billed). A
 * failure before the delay, or of a side that claimed the stream, falls
 * back as without hedging, to the providers not yet failed: after the
 * primary's side, the rest of the chain; after the hedge's, the provider it
 * cancelled (its rescue takes over the answer like any fallback's). A
 * failure of the primary's side that stops the chain
 * (`FallbackPolicy.stopsChain`) ends the hedge too.
 */
const hedged = <A>(
  engine: Engine,
  run: Run,
  current: (role: Role) => Effect.Effect<A, Failure>,
  role: Role,
  next: (role: Role) => Effect.Effect<A, Failure>,
  delay: number
): Effect.Effect<A, Failure> =>
  // the sides live in the hedge's scope: interrupted and awaited when it ends, an interruption included, so
  // their attempts record (and bill the reservation) before the request settles its quota
  Effect.scoped(Effect.gen(function*() {
    const claimed = yield* Deferred.make<0 | 1>()
    const side = lanes(yield* HedgeLane, claimed)
    const orElse = (effect: Effect.Effect<A, Failure>, fallback: () => Effect.Effect<A, Failure>) =>
      Effect.catch(effect, (error) => movesOn(engine, run, error) ? fallback() : Effect.fail(error))
    const rest = () => next("fallback")
    const first = yield* Effect.forkScoped(Effect.provideService(current(role), HedgeLane, side(0)))
    const opening = yield* Effect.raceFirst(
      Effect.as(Fiber.await(first), "settled" as const),
      Effect.raceFirst(
        Effect.as(Effect.sleep(delay), "hedge" as const),
        Effect.as(Deferred.await(claimed), "won" as const)
      )
    )
    if (opening !== "hedge") return yield* orElse(Fiber.join(first), rest)
    const second = yield* Effect.forkScoped(Effect.provideService(next("hedge"), HedgeLane, side(1)))
    const settled = (index: 0 | 1) => Effect.map(Fiber.await(index === 0 ? first : second), (exit) => ({ index, exit }))
    const outcome = yield* Effect.raceFirst(
      Effect.raceFirst(settled(0), settled(1)),
      Effect.map(Deferred.await(claimed), (index) => ({ index, exit: undefined }))
    )
    const other = outcome.index === 0 ? second : first
    if (outcome.exit === undefined) {
      yield* Fiber.interrupt(other)
      return yield* outcome.index === 0
        ? orElse(Fiber.join(first), rest)
        : orElse(Fiber.join(second), () => current("fallback"))
    }
    if (outcome.exit._tag === "Success") {
      yield* Fiber.interrupt(other)
      return outcome.exit.value
    }
    // the primary's side failing with an error that stops the chain stops the hedge too, unless the hedge
    // already claimed the stream (its text reached the caller): the hedge's answer is not served
    const failed = outcome.index === 0 && !Deferred.isDoneUnsafe(claimed)
      ? Cause.findErrorOption(outcome.exit.cause)
      : Option.none()
    if (Option.isSome(failed) && !movesOn(engine, run, failed.value)) {
      yield* Fiber.interrupt(other)
      return yield* Effect.failCause(outcome.exit.cause)
    }
    return yield* Fiber.join(other)
  }))

/** What the request billed, as the optional `usage` field of its final error. */
const billedOf = (run: Run): { readonly usage?: TokenUsage.TokenUsage } =>
  run.billed === undefined ? {} : { usage: run.billed }

/** The public failure of a request that ended in `cause` (interruptions and defects pass through). */
const conclude = (
  run: Run,
  cause: Cause.Cause<Failure>
): Effect.Effect<never, AllProvidersFailed | DeadlineExceeded> => {
  const errors = cause.reasons.filter(Cause.isFailReason).map((reason) => reason.error)
  if (errors.length === 0) {
    return Effect.failCause(Cause.fromReasons(cause.reasons.filter((reason) => !Cause.isFailReason(reason))))
  }
  const attempts = attemptsAt(run, run.clock.currentTimeMillisUnsafe())
  const usage = billedOf(run)
  if (errors.some((error) => error._tag === "DeadlineReached")) {
    return Effect.fail(new DeadlineExceeded({ timeoutMs: run.timeoutMs, attempts, ...usage }, trusted))
  }
  // every attempt skipped (Baton's own errors, nothing billed: the open circuits' refusal): built without the
  // constructor's parse, its fields in the order the parse would copy them; any other error is checked by the parse
  return Effect.fail(
    run.billed === undefined && attempts.every((attempt) => attempt.outcome === "skipped")
      ? construct(AllProvidersFailed, { _tag: "AllProvidersFailed", attempts: attempts.map(inSchemaOrder) })
      : new AllProvidersFailed({ attempts, ...usage }, trusted)
  )
}

/** A copy of `attempt` with its fields in the order of its schema, as a constructor's parse copies it. */
const inSchemaOrder = (attempt: Attempt): Attempt => {
  const { error, latencyMs, model, outcome, provider, role } = attempt
  return error === undefined ? { provider, model, role, outcome, latencyMs } : withError(attempt, error)
}

/** A copy of `attempt` failed with `error`, its fields in the order of its schema. */
const withError = ({ latencyMs, model, outcome, provider, role }: Attempt, error: ProviderError): Attempt => ({
  provider,
  model,
  role,
  outcome,
  latencyMs,
  error
})

/**
 * Runs the tries `tries` makes along the whole chain (a hedge side makes its own) and turns the outcome into the
 * public result or error.
 */
const runChain = <A>(
  engine: Engine,
  run: Run,
  tries: () => Once<A>
): Effect.Effect<A, AllProvidersFailed | DeadlineExceeded> =>
  Effect.catchCause(chain(engine, run, 0, "primary", tries(), tries), (cause) => conclude(run, cause))

/**
 * The wait of each provider of the chain (by `Route.index`) when the circuit
 * of every one of them (for the model the request names) is known open at
 * `now`, else `undefined`: such a request can only be refused.
 */
const knownOpenEverywhere = (engine: Engine, run: Run, now: number): ReadonlyArray<number> | undefined => {
  // most requests stop at the primary, closed: nothing is allocated for them
  let waits: Array<number> | undefined
  for (const route of engine.routes) {
    const wait = engine.openCircuits.retryAfter(targetFor(engine, route, modelOf(route, run)).key, now)
    if (wait === undefined) return undefined
    waits ??= []
    waits[route.index] = wait
  }
  return waits
}

/**
 * With a quota: refuses a request asking for more units than the per-request
 * maximum, then, when it names a subject, spends its units of the subject's
 * quota around the effect `make` builds (only once the quota let it through)
 * and charges the budgets with what every attempt billed. A request every
 * circuit refuses (see {@link knownOpenEverywhere}) spends nothing and asks
 * no quota store: each of its attempts is skipped (`Run.skipsAll`), and it
 * fails with `AllProvidersFailed`.
 */
const withQuota = <A, E>(
  engine: Engine,
  run: Run,
  make: () => Effect.Effect<A, E>
): Effect.Effect<A, E | QuotaError | InvalidOptions> => {
  if (Option.isNone(engine.quota)) return make()
  const quota = engine.quota.value
  const { subjectId, units } = run.request
  const quotaed = subjectId === undefined ? make : () => {
    run.skipsAll = knownOpenEverywhere(engine, run, run.clock.currentTimeMillisUnsafe())
    if (run.skipsAll !== undefined) return make()
    return quota.withQuota(subjectId, units, (reservation) => {
      run.reservation = reservation
      return make()
    })
  }
  // a size within the limit checks to `Effect.void`: then no step waits on it
  const checked = quota.checkRequestSize(units, subjectId)
  return checked === Effect.void ? quotaed() : Effect.andThen(checked, quotaed)
}

/** Counts the request by how it ended, and a quota refusal by its reason. */
const recordOutcome = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> => {
  if (exit._tag === "Success") return LlmMetrics.recordRequest("success")
  if (Cause.hasInterruptsOnly(exit.cause)) return LlmMetrics.recordRequest("cancelled")
  const error = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
  const reason = error === undefined ? undefined : LlmMetrics.quotaRejectionReason(error)
  return reason === undefined
    ? LlmMetrics.recordRequest("error", error)
    : Effect.andThen(LlmMetrics.recordRequest("rejected", error), LlmMetrics.recordQuotaRejection(reason))
}

/**
 * Runs a whole request (the effect `make` builds, once the quota let it
 * through) under the quota, its span and its request and quota metrics.
 * With a store that waits on I/O, the whole of it (reservation, attempts,
 * commit or refund) runs with its deadline as `StoreDeadline`.
 */
export const observe = <A, E>(
  engine: Engine,
  run: Run,
  make: () => Effect.Effect<A, E>
): Effect.Effect<A, E | QuotaError | InvalidOptions> => {
  const quotaed = withQuota(engine, run, make)
  return (engine.remoteStores ? Effect.provideService(quotaed, StoreDeadline.StoreDeadline, run.deadlineAt) : quotaed)
    .pipe(
      Effect.onExit((exit) => recordOutcome(exit)),
      LlmMetrics.withRequestSpan(run.request)
    )
}

// ---------------------------------------------------------------------------
// the three operations
// ---------------------------------------------------------------------------

/**
 * `generate`: the whole chain, hedged when the policy says so. The result's
 * `usage` is what the request billed: every attempt has been recorded by
 * then (a hedge's loser is awaited), and with one attempt `run.billed` is
 * that attempt's own usage, no sum.
 */
export const generate = (
  engine: Engine,
  run: Run
): Effect.Effect<GenerationResult, AllProvidersFailed | DeadlineExceeded> =>
  Effect.map(
    runChain(engine, run, () => generateOnce(engine, run)),
    (result) => ({
      ...result,
      usage: run.billed ?? result.usage,
      requestId: run.request.requestId,
      attempts: attemptsOf(run)
    })
  )

/** The source of a plain call's answer: its provider and model, none for an empty answer. */
const plainSources = ({ content, model, provider, toolCalls }: GenerationResult): ReadonlyArray<Source> =>
  content.length > 0 || toolCalls !== undefined ? [{ provider, model }] : []

/** `generateStructured`: the whole chain with re-asks, hedged when the policy says so; `usage` as `generate`'s. */
export const generateStructured = <A>(
  engine: Engine,
  run: Run,
  output: StructuredOutput.StructuredOutput<A>
): Effect.Effect<StructuredResult<A>, AllProvidersFailed | DeadlineExceeded> =>
  Effect.map(
    runChain(engine, run, () => structuredOnce(engine, run, output)),
    (result) => ({
      ...result,
      usage: run.billed ?? result.usage,
      requestId: run.request.requestId,
      attempts: attemptsOf(run),
      // a structured answer is one plain call's (its re-asks and fallbacks answer it whole)
      sources: plainSources(result),
      rescued: false
    })
  )

/**
 * How a stream broken after its first delta is completed
 * (`GenerationOptions.rescue`). A request with tools is never rescued: a
 * tool-call answer is not spliced across attempts.
 */
type Rescue = "auto" | "restart" | "none"

/**
 * How `streamOnce` completes a broken answer: by a {@link Rescue} mode, or
 * as `generate` does (`"whole"`): continued where a prefill is accepted,
 * else restarted whole, its `Restart` reaching nobody.
 */
type RescueMode = Rescue | "whole"

const rescueOf = (engine: Engine, run: Run): Rescue =>
  run.request.tools !== undefined
    ? "none"
    : run.request.options.rescue ?? (engine.policy.continueOnInterruption ? "auto" : "none")

/**
 * The sink adding an attempt's text to `answer` and handing it to the
 * caller (`offer`; `undefined` for `generate`'s, which reach nobody): the
 * attempt first claims the caller's answer (hedged streams), a pending
 * `Restart` goes first, and the attempt's provider and model are noted as a
 * source. A restarted answer replaces the caller's text from its first part
 * on (or at its end, when it has none): until then the text the caller
 * holds stays the request's, so a restart that fails first leaves it in
 * `StreamInterrupted.partialText`. An attempt that handed text on notes,
 * once it ended, what it spent on the answer ({@link spend}; `prefill`: the
 * delivered text a continuation was sent).
 */
const deliver = (
  engine: Engine,
  run: Run,
  answer: Answer,
  route: Route,
  offer: Offer | undefined,
  prefill?: string
): Sink => {
  const source: Source = { provider: route.provider.name, model: modelOf(route, run) }
  // an answer that reaches nobody is its hedge side's own, and one no hedge races the attempt's: nothing to claim
  const unraced = !hedges(engine)
  let claimed = offer === undefined || unraced
  let handed = false
  /** Notes `deltas` in the answer: the batch that hands them to the caller (after a pending `Restart`). */
  const note = (deltas: ReadonlyArray<Delta>): ReadonlyArray<StreamPart> => {
    handed = true
    const restarted = answer.restartPending
    if (restarted) {
      answer.restartPending = false
      answer.delivered = ""
      answer.sources = []
    }
    const last = answer.sources.at(-1)
    if (last?.provider !== source.provider || last.model !== source.model) answer.sources.push(source)
    for (const delta of deltas) if (delta._tag === "TextDelta") answer.delivered += delta.text
    answer.shown = true
    return restarted ? [{ _tag: "Restart", reason: "the answer broke and was restarted" }, ...deltas] : deltas
  }
  const push = (deltas: ReadonlyArray<Delta>): Effect.Effect<void> => {
    const batch = note(deltas)
    return offer === undefined ? Effect.void : offer.emit(batch)
  }
  const emit = (deltas: ReadonlyArray<Delta>): Effect.Effect<void> => {
    if (claimed) return push(deltas)
    claimed = true
    return Effect.flatMap(claim, (won) => won ? push(deltas) : Effect.never)
  }
  return {
    give: claimed
      ? (deltas) => {
        const batch = note(deltas)
        return offer === undefined ? undefined : offer.give(batch)
      }
      : undefined,
    emit,
    // a restarted answer without a delta still replaces the caller's text, with its `Restart`
    end: () => answer.restartPending ? emit([]) : Effect.void,
    // the caller has what the request's attempts handed on before it ends (a hedge's sides emit, each waiting)
    taken: () => offer === undefined || !unraced ? Effect.void : offer.taken(),
    ended: (progress) => {
      if (handed) spend(answer, prefill, progress)
    }
  }
}

/**
 * Notes the output tokens behind `answer`'s delivered text once an attempt
 * that handed some of it on ended: those behind the `prefill` it continued
 * (none for an attempt that wrote the answer from its start: a first try, a
 * restart) plus its own, the completion tokens it reported less their
 * reasoning (a continuation thinks again, within what is left), else Baton's
 * estimate of its text (`TokenUsage.estimate`, four characters a token).
 */
const spend = (answer: Answer, prefill: string | undefined, progress: Progress): void => {
  const reported = progress.reported
  const own = reported !== undefined
    ? reported.completionTokens - reported.reasoningTokens
    : TokenUsage.estimate([], answer.delivered.slice(prefill?.length ?? 0)).completionTokens
  answer.spent = (prefill === undefined ? 0 : answer.spent) + own
}

/**
 * A sink for an answer restarted without a prefill: nothing reaches the
 * caller until the new answer reproduced the delivered text exactly, then
 * only the rest does. A new answer that differs from it, or ends before
 * reproducing it, fails with a final `StreamInterrupted` recording both
 * lengths: two different answers are never spliced.
 */
const replaying = (run: Run, answer: Answer, route: Route, forward: Sink): Sink => {
  const target = answer.delivered
  let matched = 0
  const diverged = (at: number) =>
    new StreamInterrupted({
      provider: route.provider.name,
      model: modelOf(route, run),
      partialText: target,
      restartedLength: at,
      reason: `the restarted answer diverged from the ${target.length} characters delivered ` +
        `after ${at} matching characters`
    })
  /** What of `delta` goes on to the caller, or where it diverged from the delivered text. */
  const replay = (delta: Delta): Delta | number | undefined => {
    if (matched >= target.length) return delta
    // a tool call where the delivered text should go on: a different answer
    if (delta._tag !== "TextDelta") return matched
    const text = delta.text
    const overlap = Math.min(text.length, target.length - matched)
    for (let i = 0; i < overlap; i++) {
      if (text.charCodeAt(i) !== target.charCodeAt(matched + i)) return matched + i
    }
    matched += overlap
    return overlap < text.length ? textDelta(text.slice(overlap)) : undefined
  }
  const forwardAll = (deltas: ReadonlyArray<Delta>) => deltas.length === 0 ? Effect.void : forward.emit(deltas)
  return {
    // a delta that diverges fails the attempt: never pushed to
    give: undefined,
    emit: (deltas) => {
      const onward: Array<Delta> = []
      for (const delta of deltas) {
        const replayed = replay(delta)
        if (typeof replayed === "number") return Effect.andThen(forwardAll(onward), Effect.fail(diverged(replayed)))
        if (replayed !== undefined) onward.push(replayed)
      }
      return forwardAll(onward)
    },
    end: () => matched < target.length ? Effect.fail(diverged(matched)) : Effect.void,
    taken: forward.taken,
    ended: forward.ended
  }
}

/** A 400 refusing the assistant prefill Baton added (it names the assistant message or the prefill). */
const refusesPrefill = (error: Failure): boolean =>
  error._tag === "InvalidRequest" && /assistant|prefill/i.test(`${error.param ?? ""} ${error.message}`)

/**
 * One stream attempt on a route, in the light of what the caller already
 * received: nothing yet, a plain attempt; else, by the request's rescue mode,
 * a continuation from the delivered text on a route that accepts a prefill
 * (`"auto"` and `"whole"`; restarted without it if the route refuses it at
 * run time), sent what is left of `maxTokens` ({@link continuation}; none
 * left: the answer ends for `length`, see {@link spentFinish}), else a
 * restart that suppresses the replayed prefix (`"auto"`) or announces itself
 * with a `Restart` part (`"whole"`, and `"restart"` always, never
 * continuing), sent the whole `maxTokens`. With `"none"`, a failure after
 * the first delta is final.
 */
const streamOnce = (
  engine: Engine,
  run: Run,
  answer: Answer,
  offer: Offer | undefined,
  mode: RescueMode = rescueOf(engine, run)
): Once<Streamed> => {
  const once: Once<Streamed> = (route, role) => {
    if (answer.delivered.length === 0) {
      if (answer.shown) {
        // an answer of tool calls alone broke: it is answered again whole, the new attempt's calls its own
        answer.rescued = true
        answer.sources = []
      }
      const plain = streamAttempt(engine, run, route, role, run.request, deliver(engine, run, answer, route, offer))
      return mode === "none" ? Effect.mapError(plain, (error) => interrupted(answer, error)) : plain
    }
    answer.rescued = true
    // a restart announced but not begun (its attempt failed first) is tried again whole, never continued
    if (answer.restartPending) {
      return streamAttempt(engine, run, route, role, run.request, deliver(engine, run, answer, route, offer))
    }
    // an answer with tools is never continued from its text: it restarts whole (`generate`) or fails (streams)
    const continues = mode !== "restart" && run.request.tools === undefined &&
      route.provider.capabilities.assistantPrefill
    if (continues && !run.noPrefill.includes(route.index)) {
      const request = continuation(run.request, answer)
      if (request === undefined) return Effect.succeed(spentFinish(answer, route, run))
      const sink = deliver(engine, run, answer, route, offer, answer.delivered)
      return streamAttempt(engine, run, route, role, request, sink).pipe(
        Effect.catchIf(refusesPrefill, () =>
          Effect.suspend(() => {
            run.noPrefill.push(route.index)
            return once(route, "retry")
          }))
      )
    }
    const direct = deliver(engine, run, answer, route, offer)
    if (mode === "restart" || mode === "whole") {
      answer.restartPending = true
      return streamAttempt(engine, run, route, role, run.request, direct)
    }
    return streamAttempt(engine, run, route, role, run.request, replaying(run, answer, route, direct))
  }
  return once
}

const unknownProvider = ProviderName.make("unknown")

/**
 * The final failure of a stream whose text reached the caller: an
 * interruption carrying it and every attempt of the request, never a `Finish`.
 */
const interruption = (run: Run, errors: ReadonlyArray<Failure>): StreamInterrupted => {
  const error = errors.find((e) => e._tag !== "DeadlineReached")
  const attempts = attemptsOf(run)
  const delivered = run.answer.delivered
  if (error?._tag === "StreamInterrupted") return withPartialText(error, delivered, { attempts, ...billedOf(run) })
  // text was shown, so an attempt ran: the failing provider, else the last one that ran
  const source: { readonly provider: ProviderName; readonly model?: ModelId | undefined } = error ??
    attempts.at(-1) ?? { provider: unknownProvider }
  return new StreamInterrupted({
    provider: source.provider,
    ...(source.model === undefined ? {} : { model: source.model }),
    partialText: delivered,
    ...(error === undefined
      ? { reason: `the request's deadline of ${run.timeoutMs} ms ran out`, deadlineMs: run.timeoutMs }
      : { reason: error.message }),
    attempts,
    ...billedOf(run)
  })
}

/**
 * `stream`: deltas go to `offer` as they arrive. Before the first one, any
 * failure falls back (and the chain is hedged when the policy says so);
 * after it, the answer is rescued by the request's rescue mode, within the
 * same retry and fallback rules and the request deadline, or the stream
 * fails with `StreamInterrupted`. The `Finish` names every source of the
 * text, whether a rescue happened, the usage of every billed attempt and
 * every attempt. The `Finish` is returned, not handed over: the caller of
 * `observe` hands it over once the request is settled (its quota committed,
 * its outcome recorded), so that a caller who stops at the `Finish` stops a
 * request already served.
 */
export const stream = (
  engine: Engine,
  run: Run,
  offer: Offer
): Effect.Effect<Finish, StreamInterrupted | AllProvidersFailed | DeadlineExceeded> => {
  // the hedge's sides share the caller's answer
  const once = streamOnce(engine, run, run.answer, offer)
  return chain(engine, run, 0, "primary", once, () => once).pipe(
    Effect.catchCause((cause): Effect.Effect<never, StreamInterrupted | AllProvidersFailed | DeadlineExceeded> => {
      const errors = cause.reasons.filter(Cause.isFailReason).map((reason) => reason.error)
      return run.answer.shown && errors.length > 0 ? Effect.fail(interruption(run, errors)) : conclude(run, cause)
    }),
    Effect.map(({ finish }): Finish => ({
      ...finish,
      usage: run.billed ?? finish.usage,
      sources: run.answer.sources,
      rescued: run.answer.rescued,
      attempts: attemptsOf(run)
    }))
  )
}

/**
 * The request continuing `answer` from its delivered text, sent what is left
 * of the caller's `maxTokens` once the tokens behind that text are taken
 * out (`Answer.spent`; `"provider"` stays the provider's): `undefined` when
 * nothing is left.
 */
const continuation = (request: LlmRequest.LlmRequest, answer: Answer): LlmRequest.LlmRequest | undefined => {
  const asked = request.options.maxTokens
  const maxTokens = asked === "provider" ? asked : asked - answer.spent
  if (maxTokens !== "provider" && maxTokens <= 0) return undefined
  return {
    ...LlmRequest.withMessages(request, prefilled(request, answer.delivered)),
    options: { ...request.options, maxTokens }
  }
}

/**
 * The end of an answer whose delivered text already holds every token of
 * `maxTokens`: `length`, as the request uncut would have ended, without
 * calling a provider. It names the last source of the text; its usage is
 * none of its own (the request's is what its attempts billed).
 */
const spentFinish = (answer: Answer, route: Route, run: Run): Streamed => {
  const { model, provider } = answer.sources.at(-1) ?? { provider: route.provider.name, model: modelOf(route, run) }
  return {
    finish: LlmProvider.finishPart({ finishReason: "length", usage: TokenUsage.zero, provider, model }),
    startedAt: run.clock.currentTimeMillisUnsafe()
  }
}

/** The conversation with `text` as the assistant's prefill (appended to a prefill the caller gave). */
const prefilled = (request: LlmRequest.LlmRequest, text: string): ReadonlyArray<LlmRequest.Message> => {
  const last = request.messages.at(-1)
  return last?.role === "assistant"
    ? [...request.messages.slice(0, -1), { role: "assistant", content: last.content + text }]
    : [...request.messages, { role: "assistant", content: text }]
}
