/**
 * The engine behind `LlmManager`: one attempt, the retries on one provider,
 * the walk along the chain, hedging, streams and their continuation.
 *
 * Everything a request needs is captured when the manager is built (each
 * provider's service, the breaker, the optional log, ledger and quota
 * services), so a call builds no layer. Per attempt there is one race: the
 * provider call against a watchdog that enforces the limits.
 */
import {
  Cause,
  Clock,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  type Exit,
  Fiber,
  Layer,
  Option,
  Stream
} from "effect"
import { HttpClient } from "effect/http"
import type { CircuitBreaker } from "effect/persistence"
import type { Attempt, Role } from "../Attempt.ts"
import * as CircuitPolicy from "../CircuitPolicy.ts"
import * as FallbackPolicy from "../FallbackPolicy.ts"
import type { Finish, GenerationResult, StreamPart, StructuredResult } from "../GenerationResult.ts"
import { textDelta } from "../GenerationResult.ts"
import type { ModelId, ProviderName } from "../Ids.ts"
import { AllProvidersFailed, DeadlineExceeded, type InvalidOptions, type QuotaError } from "../LlmError.ts"
import * as LlmMetrics from "../LlmMetrics.ts"
import type * as LlmProvider from "../LlmProvider.ts"
import * as LlmRequest from "../LlmRequest.ts"
import {
  CircuitOpen,
  type ProviderError,
  ProviderTimeout,
  StreamInterrupted,
  type StructuredOutputInvalid
} from "../ProviderError.ts"
import * as ProviderThrottle from "../ProviderThrottle.ts"
import type * as QuotaLimiter from "../QuotaLimiter.ts"
import type * as RequestLog from "../RequestLog.ts"
import type * as StructuredOutput from "../StructuredOutput.ts"
import * as TokenUsage from "../TokenUsage.ts"
import type * as UsageLedger from "../UsageLedger.ts"

/** The request's own deadline cut an attempt or a wait (not the provider's fault). */
export class DeadlineReached extends Data.TaggedError("DeadlineReached") {}

/** What can end an attempt, a provider or the chain inside the engine. */
export type Failure = ProviderError | DeadlineReached

// ---------------------------------------------------------------------------
// routes and the first-byte signal
// ---------------------------------------------------------------------------

type Phase = "first-byte" | "first-token" | "idle" | "body"

/**
 * How far the current attempt has got, updated by the instrumented HTTP
 * client (request sent, headers received) and by the stream (each part).
 * Before the request leaves, the attempt is in `afterHeaders` (the first
 * token for a stream, the body for a plain call).
 */
interface Progress {
  phase: Phase
  since: number
  readonly afterHeaders: Phase
}

/** The progress of the attempt running on this fiber, read by the instrumented HTTP client. */
const CurrentProgress = Context.Reference<Progress | undefined>("@baton/core/internal/manager/CurrentProgress", {
  defaultValue: () => undefined
})

/** One provider of the chain, built once. */
export interface Route {
  readonly index: number
  readonly provider: LlmProvider.Service
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
      progress.since = Context.get(context, Clock.Clock).currentTimeMillisUnsafe()
    }
    return Effect.void
  })

/** The request left: from now on the attempt waits for its first byte. */
const markSent = mark(undefined, "first-byte")

/** The headers arrived: the attempt moves on to its first token (streams) or its body. */
const markHeaders = mark("first-byte", undefined)

/**
 * A layer that hands a provider the surrounding `HttpClient` wrapped so that
 * sending a request and receiving its headers move the current attempt
 * through its first-byte phase. It provides nothing when there is no client
 * in context (a provider that brings its own, or needs none); such a
 * provider's attempts are bounded by the first-token, idle and attempt
 * limits only.
 */
export const instrumentation: Layer.Layer<never> = Layer.effectContext(
  Effect.map(
    Effect.serviceOption(HttpClient.HttpClient),
    (client): Context.Context<never> =>
      Option.isSome(client)
        ? Context.make(
          HttpClient.HttpClient,
          HttpClient.transform(client.value, (response) =>
            markSent.pipe(Effect.andThen(response), Effect.tap(markHeaders)))
        )
        : Context.empty()
  )
)

// ---------------------------------------------------------------------------
// the engine and one request
// ---------------------------------------------------------------------------

/** What the engine captured at build time. */
export interface Engine {
  readonly routes: ReadonlyArray<Route>
  readonly policy: FallbackPolicy.FallbackPolicy
  readonly breaker: CircuitBreaker.CircuitBreaker
  readonly requestLog: Option.Option<RequestLog.Service>
  readonly usageLedger: Option.Option<UsageLedger.Service>
  readonly quota: Option.Option<QuotaLimiter.Service>
  readonly throttle: Option.Option<ProviderThrottle.Service>
}

/** One request on its way through the chain. */
export interface Run {
  readonly request: LlmRequest.LlmRequest
  readonly timeoutMs: number
  readonly deadlineAt: number
  /** One slot per attempt, in the order they started; filled when each ends. */
  readonly attempts: Array<Attempt | undefined>
  /** Text that already reached the caller (streams only). */
  delivered: string
  /** Usage of attempts whose text reached the caller before they broke. */
  deliveredUsage: TokenUsage.TokenUsage | undefined
  /** The route that produced the last delivered text. */
  lastRoute: number
  /** The quota held for the request, billed with each attempt's usage (when there is a quota and a subject). */
  reservation: QuotaLimiter.Reservation | undefined
}

/** Starts the clock of a request. */
export const startRun = (engine: Engine, request: LlmRequest.LlmRequest): Effect.Effect<Run> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const timeoutMs = request.options.timeout === undefined
      ? engine.policy.requestTimeoutMs
      : Duration.toMillis(request.options.timeout)
    return {
      request,
      timeoutMs,
      deadlineAt: now + timeoutMs,
      attempts: [],
      delivered: "",
      deliveredUsage: undefined,
      lastRoute: 0,
      reservation: undefined
    }
  })

const attemptsOf = (run: Run): ReadonlyArray<Attempt> => run.attempts.filter((a) => a !== undefined)

const modelOf = (route: Route, request: LlmRequest.LlmRequest): ModelId => request.options.model ?? route.provider.model

// ---------------------------------------------------------------------------
// one attempt
// ---------------------------------------------------------------------------

/** What a finished attempt reports to the log and the ledger. */
interface Report {
  readonly usage: TokenUsage.TokenUsage | undefined
  readonly finishReason: GenerationResult["finishReason"] | undefined
}

const limitOf = (limits: FallbackPolicy.Limits, phase: Phase): number => {
  switch (phase) {
    case "first-byte":
      return limits.firstByteMs
    case "first-token":
      return limits.firstTokenMs
    case "idle":
      return limits.idleMs
    case "body":
      return Number.POSITIVE_INFINITY
  }
}

/**
 * Fails when the attempt outlives a limit: its phase limit (first byte,
 * first token, idle), the attempt limit, or the request's deadline. One
 * timer per attempt, re-armed at most every `shortest` limit, instead of a
 * timeout per stream event.
 */
const watchdog = (
  progress: Progress,
  limits: FallbackPolicy.Limits,
  startedAt: number,
  deadlineAt: number,
  provider: ProviderName,
  model: ModelId
): Effect.Effect<never, Failure> =>
  Effect.gen(function*() {
    const attemptEnd = Math.min(startedAt + limits.attemptMs, deadlineAt)
    const shortest = progress.afterHeaders === "body"
      ? limits.firstByteMs
      : Math.min(limits.firstByteMs, limits.firstTokenMs, limits.idleMs)
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const limit = limitOf(limits, progress.phase)
      const phaseEnd = progress.since + limit
      if (now >= attemptEnd) {
        return yield* attemptEnd === deadlineAt
          ? new DeadlineReached()
          : new ProviderTimeout({ provider, model, phase: "attempt", timeoutMs: limits.attemptMs })
      }
      if (now >= phaseEnd) {
        const phase = progress.phase === "body" ? "attempt" : progress.phase
        return yield* new ProviderTimeout({ provider, model, phase, timeoutMs: limit })
      }
      // a later phase may start any moment with a shorter limit: never sleep past the shortest
      yield* Effect.sleep(Math.min(attemptEnd, phaseEnd, now + shortest) - now)
    }
  })

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

const failureReport = (cause: Cause.Cause<Failure>): Report => {
  const error = Cause.findErrorOption(cause)
  return {
    usage: Option.isSome(error) && "usage" in error.value ? error.value.usage : undefined,
    finishReason: undefined
  }
}

/**
 * Runs one call on one provider: through its circuit, under the watchdog,
 * and, whatever happens (interruption included), records the attempt and
 * reports it to the request log and the usage ledger.
 */
const attempt = <A>(
  engine: Engine,
  run: Run,
  route: Route,
  role: Role,
  mode: "stream" | "call",
  call: (progress: Progress) => Effect.Effect<A, ProviderError>,
  report: (value: A) => Report
): Effect.Effect<A, Failure> =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    if (startedAt >= run.deadlineAt) return yield* new DeadlineReached()
    const provider = route.provider.name
    const model = modelOf(route, run.request)
    const slot = run.attempts.push(undefined) - 1
    const estimate = Option.isNone(engine.throttle) ? 0 : ProviderThrottle.estimateTokens(run.request)
    const first: Phase = mode === "stream" ? "first-token" : "body"
    const progress: Progress = { phase: first, since: startedAt, afterHeaders: first }
    const guarded = Effect.raceFirst(
      Effect.provideService(call(progress), CurrentProgress, progress),
      watchdog(progress, engine.policy.limits, startedAt, run.deadlineAt, provider, model)
    )
    const record = (exit: Exit.Exit<A, Failure>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const entry = toAttempt(exit, { provider, model, role, latencyMs: now - startedAt })
        run.attempts[slot] = entry
        const details = exit._tag === "Success" ? report(exit.value) : failureReport(exit.cause)
        return writeReport(
          engine,
          run,
          { request: run.request, attemptNumber: slot + 1, attempt: entry, ...details },
          estimate
        )
      })
    const throttled = Option.isNone(engine.throttle)
      ? Effect.void
      : engine.throttle.value.check(provider, { model, tokens: estimate })
    return yield* throttled.pipe(
      Effect.andThen(engine.breaker.execute(guarded, {
        key: CircuitPolicy.key(provider, model),
        classify: CircuitPolicy.classify
      })),
      Effect.catchTag("CircuitBreakerError", (error) =>
        error.reason._tag === "CircuitBreakerStoreError"
          ? Effect.die(error)
          : Effect.fail(
            new CircuitOpen({
              provider,
              model,
              ...(error.reason._tag === "CircuitOpen" ? { retryAfter: error.reason.retryAfter } : {})
            })
          )),
      Effect.onExit(record),
      LlmMetrics.withAttemptSpan({ request: run.request, provider, model, role, attemptNumber: slot + 1 })
    )
  })

/** Metrics, throttle budget, quota budgets, request log and ledger for one finished attempt, in one chain (runs per attempt). */
const writeReport = (
  engine: Engine,
  run: Run,
  report: RequestLog.AttemptReport,
  estimate: number
): Effect.Effect<void> => {
  let written = LlmMetrics.recordAttempt(report)
  if (report.usage !== undefined && Option.isSome(engine.throttle)) {
    // the estimate was taken by `check`: charge only what the usage exceeded it by
    const extra = report.usage.totalTokens - estimate
    written = Effect.andThen(written, engine.throttle.value.record(report.attempt.provider, extra))
  }
  if (report.usage !== undefined && run.reservation !== undefined) {
    written = Effect.andThen(written, run.reservation.bill(report.usage))
  }
  if (Option.isSome(engine.requestLog)) written = Effect.andThen(written, engine.requestLog.value.write(report))
  if (Option.isSome(engine.usageLedger)) written = Effect.andThen(written, engine.usageLedger.value.record(report))
  return written
}

// ---------------------------------------------------------------------------
// the kinds of attempt
// ---------------------------------------------------------------------------

/** A stream consumed to its end. */
interface Streamed {
  readonly text: string
  readonly finish: Finish
}

/**
 * Consumes a provider's stream, moving the watchdog along on every part and
 * handing each delta to `emit`. A stream that ends without its `Finish` was
 * cut. Once text reached the caller, any failure becomes `StreamInterrupted`.
 */
const consume = (
  route: Route,
  request: LlmRequest.LlmRequest,
  progress: Progress,
  emit: ((text: string) => Effect.Effect<void>) | undefined
): Effect.Effect<Streamed, ProviderError> => {
  let text = ""
  let finish: Finish | undefined
  // each part moves the watchdog on; the clock is read directly, not through an effect per part
  const onPart = (clock: Clock.Clock, part: StreamPart): string | undefined => {
    progress.phase = "idle"
    progress.since = clock.currentTimeMillisUnsafe()
    if (part._tag === "Finish") {
      finish = part
      return undefined
    }
    text += part.text
    return part.text
  }
  const onParts = (parts: ReadonlyArray<StreamPart>): Effect.Effect<void> =>
    Effect.clockWith((clock) => {
      if (emit === undefined) {
        for (const part of parts) onPart(clock, part)
        return Effect.void
      }
      return Effect.forEach(parts, (part) =>
        Effect.suspend(() => {
          const delta = onPart(clock, part)
          return delta === undefined ? Effect.void : emit(delta)
        }), { discard: true })
    })
  return Stream.runForEachArray(route.provider.stream(request), onParts).pipe(
    Effect.flatMap(() =>
      finish === undefined
        ? Effect.fail(
          new StreamInterrupted({
            provider: route.provider.name,
            model: modelOf(route, request),
            partialText: text,
            reason: "the stream ended without its finish event"
          })
        )
        : Effect.succeed({ text, finish })
    )
  )
}

/** The same interruption, carrying all the text the caller received. */
const withPartialText = (error: StreamInterrupted, partialText: string): StreamInterrupted =>
  new StreamInterrupted({
    provider: error.provider,
    ...(error.model === undefined ? {} : { model: error.model }),
    ...(error.usage === undefined ? {} : { usage: error.usage }),
    reason: error.reason,
    partialText
  })

/** Once text reached the caller, every failure of the stream is an interruption carrying it. */
const interrupted = (run: Run, route: Route, error: Failure): Failure => {
  if (run.delivered.length === 0 || error._tag === "DeadlineReached" || error._tag === "StreamInterrupted") {
    return error._tag === "StreamInterrupted" && run.delivered.length > 0
      ? withPartialText(error, run.delivered)
      : error
  }
  return new StreamInterrupted({
    provider: route.provider.name,
    model: modelOf(route, run.request),
    partialText: run.delivered,
    reason: error.message
  })
}

const streamAttempt = (
  engine: Engine,
  run: Run,
  route: Route,
  role: Role,
  request: LlmRequest.LlmRequest,
  emit: ((text: string) => Effect.Effect<void>) | undefined
): Effect.Effect<Streamed, Failure> =>
  attempt(
    engine,
    run,
    route,
    role,
    "stream",
    (progress) => consume(route, request, progress, emit),
    ({ finish }) => ({ usage: finish.usage, finishReason: finish.finishReason })
  ).pipe(Effect.mapError((error) => emit === undefined ? error : interrupted(run, route, error)))

const resultReport = (result: GenerationResult): Report => ({
  usage: result.usage,
  finishReason: result.finishReason
})

/** One `generate` attempt: streamed underneath when the policy says so and the provider reports stream usage. */
const generateAttempt = (
  engine: Engine,
  run: Run,
  route: Route,
  role: Role
): Effect.Effect<GenerationResult, Failure> =>
  engine.policy.generateVia === "stream" && route.provider.capabilities.streamUsage
    ? Effect.gen(function*() {
      const startedAt = yield* Clock.currentTimeMillis
      const { finish, text } = yield* streamAttempt(engine, run, route, role, run.request, undefined)
      return {
        content: text,
        usage: finish.usage,
        model: finish.model,
        provider: finish.provider,
        latencyMs: (yield* Clock.currentTimeMillis) - startedAt,
        finishReason: finish.finishReason,
        requestId: run.request.requestId,
        attempts: []
      }
    })
    : attempt(engine, run, route, role, "call", () => route.provider.generate(run.request), resultReport)

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

/** One `generateStructured` try on a provider, re-asked on a schema mismatch. */
const structuredAttempt = <A>(
  engine: Engine,
  run: Run,
  route: Route,
  role: Role,
  output: StructuredOutput.StructuredOutput<A>
): Effect.Effect<StructuredResult<A>, Failure> => {
  const ask = (
    request: LlmRequest.LlmRequest,
    role: Role,
    left: number
  ): Effect.Effect<StructuredResult<A>, Failure> =>
    attempt(
      engine,
      run,
      route,
      role,
      "call",
      () => route.provider.generateStructuredOutput(request, output),
      resultReport
    ).pipe(
      Effect.catchTag("StructuredOutputInvalid", (error) =>
        left > 0
          ? ask(LlmRequest.withMessages(request, reaskMessages(request, error)), "retry", left - 1)
          : Effect.fail(error))
    )
  return ask(run.request, role, engine.policy.structuredOutputRetries)
}

// ---------------------------------------------------------------------------
// the chain
// ---------------------------------------------------------------------------

type Once<A> = (route: Route, role: Role) => Effect.Effect<A, Failure>

/** Tries one provider, retrying retryable failures by the policy's schedule. */
const onRoute = <A>(engine: Engine, run: Run, route: Route, role: Role, once: Once<A>): Effect.Effect<A, Failure> =>
  Effect.suspend(() => {
    let tries = 0
    return Effect.suspend(() => once(route, tries++ === 0 ? role : "retry")).pipe(
      Effect.retry(FallbackPolicy.retrySchedule(engine.policy, run.deadlineAt))
    )
  })

/** True when the next provider may be tried after this failure. */
const movesOn = (run: Run, error: Failure): boolean =>
  error._tag !== "DeadlineReached" && run.delivered.length === 0 &&
  (error.fallback || error._tag === "StreamInterrupted") && !FallbackPolicy.stopsChain(error)

/** Walks the chain from `from`, hedging when the policy says so. */
const chain = <A>(
  engine: Engine,
  run: Run,
  from: number,
  role: Role,
  once: Once<A>,
  hedge: boolean
): Effect.Effect<A, Failure> => {
  const route = engine.routes[from]
  if (route === undefined) return Effect.die(new Error(`no provider at position ${from}`))
  const hasNext = from + 1 < engine.routes.length
  const next = (role: Role) => chain(engine, run, from + 1, role, once, hedge)
  const current = onRoute(engine, run, route, role, once)
  if (!hasNext) return current
  const delay = engine.policy.hedgeDelayMs
  if (hedge && delay !== undefined) return hedged(run, current, next, delay)
  return Effect.catch(current, (error) => movesOn(run, error) ? next("fallback") : Effect.fail(error))
}

/**
 * Runs `current`; if it has not answered after `delay`, starts the rest of
 * the chain in parallel as a hedge. The first success wins and the other is
 * interrupted (and awaited, so its attempt is recorded as cancelled). A
 * failure before the delay falls back at once, as without hedging.
 */
const hedged = <A>(
  run: Run,
  current: Effect.Effect<A, Failure>,
  next: (role: Role) => Effect.Effect<A, Failure>,
  delay: number
): Effect.Effect<A, Failure> =>
  Effect.gen(function*() {
    const early = yield* Deferred.make<Failure>()
    const first = yield* Effect.forkChild(Effect.tapError(current, (error) => Deferred.succeed(early, error)))
    const second = yield* Effect.forkChild(
      Effect.raceFirst(
        Effect.as(Effect.sleep(delay), Option.none<Failure>()),
        Effect.map(Deferred.await(early), Option.some)
      ).pipe(Effect.flatMap(Option.match({
        onNone: () => next("hedge"),
        onSome: (error) => movesOn(run, error) ? next("fallback") : Effect.fail(error)
      })))
    )
    return yield* Effect.race(Fiber.join(first), Fiber.join(second)).pipe(
      Effect.ensuring(Fiber.interruptAll([first, second]))
    )
  })

/** The public failure of a request that ended in `cause` (interruptions and defects pass through). */
const conclude = (
  run: Run,
  cause: Cause.Cause<Failure>
): Effect.Effect<never, AllProvidersFailed | DeadlineExceeded> => {
  const errors = cause.reasons.filter(Cause.isFailReason).map((reason) => reason.error)
  if (errors.length === 0) {
    return Effect.failCause(Cause.fromReasons(cause.reasons.filter((reason) => !Cause.isFailReason(reason))))
  }
  const attempts = attemptsOf(run)
  if (errors.some((error) => error._tag === "DeadlineReached")) {
    return Effect.fail(new DeadlineExceeded({ timeoutMs: run.timeoutMs, attempts }))
  }
  return Effect.fail(new AllProvidersFailed({ attempts }))
}

/** Runs `once` along the whole chain and turns the outcome into the public result or error. */
const runChain = <A>(
  engine: Engine,
  run: Run,
  once: Once<A>,
  hedge: boolean
): Effect.Effect<A, AllProvidersFailed | DeadlineExceeded> =>
  Effect.catchCause(chain(engine, run, 0, "primary", once, hedge), (cause) => conclude(run, cause))

/**
 * With a quota: refuses a request asking for more units than the per-request
 * maximum, then, when it names a subject, spends its units of the subject's
 * quota around `effect` and charges the budgets with what every attempt billed.
 */
const withQuota = <A, E>(
  engine: Engine,
  run: Run,
  effect: Effect.Effect<A, E>
): Effect.Effect<A, E | QuotaError | InvalidOptions> => {
  if (Option.isNone(engine.quota)) return effect
  const quota = engine.quota.value
  const { subjectId, units } = run.request
  const spend = subjectId === undefined ? effect : quota.withQuota(subjectId, units, (reservation) => {
    run.reservation = reservation
    return effect
  })
  return Effect.andThen(quota.checkRequestSize(units), spend)
}

/** Counts the request by how it ended, and a quota refusal by its reason. */
const recordOutcome = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> => {
  if (exit._tag === "Success") return LlmMetrics.recordRequest("success")
  if (Cause.hasInterruptsOnly(exit.cause)) return LlmMetrics.recordRequest("cancelled")
  const error = Cause.findErrorOption(exit.cause)
  const reason = Option.isSome(error) ? LlmMetrics.quotaRejectionReason(error.value) : undefined
  return reason === undefined
    ? LlmMetrics.recordRequest("error")
    : Effect.andThen(LlmMetrics.recordRequest("rejected"), LlmMetrics.recordQuotaRejection(reason))
}

/** Runs a whole request under the quota, its span and its request and quota metrics. */
export const observe = <A, E>(
  engine: Engine,
  run: Run,
  effect: Effect.Effect<A, E>
): Effect.Effect<A, E | QuotaError | InvalidOptions> =>
  withQuota(engine, run, effect).pipe(
    Effect.onExit((exit) => recordOutcome(exit)),
    LlmMetrics.withRequestSpan(run.request)
  )

// ---------------------------------------------------------------------------
// the three operations
// ---------------------------------------------------------------------------

/** `generate`: the whole chain, hedged when the policy says so. */
export const generate = (
  engine: Engine,
  run: Run
): Effect.Effect<GenerationResult, AllProvidersFailed | DeadlineExceeded> =>
  Effect.map(
    runChain(engine, run, (route, role) => generateAttempt(engine, run, route, role), true),
    (result) => ({ ...result, requestId: run.request.requestId, attempts: attemptsOf(run) })
  )

/** `generateStructured`: the whole chain with re-asks, hedged when the policy says so. */
export const generateStructured = <A>(
  engine: Engine,
  run: Run,
  output: StructuredOutput.StructuredOutput<A>
): Effect.Effect<StructuredResult<A>, AllProvidersFailed | DeadlineExceeded> =>
  Effect.map(
    runChain(engine, run, (route, role) => structuredAttempt(engine, run, route, role, output), true),
    (result) => ({ ...result, requestId: run.request.requestId, attempts: attemptsOf(run) })
  )

/**
 * `stream`: deltas go to `queue` as they arrive. Before the first one, any
 * failure falls back; after it, the stream fails with `StreamInterrupted`,
 * or is continued on a prefill-capable provider when the policy says so.
 */
export const stream = (
  engine: Engine,
  run: Run,
  offer: (part: StreamPart) => Effect.Effect<unknown>
): Effect.Effect<void, StreamInterrupted | AllProvidersFailed | DeadlineExceeded> => {
  const emitFrom = (route: Route) => (text: string) => {
    run.delivered += text
    run.lastRoute = route.index
    return Effect.asVoid(offer(textDelta(text)))
  }
  const once: Once<Streamed> = (route, role) => streamAttempt(engine, run, route, role, run.request, emitFrom(route))
  return chain(engine, run, 0, "primary", once, false).pipe(
    Effect.catch((error) =>
      error._tag === "StreamInterrupted" && run.delivered.length > 0
        ? continueOrFail(engine, run, error, emitFrom)
        : Effect.fail(error)
    ),
    Effect.catchCause((cause): Effect.Effect<never, StreamInterrupted | AllProvidersFailed | DeadlineExceeded> => {
      const error = Cause.findErrorOption(cause)
      return Option.isSome(error) && error.value._tag === "StreamInterrupted"
        ? Effect.fail(error.value)
        : conclude(run, cause)
    }),
    Effect.flatMap(({ finish }) =>
      offer({
        ...finish,
        usage: run.deliveredUsage === undefined ? finish.usage : TokenUsage.add(run.deliveredUsage, finish.usage)
      })
    ),
    Effect.asVoid
  )
}

/**
 * After a cut: continue on the next providers that accept an assistant
 * prefill, with the text delivered so far as the prefill, or fail with the
 * interruption itself (never with a continuation's own rejection).
 */
const continueOrFail = (
  engine: Engine,
  run: Run,
  cut: StreamInterrupted,
  emitFrom: (route: Route) => (text: string) => Effect.Effect<void>
): Effect.Effect<Streamed, Failure> => {
  if (!engine.policy.continueOnInterruption) return Effect.fail(cut)
  run.deliveredUsage = cut.usage === undefined
    ? run.deliveredUsage
    : run.deliveredUsage === undefined
    ? cut.usage
    : TokenUsage.add(run.deliveredUsage, cut.usage)
  const candidates = engine.routes.filter((route) =>
    route.index !== run.lastRoute && route.provider.capabilities.assistantPrefill
  )
  const tryFrom = (i: number, last: StreamInterrupted): Effect.Effect<Streamed, Failure> => {
    const route = candidates[i]
    if (route === undefined) return Effect.fail(withPartialText(last, run.delivered))
    const before = run.delivered.length
    const request = LlmRequest.withMessages(run.request, prefilled(run.request, run.delivered))
    return streamAttempt(engine, run, route, "fallback", request, emitFrom(route)).pipe(
      Effect.catch((error) => {
        if (error._tag === "DeadlineReached") return Effect.fail(error)
        const progressed = run.delivered.length > before
        return tryFrom(i + 1, progressed && error._tag === "StreamInterrupted" ? error : last)
      })
    )
  }
  return tryFrom(0, cut)
}

/** The conversation with `text` as the assistant's prefill (appended to a prefill the caller gave). */
const prefilled = (request: LlmRequest.LlmRequest, text: string): ReadonlyArray<LlmRequest.Message> => {
  const last = request.messages.at(-1)
  return last?.role === "assistant"
    ? [...request.messages.slice(0, -1), { role: "assistant", content: last.content + text }]
    : [...request.messages, { role: "assistant", content: text }]
}
