/**
 * Quota benchmark: how fast the Redis quota store reserves, and what a
 * reservation costs next to a bare Redis `INCR` round trip measured in the
 * same run on the same connection (the ratio is the number to compare across
 * machines, not the absolute timings).
 *
 * Run: `node_modules/.bin/node bench/quota.ts` (needs Redis at `REDIS_URL`,
 * default `redis://127.0.0.1:6379`). Keys go under a unique prefix and are
 * deleted at the end.
 *
 * Measures, each after a warm-up:
 * - sequential latency: `INCR`, `reserve`, `reserve` + `refund` (via `withQuota`
 *   with a failing effect), and a memory-store `reserve` for reference;
 * - throughput: reservations per second with 64 in flight, and `INCR`s per
 *   second with the same concurrency.
 */
import { SubjectId } from "@baton/core/Ids"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RedisQuotaStore from "@baton/redis/RedisQuotaStore"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Effect, Layer } from "effect"
import { Redis } from "effect/persistence"

const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"
const prefix = `baton-bench:${crypto.randomUUID()}:`
const sequential = 5_000
const concurrent = 20_000
const inFlight = 64

const options: QuotaLimiter.Options = {
  maxQuestionsPerRequest: 20,
  dailyLimit: 1_000_000_000,
  timeZone: "UTC"
}

/** Runs `times` operations with `concurrency` in flight; returns microseconds per operation and operations per second. */
const measure = <E, R>(times: number, concurrency: number, operation: (i: number) => Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    yield* Effect.forEach(Array.from({ length: Math.min(500, times) }, (_, i) => i), operation, {
      concurrency,
      discard: true
    })
    const started = performance.now()
    yield* Effect.forEach(Array.from({ length: times }, (_, i) => i), operation, { concurrency, discard: true })
    const elapsedMs = performance.now() - started
    return { microsPerOp: (elapsedMs * 1000) / times, opsPerSecond: Math.round((times * 1000) / elapsedMs) }
  })

const program = Effect.gen(function*() {
  const redis = yield* Redis.Redis
  const quota = yield* QuotaLimiter.make(options)
  const memory = yield* QuotaLimiter.make(options).pipe(Effect.provide(QuotaLimiter.layerStoreMemory))
  const subject = (i: number) => SubjectId.make(`bench-${i % 1_000}`)
  const incr = (i: number) => redis.send("INCR", `${prefix}incr:${i % 1_000}`)

  const incrLatency = yield* measure(sequential, 1, incr)
  const reserveLatency = yield* measure(sequential, 1, (i) => quota.reserve(subject(i)))
  const reserveRefundLatency = yield* measure(
    sequential,
    1,
    (i) => Effect.ignore(quota.withQuota(subject(i), 1, () => Effect.fail("generation failed")))
  )
  const memoryLatency = yield* measure(sequential, 1, (i) => memory.reserve(subject(i)))
  const incrThroughput = yield* measure(concurrent, inFlight, incr)
  const reserveThroughput = yield* measure(concurrent, inFlight, (i) => quota.reserve(subject(i)))

  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100
  const rows = [
    ["INCR (sequential)", incrLatency],
    ["reserve, Redis (sequential)", reserveLatency],
    ["reserve + refund, Redis (sequential)", reserveRefundLatency],
    ["reserve, memory (sequential)", memoryLatency],
    [`INCR (${inFlight} in flight)`, incrThroughput],
    [`reserve, Redis (${inFlight} in flight)`, reserveThroughput]
  ] as const
  for (const [name, result] of rows) {
    console.log(
      `${name.padEnd(40)} ${result.microsPerOp.toFixed(1).padStart(8)} µs/op ${
        String(result.opsPerSecond).padStart(8)
      } op/s`
    )
  }
  console.log(`reserve / INCR latency ratio:            ${ratio(reserveLatency.microsPerOp, incrLatency.microsPerOp)}`)
  console.log(
    `reserve + refund / INCR latency ratio:   ${ratio(reserveRefundLatency.microsPerOp, incrLatency.microsPerOp)}`
  )
  console.log(
    `reserve / INCR throughput ratio:         ${ratio(reserveThroughput.opsPerSecond, incrThroughput.opsPerSecond)}`
  )
  console.log(`reservations per second (${inFlight} in flight): ${reserveThroughput.opsPerSecond}`)

  const { use } = yield* NodeRedis.NodeRedis
  yield* use(async (client) => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1_000 })) {
      if (keys.length > 0) await client.del(keys)
    }
  })
})

await Effect.runPromise(program.pipe(
  Effect.provide(RedisQuotaStore.layerStore({ prefix }).pipe(Layer.provideMerge(NodeRedis.layer({ url: redisUrl }))))
))
