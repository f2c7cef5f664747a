/**
 * Redis down or paused under a running `LlmManager`: every store keeps its
 * documented choice (circuits and throttles fail open, quotas fail closed),
 * no request waits past its deadline, a request that ends at its deadline
 * still settles its quota, and closing the stack is bounded.
 * Each test runs its own Redis on a spare port and pauses or kills it by pid.
 */
import { ProviderName, SubjectId } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as MockFault from "@baton/testing/MockFault"
import * as RedisServer from "@baton/testing/RedisServer"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Fiber, Layer, Schedule, Scope } from "effect"
import { Bench, eventually, inject, liveNow, liveWait, manager } from "../../core/test/utils/chain.ts"
import * as RedisCircuitBreaker from "../src/RedisCircuitBreaker.ts"
import * as RedisConnection from "../src/RedisConnection.ts"
import * as RedisProviderThrottle from "../src/RedisProviderThrottle.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import * as RedisTest from "./redisTest.ts"

/** Scheduling slack on a loaded 2-core machine; the bounds themselves are the deadline and `closeTimeout`. */
const slackMs = 1_000
const prompt = { prompt: "One question about Mars" }
const config = (url: string) =>
  LlmConfig.layerFromRecord({ DEEPSEEK_API_KEY: "k", GEMINI_API_KEY: "g", REDIS_URL: url })

/**
 * The circuit store and the throttle on the test's own Redis, both as a user wires them: over
 * `RedisConnection`, whose close is bounded (a plain `NodeRedis.layer` client's own close can
 * wait on a reconnecting socket).
 */
const stores = (url: string) =>
  Layer.mergeAll(
    RedisCircuitBreaker.layerConfig.pipe(Layer.provide(config(url))),
    RedisProviderThrottle.layer({ openai: { requestsPerMinute: 10_000 } }, {
      prefix: RedisTest.uniquePrefix("outage-throttle")
    }).pipe(Layer.provide(RedisConnection.layer({ url })))
  )

/** Runs `requests` generate calls with a deadline of `deadlineMs`, returning their exits and the longest wait. */
const burst = (requests: number, deadlineMs: number) =>
  Effect.gen(function*() {
    const llm = yield* manager({ chain: ["openai"] })
    const started = yield* liveNow
    const exits = yield* Effect.forEach(
      Array.from({ length: requests }),
      () => Effect.exit(llm.generate({ ...prompt, options: { timeout: deadlineMs } })),
      { concurrency: "unbounded" }
    )
    return { exits, elapsedMs: (yield* liveNow) - started }
  })

/**
 * The context `store` builds on the test's own Redis, served once while Redis is up, then with Redis paused (resumed
 * when the test's scope closes).
 */
const pausedWith = <ROut, E>(store: (url: string) => Layer.Layer<ROut, E>) =>
  Effect.gen(function*() {
    const server = yield* RedisServer.start
    const context = yield* Layer.build(store(server.url))
    yield* Effect.provideContext(burst(1, 3_000), context)
    yield* server.pause
    yield* Effect.addFinalizer(() => server.resume)
    return context
  })

describe.skipIf(!RedisTest.redisAvailable)("Redis outage through LlmManager", () => {
  it.live(
    "paused Redis: circuit and throttle fail open, every request answers within its deadline",
    () =>
      Effect.gen(function*() {
        const context = yield* pausedWith(stores)
        const { elapsedMs, exits } = yield* Effect.provideContext(burst(3, 3_000), context)
        assert.deepStrictEqual(exits.filter(Exit.isFailure), [], "the stores fail open")
        assert.isBelow(elapsedMs, 3_000 + slackMs)
      }).pipe(Effect.provide(Bench), Effect.scoped),
    20_000
  )

  it.live(
    "paused Redis, a throttle with a 5 s command timeout: a request still ends at its deadline (300 ms)",
    () =>
      Effect.gen(function*() {
        const context = yield* pausedWith((url) =>
          RedisProviderThrottle.layer({ openai: { requestsPerMinute: 10_000 } }, {
            prefix: RedisTest.uniquePrefix("deadline-throttle"),
            commandTimeout: "5 seconds"
          }).pipe(Layer.provide(RedisConnection.layer({ url, commandTimeout: "5 seconds" })))
        )
        const { elapsedMs, exits } = yield* Effect.provideContext(burst(1, 300), context)
        assert.isBelow(elapsedMs, 300 + slackMs)
        assert.isTrue(exits.every(Exit.isFailure), "the call let through after the deadline ends with it")
      }).pipe(Effect.provide(Bench), Effect.scoped),
    20_000
  )

  /**
   * A request whose deadline (300 ms) cuts its store command before the command timeout (1 s) ends with the
   * deadline, as documented; the command is still watched to its timeout, so the connection then fails commands
   * at once for a second and the requests then are served, not each held to its deadline while Redis is paused:
   * eight requests in a row, `store` on a paused Redis. The first four leave before the first command's timeout,
   * the rest come within the quiet window (about 800 ms of slack for the four).
   */
  const servedWhilePaused = <ROut, E>(store: (url: string) => Layer.Layer<ROut, E>) =>
    Effect.gen(function*() {
      const context = yield* pausedWith(store)
      const served: Array<boolean> = []
      for (let request = 0; request < 8; request++) {
        const { exits } = yield* Effect.provideContext(burst(1, 300), context)
        served.push(exits.every(Exit.isSuccess))
      }
      assert.isFalse(served[0], "the first is cut at its deadline")
      assert.isAtLeast(served.filter(Boolean).length, 3, `served: ${served.join(", ")}`)
    }).pipe(Effect.provide(Bench), Effect.scoped)

  const commandTimeout = "1 second"

  it.live(
    "paused Redis, deadlines shorter than the command timeout: the circuit store fails open for the requests after",
    () =>
      servedWhilePaused((url) =>
        RedisCircuitBreaker.layer({ commandTimeout, prefix: RedisTest.uniquePrefix("short-deadline-circuit") }).pipe(
          Layer.provide(RedisConnection.layer({ url, commandTimeout }))
        )
      ),
    20_000
  )

  it.live(
    "paused Redis, deadlines shorter than the command timeout: the throttle fails open for the requests after",
    () =>
      servedWhilePaused((url) =>
        RedisProviderThrottle.layer({ openai: { requestsPerMinute: 10_000 } }, {
          commandTimeout,
          prefix: RedisTest.uniquePrefix("short-deadline-throttle")
        }).pipe(Layer.provide(RedisConnection.layer({ url, commandTimeout })))
      ),
    20_000
  )

  it.live(
    "killed Redis: requests keep being served at once; after a restart the stores work again",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start
        const context = yield* Layer.build(stores(server.url))
        yield* server.kill
        const down = yield* Effect.provideContext(burst(50, 3_000), context)
        assert.deepStrictEqual(down.exits.filter(Exit.isFailure), [], "the stores fail open")
        assert.isBelow(down.elapsedMs, 3_000 + slackMs)
        const llm = yield* Effect.provideContext(manager({ chain: ["openai"] }), context)
        const state = yield* Effect.flip(llm.circuitState(ProviderName.make("openai")))
        assert.strictEqual(state._tag, "CircuitStoreUnavailable")
        yield* server.restart
        const up = yield* Effect.provideContext(burst(5, 3_000), context)
        assert.isTrue(up.exits.every(Exit.isSuccess))
      }).pipe(Effect.provide(Bench), Effect.scoped),
    20_000
  )

  it.live(
    "paused Redis: the quota fails closed within the deadline, and closing the stack is bounded",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          Layer.merge(stores(server.url), RedisQuotaStore.layerConfig({ prefix: RedisTest.uniquePrefix("outage-q") }))
            .pipe(
              Layer.provide(config(server.url))
            ),
          scope
        )
        yield* server.pause
        yield* Effect.addFinalizer(() => server.resume)
        const llm = yield* Effect.provideContext(manager({ chain: ["openai"] }), context)
        const started = yield* liveNow
        const exit = yield* Effect.exit(
          llm.generate({ ...prompt, metadata: { subjectId: SubjectId.make("t-1") }, options: { timeout: 3_000 } })
        )
        assert.isBelow((yield* liveNow) - started, 3_000 + slackMs)
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.include(String(exit.cause), "QuotaStoreUnavailable")
        const closing = yield* liveNow
        yield* Scope.close(scope, Exit.void)
        assert.isBelow((yield* liveNow) - closing, closeBoundMs)
      }).pipe(Effect.provide(Bench), Effect.scoped),
    30_000
  )

  it.live(
    "a 3 s pause charges nothing for the requests that failed closed, once Redis resumes",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start
        const context = yield* Layer.build(
          RedisQuotaStore.layerConfig({ prefix: RedisTest.uniquePrefix("pause-q") }).pipe(
            Layer.provide(config(server.url))
          )
        )
        const llm = yield* Effect.provideContext(manager({ chain: ["openai"] }), context)
        const teacher = SubjectId.make("teacher-paused")
        const request = { ...prompt, metadata: { subjectId: teacher }, options: { timeout: 3_000 } }
        yield* llm.generate(request)
        yield* server.pause
        const exits = yield* Effect.forEach(Array.from({ length: 5 }), () => Effect.exit(llm.generate(request)), {
          concurrency: "unbounded"
        })
        assert.isTrue(exits.every(Exit.isFailure), "the quota fails closed while Redis is paused")
        yield* liveWait(3_000)
        yield* server.resume
        const used = QuotaLimiter.QuotaLimiter.use((quota) => quota.remaining(teacher)).pipe(
          Effect.map((status) => status.used),
          Effect.provideContext(context)
        )
        // late reservations run on resume; the undo that follows each must take it back
        yield* liveWait(1_500)
        yield* eventually(Effect.map(used, (n) => n === 1))
        yield* liveWait(1_000)
        assert.strictEqual(yield* used, 1)
      }).pipe(Effect.provide(Bench), Effect.scoped),
    30_000
  )

  for (
    const [name, timeout] of [
      ["the store's default timeout (500 ms)", undefined],
      ["a store timeout of 5 s", "5 seconds"]
    ] as const
  ) {
    it.live(
      `paused Redis, ${name}: a reservation fails at the request's deadline (200 ms) and spends nothing`,
      () =>
        Effect.gen(function*() {
          const server = yield* RedisServer.start
          const context = yield* Layer.build(
            RedisQuotaStore.layerConfig({ prefix: RedisTest.uniquePrefix("deadline-q"), timeout }).pipe(
              Layer.provide(config(server.url))
            )
          )
          const llm = yield* Effect.provideContext(manager({ chain: ["openai"] }), context)
          const teacher = SubjectId.make("teacher-deadline")
          const request = { ...prompt, metadata: { subjectId: teacher }, options: { timeout: 200 } }
          yield* llm.generate({ ...request, options: { timeout: 3_000 } })
          yield* server.pause
          yield* Effect.addFinalizer(() => server.resume)
          const started = yield* liveNow
          const exit = yield* Effect.exit(llm.generate(request))
          assert.isBelow((yield* liveNow) - started, 200 + slackMs)
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) {
            assert.include(String(exit.cause), "QuotaStoreUnavailable")
            assert.include(String(exit.cause), "by the request's deadline")
          }
          yield* server.resume
          // the reservation runs on resume; its undo takes it back
          const used = QuotaLimiter.QuotaLimiter.use((quota) => quota.remaining(teacher)).pipe(
            Effect.map((status) => status.used),
            Effect.provideContext(context)
          )
          yield* eventually(Effect.map(Effect.orElseSucceed(used, () => -1), (n) => n === 1))
          yield* liveWait(1_500)
          assert.strictEqual(yield* used, 1)
        }).pipe(Effect.provide(Bench), Effect.scoped),
      30_000
    )
  }

  it.live(
    "a request cut by its deadline, or interrupted, still refunds its reservation on a Redis that answers",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start
        const context = yield* Layer.build(
          RedisQuotaStore.layerConfig({ prefix: RedisTest.uniquePrefix("deadline-refund") }).pipe(
            Layer.provide(config(server.url))
          )
        )
        const llm = yield* Effect.provideContext(manager({ chain: ["openai"] }), context)
        const teacher = SubjectId.make("teacher-cut")
        const request = { ...prompt, metadata: { subjectId: teacher } }
        const used = QuotaLimiter.QuotaLimiter.use((quota) => quota.remaining(teacher)).pipe(
          Effect.map((status) => status.used),
          Effect.provideContext(context)
        )
        yield* llm.generate(request)
        yield* inject("openai", MockFault.noResponse, { times: 2 })
        const cut = yield* Effect.flip(llm.generate({ ...request, options: { timeout: 300 } }))
        assert.strictEqual(cut._tag, "DeadlineExceeded")
        assert.strictEqual(yield* used, 1, "refunded at once, within the grace")
        const fiber = yield* Effect.forkChild(llm.generate({ ...request, options: { timeout: 3_000 } }))
        yield* eventually(Effect.map(used, (n) => n === 2))
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(yield* used, 1)
      }).pipe(Effect.provide(Bench), Effect.scoped),
    30_000
  )

  it.live(
    "a refund whose reply does not come while Redis is paused is applied once it resumes, and only once",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start
        const context = yield* Layer.build(
          RedisQuotaStore.layerConfig({ prefix: RedisTest.uniquePrefix("pause-refund") }).pipe(
            Layer.provide(config(server.url))
          )
        )
        const teacher = SubjectId.make("teacher-refund")
        const quota = Context.get(context, QuotaLimiter.QuotaLimiter)
        // right after a pause the connection keeps a quiet window before it asks Redis again
        const used = Effect.map(quota.remaining(teacher), (status) => status.used).pipe(
          Effect.retry({ schedule: Schedule.spaced("250 millis"), times: 20 })
        )
        yield* quota.reserve(teacher, 1).pipe(Effect.flatMap((kept) => kept.commit()))
        const failed = yield* quota.reserve(teacher, 2)
        assert.strictEqual(yield* used, 3)
        yield* server.pause
        yield* failed.refund
        yield* liveWait(1_500)
        yield* server.resume
        yield* eventually(Effect.map(used, (n) => n === 1))
        yield* liveWait(1_500)
        assert.strictEqual(yield* used, 1, "the refund ran once")
      }).pipe(Effect.scoped),
    30_000
  )
})

/** Closing takes at most `closeTimeout` per connection (two here: quota, circuit store; the throttle client is built in the outer scope). */
const closeBoundMs = 2 * Duration.toMillis(RedisConnection.defaults.closeTimeout) + slackMs
