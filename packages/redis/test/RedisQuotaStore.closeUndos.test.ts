/**
 * Closing the Redis quota store while refunds still wait for Redis: they are
 * dropped, and the module docs promise a warning for them, as for undos
 * dropped when too many wait (a teacher stays charged for a failed request).
 */
import { SubjectId } from "@baton/core/Ids"
import * as MockFault from "@baton/testing/MockFault"
import * as RedisServer from "@baton/testing/RedisServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { Bench, inject, liveWait, manager } from "../../core/test/utils/chain.ts"
import * as RedisTest from "./redisTest.ts"

describe.skipIf(!RedisTest.redisAvailable)("RedisQuotaStore closed with refunds waiting for Redis", () => {
  it.live(
    "the refunds dropped at close are warned of, with their number",
    () =>
      Effect.gen(function*() {
        const { layer: capture, warnings } = RedisTest.captureWarnings()
        const server = yield* RedisServer.start
        yield* Effect.gen(function*() {
          const context = yield* Layer.build(
            RedisTest.quotaFromConfig(server.url, RedisTest.uniquePrefix("close-undos"))
          )
          const llm = yield* Effect.provideContext(manager({ chain: ["openai"] }), context)
          const request = { prompt: "One question about Mars", metadata: { subjectId: SubjectId.make("teacher-1") } }
          // the unit is reserved, then Redis stops answering and the provider fails: the refund cannot reach Redis
          yield* inject("openai", MockFault.latency(300, MockFault.status(400)))
          const fiber = yield* Effect.forkChild(llm.generate(request))
          yield* liveWait(100)
          yield* server.pause
          assert.isTrue(Exit.isFailure(yield* Fiber.await(fiber)))
          assert.isFalse(warnings.some((warning) => warning.includes("dropped")))
        }).pipe(Effect.scoped, Effect.provide(capture))
        yield* server.resume
        assert.isTrue(
          warnings.some((warning) => warning.includes("quota store (Redis): 1 undos dropped at close")),
          `warnings: ${JSON.stringify(warnings)}`
        )
      }).pipe(Effect.provide(Bench), Effect.scoped),
    30_000
  )
})
