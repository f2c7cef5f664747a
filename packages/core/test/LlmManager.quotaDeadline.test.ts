/**
 * A quota store that waits on I/O (`remote`) is bounded by the request's
 * deadline through `LlmManager`, the whole request long: a reservation
 * still pending then fails the request at its deadline, and a refund is
 * bounded too. A store that is not `remote` is not bounded (the manager sets
 * no deadline for it). The store here is the in-memory one, slowed down,
 * bounding its commands by `StoreDeadline` as a remote store does; time is
 * the TestClock.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import { SubjectId } from "../src/Ids.ts"
import { QuotaStoreUnavailable } from "../src/LlmError.ts"
import type * as LlmManager from "../src/LlmManager.ts"
import * as QuotaLimiter from "../src/QuotaLimiter.ts"
import * as StoreDeadline from "../src/StoreDeadline.ts"
import { Bench, inject, manager } from "./utils/chain.ts"

const teacher = SubjectId.make("teacher-deadline")
const request = { prompt: "Write one quiz question about tides.", metadata: { subjectId: teacher } }
const unanswered = () => new QuotaStoreUnavailable({ message: "the quota store did not answer by the deadline" })

/**
 * A manager (deadline 5 s) over a limiter whose store's `reserve` takes a
 * minute, bounded by `StoreDeadline`; `asked` completes when a reservation
 * reaches the store.
 */
const slowQuota = (options: {
  readonly remote: boolean
  readonly failOpen?: boolean
  /** The slow command: `reserve` (default) or `refund`. */
  readonly slow?: "reserve" | "refund"
}) =>
  Effect.gen(function*() {
    const asked = yield* Deferred.make<undefined>()
    const memory = yield* QuotaLimiter.makeStoreMemory
    const slowly = <A>(command: Effect.Effect<A, QuotaStoreUnavailable>, graceMs?: number) =>
      Effect.andThen(
        Deferred.succeed(asked, undefined),
        StoreDeadline.bound(Effect.andThen(Effect.sleep(60_000), command), { graceMs, onTimeout: unanswered })
      )
    const store: QuotaLimiter.QuotaStore["Service"] = {
      ...memory,
      remote: options.remote,
      ...(options.slow === "refund"
        ? { refund: (refund) => slowly(memory.refund(refund), StoreDeadline.settleGraceMs) }
        : { reserve: (reservation) => slowly(memory.reserve(reservation)) })
    }
    const limiter = yield* QuotaLimiter.make({
      maxQuestionsPerRequest: 20,
      dailyLimit: 100,
      timeZone: "UTC",
      failOpen: options.failOpen
    }).pipe(Effect.provideService(QuotaLimiter.QuotaStore, store))
    const llm: LlmManager.Service = yield* manager({ chain: ["openai"], policy: { requestTimeoutMs: 5_000 } }).pipe(
      Effect.provideService(QuotaLimiter.QuotaLimiter, limiter)
    )
    const spent = Effect.map(memory.usage({ subjectId: teacher, day: "1970-01-01" }), (usage) => usage.units)
    return { asked, llm, spent }
  })

/** How a request fails once its store command (or lookup) `asked` is pending and the TestClock passed its deadline. */
const failedAtDeadline = (asked: Deferred.Deferred<undefined>, llm: LlmManager.Service) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.flip(llm.generate(request)))
    yield* Deferred.await(asked)
    yield* TestClock.adjust(5_000)
    return yield* Fiber.join(fiber)
  })

describe("LlmManager with a remote quota store", () => {
  it.effect("a reservation pending at the deadline fails the request at its deadline, spending nothing", () =>
    Effect.gen(function*() {
      const { asked, llm, spent } = yield* slowQuota({ remote: true })
      const error = yield* failedAtDeadline(asked, llm)
      assert.strictEqual(error._tag, "QuotaStoreUnavailable")
      assert.strictEqual(yield* Clock.currentTimeMillis, 5_000)
      assert.strictEqual(yield* spent, 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("failOpen: a reservation cut by the deadline lets the request through, which ends at its deadline", () =>
    Effect.gen(function*() {
      const { asked, llm, spent } = yield* slowQuota({ remote: true, failOpen: true })
      const error = yield* failedAtDeadline(asked, llm)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.strictEqual(yield* spent, 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("the refund of a request that failed early is bounded by its deadline too", () =>
    Effect.gen(function*() {
      const { asked, llm, spent } = yield* slowQuota({ remote: true, slow: "refund" })
      yield* inject("openai", MockFault.status(503))
      const error = yield* failedAtDeadline(asked, llm)
      assert.strictEqual(error._tag, "AllProvidersFailed")
      assert.strictEqual(yield* Clock.currentTimeMillis, 5_000)
      assert.strictEqual(yield* spent, 1, "a refund the store did not take stays spent (the store's undo is its own)")
    }).pipe(Effect.provide(Bench)))

  it.effect("a store not marked remote is not bounded by the deadline (none is set)", () =>
    Effect.gen(function*() {
      const { asked, llm, spent } = yield* slowQuota({ remote: false })
      const fiber = yield* Effect.forkChild(llm.generate(request))
      yield* Deferred.await(asked)
      yield* TestClock.adjust(10_000)
      assert.isUndefined(fiber.pollUnsafe(), "the reservation still waits past the deadline")
      // a reservation is not interrupted: let it answer, then end the request
      yield* TestClock.adjust(50_000)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* spent, 0, "refunded")
    }).pipe(Effect.provide(Bench)))
})

/**
 * A manager (deadline 5 s) over a limiter in memory whose per-subject
 * `overrides` lookup takes a minute (a database of premium teachers that
 * stopped answering); `asked` completes when the lookup starts.
 */
const slowLookup = Effect.gen(function*() {
  const asked = yield* Deferred.make<undefined>()
  const limiter = yield* QuotaLimiter.make({
    maxQuestionsPerRequest: 20,
    dailyLimit: 100,
    timeZone: "UTC",
    overrides: () => Effect.andThen(Deferred.succeed(asked, undefined), Effect.as(Effect.sleep(60_000), Option.none()))
  }).pipe(Effect.provide(QuotaLimiter.layerStoreMemory))
  const llm: LlmManager.Service = yield* manager({ chain: ["openai"], policy: { requestTimeoutMs: 5_000 } }).pipe(
    Effect.provideService(QuotaLimiter.QuotaLimiter, limiter)
  )
  return { asked, llm }
})

describe("LlmManager with a quota overrides lookup that waits", () => {
  it.effect("a lookup pending at the deadline fails the request at its deadline", () =>
    Effect.gen(function*() {
      const { asked, llm } = yield* slowLookup
      const error = yield* failedAtDeadline(asked, llm)
      assert.strictEqual(error._tag, "QuotaStoreUnavailable")
      assert.strictEqual(yield* Clock.currentTimeMillis, 5_000)
    }).pipe(Effect.provide(Bench)))

  it.effect("a caller that goes away during the lookup is not held by it", () =>
    Effect.gen(function*() {
      const { asked, llm } = yield* slowLookup
      const fiber = yield* Effect.forkChild(llm.generate(request))
      yield* Deferred.await(asked)
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(fiber))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.isDefined(interrupting.pollUnsafe(), "the interruption waits for the lookup")
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    }).pipe(Effect.provide(Bench)))
})
