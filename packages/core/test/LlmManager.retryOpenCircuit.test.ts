/**
 * A retry its provider's circuit will refuse, through `LlmManager`: when the
 * failure that would be retried left the circuit open past the backoff (it
 * opened it, or another request did), the manager does not sleep the
 * backoff (nor the server's `Retry-After`) only to skip the retry: the retry
 * is skipped at once, without asking the store, and the next provider
 * answers. A circuit read half-open with another request's probe running
 * keeps the backoff (the probe may end before the retry), as does a store
 * that does not answer the read. Over HTTP against the mock server, on
 * `TestClock`, the circuit store recording the clock's time of each
 * admission it is asked for: the clock is moved only where a wait is due,
 * and past every wait once the request is not done without it, so a wait
 * that should not happen shows in the times.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Layer } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { TestClock } from "effect/testing"
import type { Attempt } from "../src/Attempt.ts"
import { Bench, driveClock, eventually, inject, manager, pick, stats } from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about volcanoes." }

type Store = CircuitBreaker.CircuitBreakerStore["Service"]

/** What the circuit store was asked: the clock's time of each admission, and how many reads of a state. */
interface Asked {
  readonly admitted: Array<number>
  reads: number
}

/** The in-memory circuit store, noting on `asked` what it is asked; its state reads answered by `state` when given. */
const recordingStore = (asked: Asked, state?: (read: Store["state"]) => Store["state"]) =>
  Layer.effect(
    CircuitBreaker.CircuitBreakerStore,
    Effect.map(Effect.service(CircuitBreaker.CircuitBreakerStore), (store): Store => {
      const read = state === undefined ? store.state : state(store.state)
      return {
        ...store,
        admit: (key) => Effect.andThen(Clock.currentTimeMillis, (now) => (asked.admitted.push(now), store.admit(key))),
        state: (key) => Effect.suspend(() => (asked.reads += 1, read(key)))
      }
    })
  ).pipe(Layer.provide(CircuitBreaker.layerStoreMemory()), Layer.merge(Bench))

/** The request's attempts, as provider, role, outcome and error tag. */
const attemptsOf = (result: { readonly attempts: ReadonlyArray<Attempt> }) =>
  result.attempts.map(pick("provider", "role", "outcome", "error"))

/**
 * `fiber`'s result once it is done: waited for in real time, the clock
 * standing still; when that is not enough (a wait the test did not expect),
 * the clock is moved until it is done.
 */
const settled = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    const done = yield* Effect.exit(eventually(Effect.sync(() => fiber.pollUnsafe() !== undefined), 3_000))
    if (Exit.isFailure(done)) yield* driveClock(fiber, 1_000)
    return yield* Fiber.join(fiber)
  })

const failed = ["openai", "primary", "error", "ProviderUnavailable"]

/** openai's retry skipped, its circuit refusing it, and anthropic answering. */
const skippedToFallback = [
  ["openai", "retry", "skipped", "CircuitOpen"],
  ["anthropic", "fallback", "success", undefined]
]

/** openai's retry failing as its call did, and anthropic answering. */
const retriedToFallback = [
  failed,
  ["openai", "retry", "error", "ProviderUnavailable"],
  ["anthropic", "fallback", "success", undefined]
]

/** openai answering 503 with `Retry-After: 20` (a 250 ms backoff before it; a circuit open 30 s once it opens). */
const retryAfter20 = { fault: MockFault.status(503, { retryAfter: "20" }), baseMs: 250, cooldownMs: 30_000 }

/**
 * The attempts of a request on openai, then anthropic, openai answering
 * `fault` to each call (retried `retries` times after a backoff from
 * `baseMs`; its circuit opening after `threshold` failures, for
 * `cooldownMs`): the clock is moved by `dueMs` once the manager read the
 * circuit after openai's first failure (before its backoff), then stands
 * still until the request settles.
 */
const attemptsAfter = (asked: Asked, options: {
  readonly fault: MockFault.MockFault
  readonly retries: number
  readonly baseMs: number
  readonly threshold: number
  readonly cooldownMs: number
  readonly dueMs: number
}) =>
  Effect.gen(function*() {
    const llm = yield* manager({
      chain: ["openai", "anthropic"],
      policy: { maxRetries: options.retries, retryBaseDelayMs: options.baseMs, requestTimeoutMs: 60_000 },
      circuit: { failureThreshold: options.threshold, cooldownMs: options.cooldownMs }
    })
    yield* inject("openai", options.fault, { times: 5 })
    const fiber = yield* Effect.forkChild(llm.generate(prompt))
    yield* eventually(Effect.sync(() => asked.reads === 1))
    if (options.dueMs > 0) yield* TestClock.adjust(options.dueMs)
    return attemptsOf(yield* settled(fiber))
  })

describe("LlmManager retrying into an open circuit", () => {
  it.effect("the failure that opens the circuit: falls back at once, not after its Retry-After, asking the store nothing", () => {
    const asked: Asked = { admitted: [], reads: 0 }
    return Effect.gen(function*() {
      const attempts = yield* attemptsAfter(asked, { ...retryAfter20, retries: 2, threshold: 1, dueMs: 0 })
      assert.deepStrictEqual(attempts, [failed, ...skippedToFallback])
      // openai's call and anthropic's, both before the clock moved: the skip read the circuit as known open
      assert.deepStrictEqual(asked.admitted, [0, 0])
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(recordingStore(asked)))
  })

  it.effect("a retry that opens it: the backoff before it is slept, the one after it is not", () => {
    const asked: Asked = { admitted: [], reads: 0 }
    return Effect.gen(function*() {
      // the first backoff, 1 s jittered by ±20%, is due: the circuit was closed
      const attempts = yield* attemptsAfter(asked, {
        fault: MockFault.status(503),
        retries: 2,
        baseMs: 1_000,
        threshold: 2,
        cooldownMs: 30_000,
        dueMs: 1_200
      })
      assert.deepStrictEqual(attempts, [
        failed,
        ["openai", "retry", "error", "ProviderUnavailable"],
        ...skippedToFallback
      ])
      assert.strictEqual((yield* stats("openai")).requests, 2)
      // openai's call, its retry after the backoff, and anthropic's with no second backoff (the clock left at 1.2 s)
      const [first, retry, fallback] = asked.admitted
      assert.strictEqual(asked.admitted.length, 3)
      assert.strictEqual(first, 0)
      assert.isAtLeast(retry ?? 0, 800)
      assert.strictEqual(fallback, 1_200)
    }).pipe(Effect.provide(recordingStore(asked)))
  })

  it.effect("a circuit read half-open with another request's probe running: the retry keeps its Retry-After", () => {
    const asked: Asked = { admitted: [], reads: 0 }
    /** The first read sees another request's probe running; the probe ends (the circuit closed) right after it. */
    const probeEndsAfterRead = (read: Store["state"]): Store["state"] => {
      let reads = 0
      return (key) =>
        reads++ === 0
          ? Effect.succeed({ _tag: "HalfOpen", key, probing: true, consecutiveOpenings: 1 })
          : read(key)
    }
    return Effect.gen(function*() {
      const attempts = yield* attemptsAfter(asked, { ...retryAfter20, retries: 1, threshold: 100, dueMs: 20_000 })
      assert.deepStrictEqual(attempts, retriedToFallback)
      // the retry went out only once the server's 20 s were over
      assert.deepStrictEqual(asked.admitted, [0, 20_000, 20_000])
    }).pipe(Effect.provide(recordingStore(asked, probeEndsAfterRead)))
  })

  it.effect("a circuit that half-opens before the backoff ends: the retry is its probe, after the backoff", () => {
    const asked: Asked = { admitted: [], reads: 0 }
    return Effect.gen(function*() {
      const attempts = yield* attemptsAfter(asked, {
        fault: MockFault.status(503),
        retries: 1,
        baseMs: 2_000,
        threshold: 1,
        cooldownMs: 1_000,
        dueMs: 2_400
      })
      assert.deepStrictEqual(attempts, retriedToFallback)
      // the backoff, 2 s jittered by ±20%, was slept before the probe
      assert.isAtLeast(asked.admitted[1] ?? 0, 1_600)
    }).pipe(Effect.provide(recordingStore(asked)))
  })

  it.effect("a circuit store whose read does not answer: the retry comes after the backoff, as without the read", () => {
    const asked: Asked = { admitted: [], reads: 0 }
    /** Reads that never answer (a store whose server went silent). */
    const silent = (): Store["state"] => () => Effect.never
    return Effect.gen(function*() {
      const attempts = yield* attemptsAfter(asked, {
        fault: MockFault.status(503),
        retries: 1,
        baseMs: 1_000,
        threshold: 1,
        cooldownMs: 30_000,
        dueMs: 1_200
      })
      assert.deepStrictEqual(attempts, [failed, ...skippedToFallback])
      // the retry asked the store after the backoff, 1 s jittered by ±20%, and was refused
      assert.strictEqual(asked.admitted.length, 3)
      assert.isAtLeast(asked.admitted[1] ?? 0, 800)
    }).pipe(Effect.provide(recordingStore(asked, silent)))
  })
})
