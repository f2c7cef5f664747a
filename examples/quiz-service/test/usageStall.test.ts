/**
 * `GET /v1/usage` over a PostgreSQL ledger that stopped answering (behind a
 * proxy the test stalls, as a paused server): the service answers 503
 * "Ledger unavailable" once the ledger's query bound
 * (`UsageLedger.defaultQueryTimeout`) has passed, on the TestClock, rather
 * than waiting for the database to come back. Asked over HTTP, as a client
 * asks it.
 */
import * as UsageLedger from "@baton/core/UsageLedger"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { reachable } from "@baton/testing/TcpProbe"
import * as TcpProxy from "@baton/testing/TcpProxy"
import { assert, describe, it } from "@effect/vitest"
import { Clock, ConfigProvider, Context, Duration, Effect, Exit, Fiber, Layer } from "effect"
import { HttpServer } from "effect/http"
import { TestClock } from "effect/testing"
import * as QuizService from "../src/QuizService.ts"

const postgresUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
const postgresAvailable = await reachable(postgresUrl, 5432)
if (!postgresAvailable && process.env["CI"] === "true") {
  throw new Error(`PostgreSQL is required in CI but ${new URL(postgresUrl).host} does not answer (DATABASE_URL)`)
}

const adminKey = "stall-admin-key"

/** The service on a free port, its ledger in the PostgreSQL of `DATABASE_URL` through `proxy`; its URL. */
const serviceThrough = (proxy: TcpProxy.TcpProxy) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    const storeUrl = new URL(postgresUrl)
    storeUrl.hostname = "127.0.0.1"
    storeUrl.port = String(proxy.port)
    const env = {
      DEEPSEEK_API_KEY: "mock-deepseek-key",
      GEMINI_API_KEY: "mock-gemini-key",
      DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
      GEMINI_BASE_URL: server.baseUrl("gemini"),
      LLM_USAGE_STORE_URL: storeUrl.toString(),
      QUIZ_ADMIN_KEY: adminKey
    }
    const service = QuizService.layer({ port: 0, host: "127.0.0.1" }).pipe(
      Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
    )
    const context = yield* Layer.build(service)
    return HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
  })

/** Real milliseconds since the epoch, whatever clock the test runs on. */
const realNow = TestClock.withLive(Clock.currentTimeMillis)

/**
 * `GET /v1/usage`'s status (undefined without an answer), and the
 * TestClock's seconds it had moved on by then: moved a second at a time,
 * real time passing between, until the answer arrives or `guard` real
 * milliseconds have passed (a service that never answers).
 */
const usageStatus = (url: string, guard: number) =>
  Effect.gen(function*() {
    const asking = yield* Effect.forkChild(Effect.tryPromise((signal) =>
      fetch(`${url}/v1/usage`, { headers: { "x-admin-key": adminKey }, signal }).then((response) => response.status)
    ))
    const giveUpAt = (yield* realNow) + guard
    let second = 0
    let answered = asking.pollUnsafe()
    while (answered === undefined && (yield* realNow) < giveUpAt) {
      yield* TestClock.adjust(1_000)
      second++
      yield* TestClock.withLive(Effect.sleep(20))
      answered = asking.pollUnsafe()
    }
    yield* Fiber.interrupt(asking)
    return { answered, second }
  })

describe.skipIf(!postgresAvailable)("quiz service: GET /v1/usage over a ledger that stopped answering", () => {
  it.effect("answers 503 Ledger unavailable once the ledger's query bound has passed", () =>
    Effect.gen(function*() {
      const target = new URL(postgresUrl)
      const proxy = yield* TcpProxy.make({ host: target.hostname, port: Number(target.port || "5432") })
      const url = yield* serviceThrough(proxy)
      yield* proxy.stall
      const { answered, second } = yield* usageStatus(url, 20_000)
      // the database back, so that the service closes at once
      yield* proxy.cut
      yield* proxy.mode("forward")
      assert.isDefined(answered, `no answer after ${second} seconds of the TestClock`)
      assert.deepStrictEqual(answered, Exit.succeed(503))
      assert.isAtLeast(second, Duration.toSeconds(UsageLedger.defaultQueryTimeout), "not before the bound")
    }).pipe(Effect.scoped, Effect.provide(MockProviderServer.layer())), 30_000)
})
