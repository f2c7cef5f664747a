/**
 * The Redis quota store under `LlmManager`, as a service uses it: requests
 * that fail (each refunded) leave no field behind in the subject's hash.
 */
import { SubjectId } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Context, DateTime, Effect, Exit, Layer } from "effect"
import { createClient } from "redis"
import { Bench, inject, manager } from "../../core/test/utils/chain.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import * as RedisTest from "./redisTest.ts"

describe.skipIf(!RedisTest.redisAvailable)("RedisQuotaStore through LlmManager", () => {
  it.live(
    "failed requests, each refunded, leave the subject's hash a field per unit held at most",
    () =>
      Effect.gen(function*() {
        const prefix = RedisTest.uniquePrefix("manager-churn")
        yield* Effect.addFinalizer(() => Effect.promise(() => RedisTest.deleteKeys(prefix)))
        const context = yield* Layer.build(
          RedisQuotaStore.layerConfig({ prefix }).pipe(
            Layer.provide(LlmConfig.layerFromRecord({
              DEEPSEEK_API_KEY: "k",
              GEMINI_API_KEY: "g",
              REDIS_URL: RedisTest.redisUrl,
              AI_DAILY_LIMIT_PER_TEACHER: "5",
              AI_QUOTA_TIMEZONE: "UTC"
            }))
          )
        )
        const llm = yield* Effect.provideContext(manager({ chain: ["openai"] }), context)
        const teacher = SubjectId.make(`teacher-churn-${crypto.randomUUID()}`)
        const request = { prompt: "One question about Mars", metadata: { subjectId: teacher } }
        yield* inject("openai", MockFault.status(400), { times: 100 })
        for (let i = 0; i < 100; i++) assert.isTrue(Exit.isFailure(yield* Effect.exit(llm.generate(request))))
        for (let i = 0; i < 3; i++) yield* llm.generate(request)
        assert.strictEqual((yield* Context.get(context, QuotaLimiter.QuotaLimiter).remaining(teacher)).used, 3)
        const day = DateTime.formatIsoDate(yield* DateTime.now)
        const key = RedisQuotaStore.keyOf(prefix, { subjectId: teacher, day })
        const client = createClient({ url: RedisTest.redisUrl })
        yield* Effect.promise(() => client.connect())
        const fields = yield* Effect.promise(() => client.hKeys(key))
        yield* Effect.promise(() => client.quit())
        // the counters and the three committed reservations: none of the hundred refunded ones
        assert.isAtMost(fields.length, 3 + 3)
      }).pipe(Effect.provide(Bench), Effect.scoped),
    30_000
  )
})
