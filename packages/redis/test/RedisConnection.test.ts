/**
 * Connecting: a malformed URL, and a Redis that accepts the connection but
 * never completes node-redis's handshake (`CLIENT SETINFO`, ...): a paused
 * server (SIGSTOP) or a TCP endpoint that never answers. Building a store
 * then fails with its typed error after `connectTimeout`, and interrupting
 * the build closes the connection at once instead of waiting for the
 * handshake.
 *
 * Closing: against a paused Redis, closing the layer drops the socket
 * within `closeTimeout` (no reply will come to wait for).
 *
 * Reconnecting: behind a proxy that cuts the connection and then accepts
 * the reconnections without answering them, each reconnection is dropped
 * after `connectTimeout` and tried again, so that commands (and a
 * subscriber) work again once the proxy forwards again.
 *
 * Real time: the connection's socket runs on the live clock, so these tests
 * use `it.live`, each with a test timeout so that a build that never ends
 * fails the test instead of hanging it.
 */
import { SubjectId } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RedisServer from "@baton/testing/RedisServer"
import * as TcpProxy from "@baton/testing/TcpProxy"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Layer, Queue, Schedule, Scope } from "effect"
import { Redis } from "effect/persistence"
import { eventually } from "../../core/test/utils/chain.ts"
import * as RedisCircuitBreaker from "../src/RedisCircuitBreaker.ts"
import * as RedisConnection from "../src/RedisConnection.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import * as RedisTest from "./redisTest.ts"

/** TCP sockets open in this process (a destroyed socket leaves the list once its handle is closed). */
const openSockets = (): number => process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap").length

const withUrl = (url: string) =>
  LlmConfig.layerFromRecord({ DEEPSEEK_API_KEY: "k", GEMINI_API_KEY: "g", REDIS_URL: url })

/** The Redis URL of a proxy (or of a proxy without a target: a Redis that never answers). */
const redisUrl = (proxy: TcpProxy.TcpProxy): string => `redis://127.0.0.1:${proxy.port}`

describe("RedisConnection", () => {
  it.effect("a malformed REDIS_URL is an LlmConfigError naming REDIS_URL when a store layer is built", () =>
    Effect.gen(function*() {
      for (const url of ["not a url", "http://127.0.0.1:6379", "redis://127.0.0.1:notaport"]) {
        const quota = yield* Effect.flip(Layer.build(RedisQuotaStore.layerConfig().pipe(Layer.provide(withUrl(url)))))
        assert.strictEqual(quota._tag, "LlmConfigError", url)
        const circuit = yield* Effect.flip(
          Layer.build(RedisCircuitBreaker.layerConfig.pipe(Layer.provide(withUrl(url))))
        )
        assert.strictEqual(circuit.variable, "REDIS_URL", url)
      }
    }))

  it.live(
    "a Redis that accepts the connection but never answers fails RedisQuotaStore.layerConfig with QuotaStoreUnavailable",
    () =>
      Effect.gen(function*() {
        const server = yield* TcpProxy.make()
        // the default connectTimeout (5 seconds) bounds the handshake too, not only the TCP connect
        const error = yield* Effect.flip(
          Layer.build(
            RedisQuotaStore.layerConfig({ prefix: "baton-silent:" }).pipe(Layer.provide(withUrl(redisUrl(server))))
          )
        )
        assert.strictEqual(error._tag, "QuotaStoreUnavailable")
        assert.include(error.message, "REDIS_URL")
        assert.isAtLeast(server.accepted(), 1, "the TCP connection was made: the handshake is what never ended")
        yield* server.allClosed
      }),
    20_000
  )

  it.live(
    "interrupting a build that waits for the handshake closes the connection at once",
    () =>
      Effect.gen(function*() {
        const server = yield* TcpProxy.make()
        const error = yield* Layer.build(RedisConnection.layer({ url: redisUrl(server), connectTimeout: "1 minute" }))
          .pipe(
            Effect.timeout("200 millis"),
            Effect.scoped,
            Effect.flip
          )
        assert.isTrue(Cause.isTimeoutError(error))
        yield* server.allClosed
      }),
    10_000
  )

  it.live(
    "interrupting a build still in its TCP connect closes the connection once it connects",
    () =>
      Effect.gen(function*() {
        const server = yield* TcpProxy.make()
        // started at once and interrupted in the same tick, before the socket connects (an interruption
        // that waits a tick lets a localhost connect complete first): node-redis's destroy() would miss
        // that socket, which then stays open
        const build = yield* Layer.build(RedisConnection.layer({ url: redisUrl(server), connectTimeout: "1 minute" }))
          .pipe(
            Effect.scoped,
            Effect.forkChild({ startImmediately: true })
          )
        yield* Fiber.interrupt(build)
        assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(build)))
        yield* server.allClosed
      }),
    10_000
  )
})

describe.skipIf(!RedisTest.redisAvailable)("RedisConnection against a paused Redis", () => {
  it.live(
    "RedisConnection.layer fails with RedisError after connectTimeout",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start
        yield* server.pause
        const error = yield* Effect.flip(
          Layer.build(RedisConnection.layer({ url: server.url, connectTimeout: "300 millis" }))
        )
        assert.strictEqual(error._tag, "RedisError")
        assert.include(String(error.cause), "300ms")
      }),
    10_000
  )

  it.live(
    "RedisCircuitBreaker.layerConfig fails with an LlmConfigError naming REDIS_URL",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start
        yield* server.pause
        const error = yield* Effect.flip(
          Layer.build(RedisCircuitBreaker.layerConfig.pipe(Layer.provide(withUrl(server.url))))
        )
        assert.strictEqual(error.variable, "REDIS_URL")
        assert.include(error.message, "could not connect")
      }),
    20_000
  )

  it.live(
    "closing the layer while Redis is paused drops the socket within closeTimeout",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start
        // the sockets of the server's start-up probes leave the list once their handles are closed
        yield* Effect.sleep("100 millis")
        const before = openSockets()
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          RedisConnection.layer({ url: server.url, commandTimeout: "200 millis", closeTimeout: "300 millis" }),
          scope
        )
        const redis = Context.get(context, Redis.Redis)
        assert.strictEqual(yield* redis.send("PING"), "PONG")
        assert.strictEqual(openSockets(), before + 1)
        yield* server.pause
        // a reply that never comes: the close has a reply to wait for
        assert.strictEqual((yield* Effect.flip(redis.send("PING")))._tag, "RedisError")
        // a close that waited for the paused Redis would run into the test's timeout
        yield* Scope.close(scope, Exit.void)
        // the server stays paused: only the client can have closed the socket
        yield* Effect.sleep("100 millis")
        assert.strictEqual(openSockets(), before, "the socket to the paused Redis is still open")
      }),
    10_000
  )

  it.live(
    "a connection that completed in time outlives its connectTimeout",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start
        const context = yield* Layer.build(RedisConnection.layer({ url: server.url, connectTimeout: "1 second" }))
        const redis = Context.get(context, Redis.Redis)
        yield* Effect.sleep("1200 millis")
        assert.strictEqual(yield* redis.send("PING"), "PONG")
      }),
    10_000
  )
})

describe.skipIf(!RedisTest.redisAvailable)("RedisConnection reconnecting through a hung proxy", () => {
  // node-redis retries a handshake with a command that fails it (SELECT) and one without on two paths
  for (const [database, handshake] of [["", "CLIENT SETINFO"], ["/1", "SELECT, CLIENT SETINFO"]] as const) {
    it.live(
      `a reconnection whose handshake (${handshake}) is never answered is dropped; the quota store works again once Redis answers`,
      () =>
        Effect.gen(function*() {
          const server = yield* RedisServer.start
          const proxy = yield* TcpProxy.make({ host: "127.0.0.1", port: server.port })
          const context = yield* Layer.build(
            RedisQuotaStore.layer({ prefix: RedisTest.uniquePrefix("reconnect") }).pipe(
              Layer.provideMerge(
                RedisConnection.layer({ url: redisUrl(proxy) + database, connectTimeout: "1 second" })
              ),
              Layer.provide(withUrl(redisUrl(proxy)))
            )
          )
          const quota = Context.get(context, QuotaLimiter.QuotaLimiter)
          const redis = Context.get(context, Redis.Redis)
          const teacher = SubjectId.make("teacher-reconnect")
          assert.strictEqual((yield* quota.remaining(teacher)).used, 0)
          // the connection is lost; the proxy accepts the reconnections and never answers them
          yield* proxy.mode("hang")
          yield* proxy.cut
          const lost = proxy.accepted()
          // a second unanswered reconnection: the client dropped the first one, whose handshake hung
          yield* eventually(Effect.sync(() => proxy.accepted() >= lost + 2), 20_000)
          assert.strictEqual((yield* Effect.flip(redis.send("PING")))._tag, "RedisError")
          yield* proxy.mode("forward")
          const restored = proxy.accepted()
          const status = yield* quota.remaining(teacher).pipe(
            Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 200 })
          )
          assert.strictEqual(status.used, 0)
          assert.strictEqual(yield* redis.send("PING"), "PONG")
          // the reconnection under way when forwarding resumed may be one more unanswered one
          assert.isAtMost(proxy.accepted() - restored, 2, "reconnections after forwarding resumed")
        }),
      30_000
    )
  }

  it.live(
    "a subscriber whose reconnection's handshake is never answered receives messages again once Redis answers",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start
        const proxy = yield* TcpProxy.make({ host: "127.0.0.1", port: server.port })
        const proxied = yield* Layer.build(
          RedisConnection.layer({ url: redisUrl(proxy), connectTimeout: "1 second" })
        )
        const direct = yield* Layer.build(RedisConnection.layer({ url: server.url }))
        const messages = yield* Context.get(proxied, Redis.Redis).subscribe("baton-reconnect")
        yield* proxy.mode("hang")
        yield* proxy.cut
        const lost = proxy.accepted()
        // the client's and the subscriber's reconnections, both left unanswered
        yield* eventually(Effect.sync(() => proxy.accepted() >= lost + 2), 20_000)
        yield* proxy.mode("forward")
        const received = yield* Context.get(direct, Redis.Redis).send("PUBLISH", "baton-reconnect", "back").pipe(
          Effect.andThen(Queue.take(messages).pipe(Effect.timeout("100 millis"))),
          Effect.retry({ times: 200 })
        )
        assert.strictEqual(received.message, "back")
      }),
    30_000
  )
})
