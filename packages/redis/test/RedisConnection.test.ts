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
 * Real time: the connection's socket runs on the live clock, so these tests
 * use `it.live`, each with a test timeout so that a build that never ends
 * fails the test instead of hanging it.
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import * as RedisServer from "@baton/testing/RedisServer"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { Redis } from "effect/persistence"
import { createServer, type Socket } from "node:net"
import * as RedisCircuitBreaker from "../src/RedisCircuitBreaker.ts"
import * as RedisConnection from "../src/RedisConnection.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import * as RedisTest from "./redisTest.ts"

/** TCP sockets open in this process (a destroyed socket leaves the list once its handle is closed). */
const openSockets = (): number => process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap").length

const withUrl = (url: string) =>
  LlmConfig.layerFromRecord({ DEEPSEEK_API_KEY: "k", GEMINI_API_KEY: "g", REDIS_URL: url })

/** A TCP server that accepts connections and never answers: a hung Redis, or a proxy in front of a dead one. */
interface SilentServer {
  readonly url: string
  /** Connections accepted so far. */
  readonly accepted: () => number
  /** Waits until a connection was accepted and every accepted one is closed. */
  readonly allClosed: Effect.Effect<void>
}

const silentServer = Effect.gen(function*() {
  const sockets = new Set<Socket>()
  const waiters = new Set<() => void>()
  let accepted = 0
  const server = createServer((socket) => {
    accepted++
    sockets.add(socket)
    // reads what it is sent (so it sees the client close), answers nothing
    socket.resume()
    socket.on("error", () => {})
    socket.on("close", () => {
      sockets.delete(socket)
      if (sockets.size === 0) { for (const waiter of waiters) waiter() }
    })
  })
  const port = yield* Effect.acquireRelease(
    Effect.callback<number>((resume) => {
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
      })
    }),
    () =>
      Effect.callback<undefined>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => {
          resume(Effect.undefined)
        })
      })
  )
  const allClosed = Effect.callback<undefined>((resume) => {
    const done = () => {
      waiters.delete(done)
      resume(Effect.undefined)
    }
    if (accepted > 0 && sockets.size === 0) {
      done()
      return
    }
    waiters.add(done)
    return Effect.sync(() => waiters.delete(done))
  })
  return { url: `redis://127.0.0.1:${port}`, accepted: () => accepted, allClosed } satisfies SilentServer
})

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
        const server = yield* silentServer
        // the default connectTimeout (5 seconds) bounds the handshake too, not only the TCP connect
        const error = yield* Effect.flip(
          Layer.build(RedisQuotaStore.layerConfig({ prefix: "baton-silent:" }).pipe(Layer.provide(withUrl(server.url))))
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
        const server = yield* silentServer
        const error = yield* Layer.build(RedisConnection.layer({ url: server.url, connectTimeout: "1 minute" })).pipe(
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
        const server = yield* silentServer
        // started at once and interrupted in the same tick, before the socket connects (an interruption
        // that waits a tick lets a localhost connect complete first): node-redis's destroy() would miss
        // that socket, which then stays open
        const build = yield* Layer.build(RedisConnection.layer({ url: server.url, connectTimeout: "1 minute" })).pipe(
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
