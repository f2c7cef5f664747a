import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Context, DateTime, Effect, Exit, Fiber, Layer, Schedule, Scope } from "effect"
import { HttpServer } from "effect/http"
import * as Fixture from "./fixture.ts"

/** Waits until the mock's counters for OpenAI satisfy `done`. */
const untilOpenAi = (
  mock: MockProviderServer.MockProviderServer["Service"],
  done: (stats: MockProviderServer.MockStats) => boolean
) =>
  mock.stats("openai").pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: done }),
    Effect.timeout("10 seconds")
  )

const hello = JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "Say hello" }] })

describe("Gateway shutdown", () => {
  it.live("an in-flight request finishes when the server shuts down, and its usage is recorded", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      yield* mock.inject("openai", MockFault.latency(800))
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Fixture.gateway().pipe(Layer.provide(Layer.succeed(MockProviderServer.MockProviderServer, mock))),
        scope
      )
      const url = HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
      const ledger = Context.get(context, UsageLedger.UsageLedger)
      const inFlight = yield* Effect.promise(() =>
        fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${Fixture.clientKey}`, "content-type": "application/json" },
          body: hello
        }).then(async (response) => ({ status: response.status, text: await response.text() }))
      ).pipe(Effect.forkChild)
      yield* untilOpenAi(mock, (stats) => stats.requests === 1)
      const rows = yield* Effect.gen(function*() {
        yield* Scope.close(scope, Exit.void)
        return yield* ledger.usageBySubject(UsageLedger.dayOf(yield* DateTime.now, "UTC"))
      })
      const answer = yield* Fiber.join(inFlight)
      assert.strictEqual(answer.status, 200, answer.text)
      const billed = yield* mock.stats("openai")
      assert.strictEqual(billed.completed, 1)
      assert.strictEqual(rows.reduce((sum, row) => sum + row.completionTokens, 0), billed.completionTokens)
    })))

  it.live("a client that leaves while waiting for the first token cancels the provider call; the log has it", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      yield* mock.inject("openai", MockFault.slowFirstToken(900))
      const context = yield* Layer.build(
        Fixture.gateway().pipe(Layer.provide(Layer.succeed(MockProviderServer.MockProviderServer, mock)))
      )
      const url = HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
      const abort = new AbortController()
      const request = yield* Effect.promise(() =>
        fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${Fixture.clientKey}`, "content-type": "application/json" },
          body: JSON.stringify({
            model: "openai/gpt-4o-mini",
            messages: [{ role: "user", content: "hi" }],
            stream: true
          }),
          signal: abort.signal
        }).then(() => "answered", () => "aborted")
      ).pipe(Effect.forkChild)
      yield* untilOpenAi(mock, (stats) => stats.requests === 1)
      abort.abort()
      assert.strictEqual(yield* Fiber.join(request), "aborted")
      assert.strictEqual((yield* untilOpenAi(mock, (stats) => stats.cancelled === 1)).completed, 0)
      const records = yield* Context.get(context, RequestLog.RequestLogMemory).records
      assert.deepStrictEqual(records.map((record) => record.outcome), ["cancelled"])
    })))
})
