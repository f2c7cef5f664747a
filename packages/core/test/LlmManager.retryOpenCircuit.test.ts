/**
 * A retry its provider's circuit will refuse, through `LlmManager`: when the
 * failure that would be retried left the circuit open past the backoff (it
 * opened it, or another request did), or half-open with another request's
 * probe running, the manager does not sleep the backoff
 * (nor the server's `Retry-After`) only to skip the retry: the retry is
 * skipped at once and the next provider answers. A circuit store that does
 * not answer the read leaves the backoff as it was. Over HTTP against the
 * mock server, on `TestClock`: a sleep that should not happen never ends,
 * since these tests move the clock only where a wait is due.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Layer } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { TestClock } from "effect/testing"
import type { Attempt } from "../src/Attempt.ts"
import { Bench, eventually, inject, manager, pick, stats } from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about volcanoes." }

/** The request's attempts, as provider, role, outcome and error tag. */
const attemptsOf = (result: { readonly attempts: ReadonlyArray<Attempt> }) =>
  result.attempts.map(pick("provider", "role", "outcome", "error"))

/** Waits (in real time, the clock standing still) until `fiber` is done. */
const settled = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  eventually(Effect.sync(() => fiber.pollUnsafe() !== undefined), 3_000)

const failed = ["openai", "primary", "error", "ProviderUnavailable"]

/** openai's retry skipped, its circuit refusing it, and anthropic answering. */
const skippedToFallback = [
  ["openai", "retry", "skipped", "CircuitOpen"],
  ["anthropic", "fallback", "success", undefined]
]

/**
 * The attempts of a request on openai, then anthropic, openai answering
 * `fault` to each call (retried `retries` times after a backoff from
 * `baseMs`; its circuit opening after `threshold` failures, for
 * `cooldownMs`): the clock is moved by `dueMs` once openai's first answer
 * came, then stands still until the request settles.
 */
const attemptsAfter = (options: {
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
    yield* eventually(Effect.map(stats("openai"), (s) => s.completed === 1))
    if (options.dueMs > 0) yield* TestClock.adjust(options.dueMs)
    yield* settled(fiber)
    return attemptsOf(yield* Fiber.join(fiber))
  })

describe("LlmManager retrying into an open circuit", () => {
  it.effect("the failure that opens the circuit: falls back at once, not after its Retry-After", () =>
    Effect.gen(function*() {
      const attempts = yield* attemptsAfter({
        fault: MockFault.status(503, { retryAfter: "20" }),
        retries: 2,
        baseMs: 250,
        threshold: 1,
        cooldownMs: 30_000,
        dueMs: 0
      })
      assert.deepStrictEqual(attempts, [failed, ...skippedToFallback])
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(Bench)))

  it.effect("a retry that opens it: the backoff before it is slept, the one after it is not", () =>
    Effect.gen(function*() {
      // the first backoff, 1 s jittered by ±20%, is due: the circuit was closed
      const attempts = yield* attemptsAfter({
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
    }).pipe(Effect.provide(Bench)))

  it.effect(
    "a circuit half-open with its probe running: the failure of a call admitted before is not waited on",
    () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        const llm = yield* manager({
          chain: ["openai", "anthropic"],
          policy: { maxRetries: 1, retryBaseDelayMs: 100, requestTimeoutMs: 60_000 },
          circuit: { failureThreshold: 1, cooldownMs: 1_000 }
        })
        // the early call's 503 comes late (in real time, while the clock stands still), the other at once
        yield* inject("openai", MockFault.latency(1_500, MockFault.status(503)))
        yield* inject("openai", MockFault.status(503))
        const early = yield* Effect.forkChild(llm.generate(prompt))
        yield* eventually(Effect.map(stats("openai"), (s) => s.requests === 1))
        // another request's failure opens the circuit; once it may half-open, a third request's probe is held
        assert.strictEqual((yield* llm.generate(prompt)).provider, "anthropic")
        yield* TestClock.adjust(1_000)
        const probe = yield* Effect.scoped(Effect.gen(function*() {
          yield* server.hold("openai")
          const probe = yield* Effect.forkChild(llm.generate(prompt))
          yield* eventually(Effect.map(stats("openai"), (s) => s.requests === 3))
          // the early call fails while the probe runs: its retry is refused, skipped without its backoff
          yield* settled(early)
          assert.deepStrictEqual(attemptsOf(yield* Fiber.join(early)), [failed, ...skippedToFallback])
          return probe
        }))
        assert.strictEqual((yield* Fiber.join(probe)).provider, "openai")
      }).pipe(Effect.provide(Bench)),
    10_000
  )

  it.effect("a circuit that half-opens before the backoff ends: the retry is its probe, after the backoff", () =>
    Effect.gen(function*() {
      const attempts = yield* attemptsAfter({
        fault: MockFault.status(503),
        retries: 1,
        baseMs: 2_000,
        threshold: 1,
        cooldownMs: 1_000,
        dueMs: 2_400
      })
      assert.deepStrictEqual(attempts, [failed, ["openai", "retry", "error", "ProviderUnavailable"], [
        "anthropic",
        "fallback",
        "success",
        undefined
      ]])
    }).pipe(Effect.provide(Bench)))

  it.effect("a circuit store whose read does not answer: the retry comes after the backoff, as without the read", () => {
    /** The in-memory store, its reads never answering (a store whose server went silent). */
    const silentReads = Layer.effect(
      CircuitBreaker.CircuitBreakerStore,
      Effect.map(
        Effect.service(CircuitBreaker.CircuitBreakerStore),
        (store) => ({ ...store, state: () => Effect.never })
      )
    ).pipe(Layer.provide(CircuitBreaker.layerStoreMemory()))
    return Effect.gen(function*() {
      const attempts = yield* attemptsAfter({
        fault: MockFault.status(503),
        retries: 1,
        baseMs: 1_000,
        threshold: 1,
        cooldownMs: 30_000,
        dueMs: 1_200
      })
      assert.deepStrictEqual(attempts, [failed, ...skippedToFallback])
      assert.isAtMost(yield* Clock.currentTimeMillis, 1_200)
    }).pipe(Effect.provide(Layer.merge(Bench, silentReads)))
  })
})
