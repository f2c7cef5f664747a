/**
 * When a provider's circuit opens, and what counts against it.
 *
 * `LlmManager` guards every attempt with a circuit ({@link makeCircuits},
 * on `effect/persistence`'s `CircuitBreakerStore`), one per provider and
 * model the configuration names (key `provider/model`; so are the first 32
 * models only requests name on a provider, and every further one shares
 * `provider/other`, so callers cannot grow the set):
 *
 * - Closed: attempts run. `failureThreshold` consecutive failures open it.
 * - Open: for `cooldownMs` (or longer, when the failure that opened it
 *   carried a server's hint the error table honours: a `Retry-After` on a
 *   429, a 503 or an Anthropic 529), attempts on that provider are skipped without a
 *   network call and without delay: an `Attempt` with outcome `skipped` and a
 *   `CircuitOpen` error, and the request moves on to the next provider. A
 *   retry the circuit will refuse (it reads open past the retry's backoff:
 *   the failure to retry opened it, or another request's did) is not waited
 *   for either: the manager reads the circuit ({@link refusesFor}) before a
 *   retry's backoff, and skips it at once.
 * - Half-open: the next attempt is the single probe; others are skipped while
 *   it runs. A successful probe closes the circuit, a failed one reopens it.
 *   A retry is not skipped early here: the probe may end before it, so it
 *   keeps its backoff, and the store decides when it is due.
 *
 * What counts ({@link classify}) is the `circuit` column of the one error
 * table, `@baton/core/ErrorPolicy`: a failure of the provider itself (5xx,
 * 429, a timeout, a broken connection, a garbled reply, a rejected key, a
 * spent account, a defect in its adapter) is a `Failure`. An answer that
 * shows the provider is up, even if this request could not use it (a content
 * filter, a schema mismatch, a context-length or request error), is a
 * `Success`. An attempt that was interrupted, or cut by the request's own
 * deadline, says nothing and is `Ignored`.
 *
 * An attempt the store refused because the circuit is open is remembered
 * until the end of the open time the store gave ({@link OpenCircuits}): until
 * then the next attempts on that circuit are skipped without asking the store
 * again. Past it the store is asked, so the single half-open probe and the
 * view of other processes sharing the store decide.
 *
 * State lives in a `CircuitBreakerStore`: in memory by default (one view per
 * process), or in Redis (`@baton/redis/RedisCircuitBreaker`) so several
 * processes share one view. Transitions are logged and counted by the
 * manager.
 *
 * A request every provider's open circuit (or spent local budget) refused
 * tells its caller when to come back: `ErrorPolicy.retryAfterAllFailed`,
 * the one rule behind the `Retry-After` of the HTTP layers' 503
 * ({@link retryAfterHeaders}).
 *
 * A store that cannot answer (an error, or a defect in the store itself)
 * fails open: the attempt runs unrecorded (reported at
 * `References.UnhandledLogLevel`), so a store outage never takes the
 * providers down with it, and `LlmManager.circuitState` fails with
 * `CircuitStoreUnavailable`. A store that never answers cannot hold a
 * request past its deadline: `LlmManager` bounds the commands of a store
 * from context by the request's deadline ({@link boundedStore}); one still
 * pending then is a store error like any other, and the request ends at its
 * deadline with `DeadlineExceeded`. Bound a store's commands more tightly
 * to fail open sooner (the Redis store does, see
 * `@baton/redis/RedisConnection`).
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Exit, Option, PubSub, References, Result, Scope, Stream } from "effect"
import { CircuitBreaker } from "effect/persistence"
import type { Attempt } from "./Attempt.ts"
import * as ErrorPolicy from "./ErrorPolicy.ts"
import type { ModelId, ProviderName } from "./Ids.ts"
import * as LlmConfig from "./LlmConfig.ts"
import type { LlmConfigError } from "./LlmError.ts"
import { isProviderError } from "./ProviderError.ts"
import * as StoreDeadline from "./StoreDeadline.ts"

/**
 * The circuit settings.
 *
 * @since 0.1.0
 */
export interface CircuitPolicy {
  /** Consecutive failures that open a circuit. */
  readonly failureThreshold: number
  /** How long a circuit stays open before one probe. */
  readonly cooldownMs: number
}

/**
 * The defaults, the same as `LlmConfig`'s.
 *
 * @since 0.1.0
 */
export const defaults: CircuitPolicy = { failureThreshold: 5, cooldownMs: 30_000 }

/**
 * The policy, once both its numbers are whole numbers of 1 or more (by
 * `LlmConfig.wholeNumber`, the rule of `LLM_CIRCUIT_FAILURE_THRESHOLD` and
 * `LLM_CIRCUIT_COOLDOWN_MS`), else an `LlmConfigError` naming the first that
 * is not (`circuitPolicy.cooldownMs`; `name` is the prefix).
 * `LlmManager.make` checks the policy it is given by it.
 *
 * @since 0.1.0
 */
export const check = (policy: CircuitPolicy, name = "circuitPolicy"): Effect.Effect<CircuitPolicy, LlmConfigError> =>
  Effect.as(
    Effect.all([
      LlmConfig.wholeNumber(`${name}.failureThreshold`, policy.failureThreshold, "positive"),
      LlmConfig.wholeNumber(`${name}.cooldownMs`, policy.cooldownMs, "positive")
    ]),
    policy
  )

/**
 * The circuit settings of a configuration.
 *
 * @since 0.1.0
 */
export const fromConfig = (settings: LlmConfig.Settings): CircuitPolicy => ({
  failureThreshold: settings.circuitFailureThreshold,
  cooldownMs: settings.circuitCooldownMs
})

/**
 * The circuit key of a provider and model.
 *
 * @since 0.1.0
 */
export const key = (provider: ProviderName, model: ModelId): string => `${provider}/${model}`

/**
 * The breaker outcome of an attempt's exit. Failures that are not provider
 * errors (the request's own deadline) and interruptions are ignored. A
 * failure carries the server's hint where the table honours it
 * (`ErrorPolicy.retryAfter`), which lengthens the open time.
 *
 * @since 0.1.0
 */
export const classify = <A, E>(exit: Exit.Exit<A, E>): CircuitBreaker.Outcome => {
  if (Exit.isSuccess(exit)) return CircuitBreaker.success
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error) || !isProviderError(error.value)) return CircuitBreaker.ignored
  switch (ErrorPolicy.health(error.value)) {
    case "failure":
      return CircuitBreaker.failure({ retryAfter: ErrorPolicy.retryAfter(error.value) })
    case "success":
      return CircuitBreaker.success
    case "ignored":
      return CircuitBreaker.ignored
  }
}

const storeDown = (defect: unknown) =>
  new CircuitBreaker.CircuitBreakerError({
    reason: new CircuitBreaker.CircuitBreakerStoreError({
      message: `the circuit store failed: ${defect instanceof Error ? defect.message : String(defect)}`,
      cause: defect
    })
  })

/**
 * A store command's failure, a defect in the store turned into the store
 * error it stands for. Read where a command's failure is handled anyway,
 * instead of a `catchDefect` around every command (bench/README.md).
 */
const storeFailure = (
  cause: Cause.Cause<CircuitBreaker.CircuitBreakerError>
): Cause.Cause<CircuitBreaker.CircuitBreakerError> => {
  const defect = Cause.findDefect(cause)
  return Result.isSuccess(defect) ? Cause.fail(storeDown(defect.success)) : cause
}

const unanswered = new CircuitBreaker.CircuitBreakerError({
  reason: new CircuitBreaker.CircuitBreakerStoreError({ message: "the circuit store did not answer by the deadline" })
})

/** `command`, failing with a store error when it has not answered by the request's deadline (`StoreDeadline.bound`). */
const bounded = <A, R>(
  command: Effect.Effect<A, CircuitBreaker.CircuitBreakerError, R>,
  graceMs?: number
): Effect.Effect<A, CircuitBreaker.CircuitBreakerError, R> =>
  StoreDeadline.bound(command, { graceMs, onTimeout: () => unanswered })

/**
 * The store with each command bounded by the request's deadline in context
 * (`@baton/core/StoreDeadline`; a `record`, by at least its
 * `settleGraceMs`): a command still pending then is interrupted and fails
 * as a store error, so the circuits fail open (see the module header).
 *
 * @since 0.1.0
 */
export const boundedStore = (
  store: CircuitBreaker.CircuitBreakerStore["Service"]
): CircuitBreaker.CircuitBreakerStore["Service"] => ({
  admit: (key) => bounded(store.admit(key)),
  record: (options) => bounded(store.record(options), StoreDeadline.settleGraceMs),
  state: (key) => bounded(store.state(key))
})

/**
 * The circuits of one manager, on a `CircuitBreakerStore`: `execute` runs a
 * call through the circuit of `key`, `state` reads a circuit, `transitions`
 * streams every change of state.
 *
 * @since 0.1.0
 */
export interface Circuits {
  /**
   * Runs `call` once the store admits it and records its outcome
   * ({@link classify}); fails with `CircuitBreakerError` when the circuit is
   * open or its half-open probe is running (or with what `refused` makes
   * of that error). A store that cannot admit the call lets it run
   * unrecorded.
   */
  readonly execute: {
    <A, E, R>(call: Effect.Effect<A, E, R>, key: string): Effect.Effect<A, E | CircuitBreaker.CircuitBreakerError, R>
    <A, E, R, E2>(
      call: Effect.Effect<A, E, R>,
      key: string,
      refused: (error: CircuitBreaker.CircuitBreakerError) => Effect.Effect<never, E2>
    ): Effect.Effect<A, E | E2, R>
  }
  readonly state: (key: string) => Effect.Effect<CircuitBreaker.State, CircuitBreaker.CircuitBreakerError>
  readonly transitions: Stream.Stream<CircuitBreaker.Transition>
}

/** The longest a `Retry-After` may hold a circuit open (as `effect/persistence` caps it). */
const maxRetryAfter = Duration.hours(1)

/** Logs what no caller receives, at `References.UnhandledLogLevel` (none when it is unset). */
const reportUnhandled = (message: string, cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    const level = fiber.getRef(References.UnhandledLogLevel)
    return level === undefined ? Effect.void : Effect.logWithLevel(level)(message, cause)
  })

/** True when an admission failed because the store could not answer (not an open circuit). */
const storeUnavailable = (error: Option.Option<CircuitBreaker.CircuitBreakerError>): boolean =>
  Option.isSome(error) && error.value.reason._tag === "CircuitBreakerStoreError"

/**
 * The circuits for this policy on the `CircuitBreakerStore` in context,
 * failing open when the store cannot answer (see the module header). The
 * store contract is `effect/persistence`'s, and so are the outcomes: the
 * admission's scope stays open while the call runs, the outcome is recorded
 * with the admission's generation (a stale one changes nothing), and a
 * failure opens the circuit for `cooldownMs`, or for its `Retry-After` when
 * longer (at most an hour). One chain per call, with no generator, no
 * schedule replay and no per-call options.
 *
 * @since 0.1.0
 */
export const makeCircuits = (
  policy: CircuitPolicy
): Effect.Effect<Circuits, never, CircuitBreaker.CircuitBreakerStore | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* CircuitBreaker.CircuitBreakerStore
    const pubsub = yield* PubSub.sliding<CircuitBreaker.Transition>(128)
    yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))
    const tripPolicy = CircuitBreaker.consecutive(policy.failureThreshold)
    const cooldown = Duration.millis(policy.cooldownMs)
    const publish = (transition: CircuitBreaker.Transition): Effect.Effect<void> =>
      Effect.asVoid(PubSub.publish(pubsub, transition))
    const openFor = (outcome: CircuitBreaker.Outcome): Duration.Duration =>
      outcome._tag !== "Failure"
        ? Duration.zero
        : outcome.retryAfter === undefined
        ? cooldown
        : Duration.max(cooldown, Duration.min(outcome.retryAfter, maxRetryAfter))
    /** Records the call's outcome, then runs `after` (the admission's close), whatever the record does. */
    const record = (
      key: string,
      admission: CircuitBreaker.Admission,
      exit: Exit.Exit<unknown, unknown>,
      after: () => Effect.Effect<void>
    ) => {
      const outcome = classify(exit)
      return Effect.matchCauseEffect(
        Effect.suspend(() =>
          store.record({
            key,
            generation: admission.generation,
            outcome: outcome._tag,
            tripPolicy,
            openFor: openFor(outcome)
          })
        ),
        {
          onFailure: (cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.andThen(after(), Effect.failCause(cause))
              : Effect.andThen(
                reportUnhandled("CircuitBreaker failed to record an outcome", storeFailure(cause)),
                after
              ),
          // most outcomes change nothing: then nothing is published, not even an empty step
          onSuccess: (transition) => transition === undefined ? after() : Effect.andThen(publish(transition), after)
        }
      )
    }
    const execute = <A, E, R, E2>(
      call: Effect.Effect<A, E, R>,
      key: string,
      refused?: (error: CircuitBreaker.CircuitBreakerError) => Effect.Effect<never, E2>
    ): Effect.Effect<A, E | E2 | CircuitBreaker.CircuitBreakerError, R> =>
      Effect.uninterruptibleMask((restore) => {
        // the admission's scope, closed with the call's exit once its outcome is recorded (at once when
        // nothing was added to it): no `scopedWith`, no `exit` and `flatMap` pairs (bench/README.md)
        const scope = Scope.makeUnsafe()
        const close = (exit: Exit.Exit<unknown, unknown>) => Scope.closeUnsafe(scope, exit) ?? Effect.void
        return Effect.matchCauseEffect(Scope.provide(store.admit(key), scope), {
          onFailure: (failed): Effect.Effect<A, E | E2 | CircuitBreaker.CircuitBreakerError, R> => {
            const cause = storeFailure(failed)
            const error = Cause.findErrorOption(cause)
            if (storeUnavailable(error)) {
              return Effect.andThen(
                reportUnhandled("CircuitBreaker store unavailable, running the call unrecorded", cause),
                Effect.onExit(restore(call), close)
              )
            }
            return Effect.andThen(
              close(Exit.failCause(cause)),
              (): Effect.Effect<never, E2 | CircuitBreaker.CircuitBreakerError> =>
                Option.isNone(error) || refused === undefined ? Effect.failCause(cause) : refused(error.value)
            )
          },
          onSuccess: (admission) => {
            const run = Effect.onExit(restore(call), (exit) => record(key, admission, exit, () => close(exit)))
            return admission.transition === undefined ? run : Effect.andThen(publish(admission.transition), run)
          }
        })
      })
    const state = (key: string) => Effect.catchDefect(store.state(key), (defect) => Effect.fail(storeDown(defect)))
    return { execute, state, transitions: Stream.fromPubSub(pubsub) }
  })

/**
 * How much longer the circuit in `state` is certain to refuse attempts (ms):
 * an open one until its open time ends (only then may the next attempt be
 * the half-open probe); `undefined` for any other state, a half-open one
 * included (its probe may end at any time, and the next attempt then be
 * admitted). The manager reads it before sleeping a retry's backoff: a retry
 * the circuit will refuse is skipped at once instead (see
 * `FallbackPolicy.retrySchedule`).
 *
 * @since 0.1.0
 */
export const refusesFor = (state: CircuitBreaker.State): number | undefined => {
  if (state._tag !== "Open") return undefined
  const left = Duration.toMillis(state.retryAfter)
  return left > 0 ? left : undefined
}

/**
 * The circuits a store refused as open, each until the end of the open time
 * the store gave. An open circuit cannot close before that time (only its
 * half-open probe closes it), so an attempt on a circuit known open is
 * skipped without asking the store. The time is measured on both the
 * `Clock` (as the in-memory store does, and `TestClock` in tests) and the
 * monotonic wall clock (as a shared store does, on its own clock): a circuit
 * is known open only while both say so, past either the store decides.
 *
 * @since 0.1.0
 */
export interface OpenCircuits {
  /** The remaining open time of `key` (ms) at `now` on the `Clock`, when it is known open. */
  readonly retryAfter: (key: string, now: number) => number | undefined
  /** The store refused `key` at `now` on the `Clock`, open for `retryAfterMs` more. */
  readonly opened: (key: string, now: number, retryAfterMs: number) => void
}

/** Beyond this many circuits known open, the oldest are forgotten (the store still answers for them). */
const maxOpenCircuits = 1024

/**
 * An empty set of circuits known open.
 *
 * @since 0.1.0
 */
export const makeOpenCircuits = (): OpenCircuits => {
  const known = new Map<string, { readonly until: number; readonly wallUntil: number }>()
  return {
    retryAfter: (key, now) => {
      const open = known.get(key)
      if (open === undefined) return undefined
      const wallLeft = open.wallUntil - performance.now()
      if (now < open.until && wallLeft > 0) return Math.min(open.until - now, wallLeft)
      known.delete(key)
      return undefined
    },
    opened: (key, now, retryAfterMs) => {
      if (!(retryAfterMs > 0)) return
      known.delete(key)
      const oldest = known.keys().next()
      if (known.size >= maxOpenCircuits && !oldest.done) known.delete(oldest.value)
      known.set(key, { until: now + retryAfterMs, wallUntil: performance.now() + retryAfterMs })
    }
  }
}

/**
 * The `Retry-After` header of a request that failed because Baton skipped
 * every provider (its circuit open or its local budget spent), or skipped
 * some and the rest timed out: the seconds of `ErrorPolicy.retryAfterAllFailed`,
 * rounded up (at least 1), the same wait as `@baton/ai`'s `RateLimitError`;
 * no header when it is `undefined`.
 * The 503 of `@baton/http`'s `HttpProblem` and of the gateway carry it.
 *
 * @since 0.1.0
 */
export const retryAfterHeaders = (attempts: ReadonlyArray<Attempt>): Readonly<Record<string, string>> => {
  const wait = ErrorPolicy.retryAfterAllFailed(attempts)
  return wait === undefined ? {} : { "Retry-After": String(Math.max(1, Math.ceil(Duration.toSeconds(wait)))) }
}
