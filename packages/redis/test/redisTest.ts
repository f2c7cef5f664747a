/**
 * Real Redis for tests: `REDIS_URL` (default `redis://127.0.0.1:6379`).
 *
 * With `CI=true` a missing Redis fails the test file at import; otherwise the
 * Redis suites skip with a warning on the console. Each test file uses a
 * unique key prefix and deletes its keys when it ends.
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Clock, Effect, Layer, Logger } from "effect"
import { createClient } from "redis"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"

/** The Redis the tests use. */
export const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

/** True when the Redis at `url` answers a PING within `connectTimeout` ms. */
export const answers = async (url: string, connectTimeout = 1_000): Promise<boolean> => {
  const client = createClient({ url, socket: { connectTimeout, reconnectStrategy: false } })
  client.on("error", () => {})
  try {
    await client.connect()
    await client.ping()
    client.destroy()
    return true
  } catch {
    return false
  }
}

/** True when Redis answered a PING. */
export const redisAvailable: boolean = await answers(redisUrl)

if (!redisAvailable) {
  if (process.env["CI"] === "true") {
    throw new Error(`Redis tests need Redis at ${redisUrl} (CI=true), but it did not answer; start redis-server`)
  }
  console.warn(`SKIPPING Redis tests: no Redis at ${redisUrl} (set REDIS_URL or start redis-server; CI=true fails)`)
}

/** A key prefix no other test run uses. */
export const uniquePrefix = (name: string): string => `baton-test:${name}:${crypto.randomUUID()}:`

/** Deletes every key under `prefix` (call it from `afterAll`). */
export const deleteKeys = async (prefix: string): Promise<void> => {
  const client = createClient({ url: redisUrl, socket: { reconnectStrategy: false } })
  client.on("error", () => {})
  await client.connect()
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys)
    }
  } finally {
    client.destroy()
  }
}

/**
 * `Redis` and `NodeRedis` connected to the test Redis; keys under `prefix`
 * are deleted when the layer is released. The connection is built on the
 * live clock: its pool keeps timers of its own, and a `TestClock` moved by
 * years would otherwise replay them one by one.
 */
export const layer = (prefix: string) =>
  Layer.effectDiscard(Effect.addFinalizer(() => Effect.ignore(Effect.tryPromise(() => deleteKeys(prefix))))).pipe(
    Layer.provideMerge(NodeRedis.layer({ url: redisUrl })),
    Layer.provide(Layer.succeed(Clock.Clock, Clock.Clock.defaultValue()))
  )

/** The messages of the warnings logged under `layer`, in order, for a test to read. */
export const captureWarnings = () => {
  const warnings: Array<string> = []
  const capture = Logger.make(({ logLevel, message }) => {
    if (logLevel === "Warn") warnings.push(Array.isArray(message) ? String(message[0]) : String(message))
  })
  return { warnings, layer: Logger.layer([capture]) }
}

/** `RedisQuotaStore.layerConfig` as an application builds it, on the Redis at `url`, its keys under `prefix`. */
export const quotaFromConfig = (url: string, prefix: string) =>
  RedisQuotaStore.layerConfig({ prefix }).pipe(
    Layer.provide(LlmConfig.layerFromRecord({ DEEPSEEK_API_KEY: "k", GEMINI_API_KEY: "g", REDIS_URL: url }))
  )
