/**
 * `HttpQuota.handler` over a manager whose limiter looks each subject's
 * limits up in a store of one's own (a database of premium teachers) that
 * stops answering: the request still gets its answer, a Problem Details at
 * the manager's deadline, without `RateLimit-*` headers the store cannot
 * give, rather than waiting on the lookup forever; or that answers a limit
 * stored wrong: the server's fault, whose body repeats none of it. Time is
 * the TestClock.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import { SubjectId } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import * as Pricing from "@baton/core/Pricing"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as Anthropic from "@baton/providers/Anthropic"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, type Duration, Effect, Fiber, Layer, Logger, Option, Queue, Redacted } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import * as HttpQuota from "../src/HttpQuota.ts"

const teacher = SubjectId.make("teacher-7")

/** The subjects an overrides lookup was asked for; the lookup never answers. */
class Asked extends Context.Service<Asked, Queue.Queue<SubjectId>>()("test/Asked") {}

/** A limiter (10 a day) whose overrides lookup tells `Asked` of each subject, then answers as `answer` does. */
const lookingUp = (answer: QuotaLimiter.Overrides) =>
  Layer.effectContext(Effect.gen(function*() {
    const asked = yield* Queue.unbounded<SubjectId>()
    const limiter = yield* QuotaLimiter.make({
      maxQuestionsPerRequest: 20,
      dailyLimit: 10,
      timeZone: "UTC",
      overrides: (subjectId) => Effect.andThen(Queue.offer(asked, subjectId), answer(subjectId))
    }).pipe(Effect.provide(QuotaLimiter.layerStoreMemory))
    return Context.make(QuotaLimiter.QuotaLimiter, limiter).pipe(Context.add(Asked, asked))
  }))

/** A manager over Anthropic on the mock server (a 5 s deadline), its quota's lookup answering as `answer` does. */
const managerLookingUp = (answer: QuotaLimiter.Overrides) =>
  Layer.unwrap(Effect.map(MockProviderServer.MockProviderServer, (server) =>
    LlmManager.layer({
      providers: [Anthropic.layer({ apiKey: Redacted.make("sk-test"), baseUrl: server.baseUrl("anthropic") })],
      policy: FallbackPolicy.make({ maxRetries: 0, requestTimeoutMs: 5_000 })
    }))).pipe(
      Layer.provideMerge(Layer.mergeAll(RequestLog.layerMemory(), UsageLedger.layerMemory(), lookingUp(answer))),
      Layer.provideMerge(Layer.mergeAll(MockProviderServer.layer(), NodeHttpClient.layerUndici, Pricing.layerDefault))
    )

const Manager = managerLookingUp(() => Effect.never)

const answer = HttpQuota.handler({ subject: { header: "x-teacher-id" } })((subjectId) =>
  Effect.gen(function*() {
    const manager = yield* LlmManager.LlmManager
    const result = yield* manager.generate({ prompt: "Explain tides.", metadata: { subjectId } })
    return HttpServerResponse.text(result.content)
  })
).pipe(
  Effect.provideService(
    HttpServerRequest.HttpServerRequest,
    HttpServerRequest.fromWeb(new Request("http://localhost/v1/explain", { headers: { "x-teacher-id": teacher } }))
  )
)

describe("HttpQuota.handler", () => {
  it.effect("an overrides lookup that never answers: a 503 at the deadline, then the headers given up within 1 s", () =>
    Effect.gen(function*() {
      const asked = yield* Asked
      const fiber = yield* Effect.forkChild(answer)
      // the manager's reservation looks the teacher up, and is cut at its 5 s deadline
      assert.strictEqual(yield* Queue.take(asked), teacher)
      yield* TestClock.adjust(5_000)
      // the headers look the teacher up again
      assert.strictEqual(yield* Queue.take(asked), teacher)
      yield* TestClock.adjust(1_000)
      assert.isDefined(fiber.pollUnsafe(), "the response still waits on the lookup")
      const served = yield* Fiber.join(fiber)
      assert.strictEqual(served.status, 503)
      assert.isUndefined(served.headers["ratelimit-remaining"])
      assert.strictEqual(yield* Clock.currentTimeMillis, 6_000)
    }).pipe(Effect.provide(Manager)))

  it.effect("a quotaHeadersTimeout that is not a positive duration: a 500 naming it, before any call is made", () =>
    Effect.gen(function*() {
      let calls = 0
      const logged: Array<string> = []
      const misconfigured = HttpQuota.handler({
        subject: { header: "x-teacher-id" },
        quotaHeadersTimeout: "1 sec" as Duration.Input
      })(() => Effect.sync(() => HttpServerResponse.text(String(++calls)))).pipe(
        Effect.provideService(
          HttpServerRequest.HttpServerRequest,
          HttpServerRequest.fromWeb(
            new Request("http://localhost/v1/explain", { headers: { "x-teacher-id": teacher } })
          )
        ),
        Effect.provide(Logger.layer([Logger.make((options) => logged.push(String(options.message)))]))
      )
      const served = yield* misconfigured
      assert.strictEqual(served.status, 500)
      assert.strictEqual((yield* misconfigured).status, 500)
      assert.strictEqual(calls, 0, "the handler ran, and with it the call that would be billed")
      assert.deepStrictEqual(
        logged.filter((line) => line.includes("HttpQuota.quotaHeadersTimeout: \"1 sec\" is not")).length,
        1
      )
      const atStartup = yield* Effect.flip(HttpQuota.checkOptions({
        subject: { header: "x-teacher-id" },
        quotaHeadersTimeout: -1
      }))
      assert.strictEqual(atStartup.variable, "HttpQuota.quotaHeadersTimeout")
    }).pipe(Effect.provide(Manager)))

  it.effect("an override stored wrong (0, meant as suspended): a 503 whose body repeats none of the configuration", () =>
    Effect.gen(function*() {
      const served = yield* answer
      const body = served.body._tag === "Uint8Array" ? new TextDecoder().decode(served.body.body) : ""
      assert.strictEqual(served.status, 503)
      assert.include(body, "QuotaStoreUnavailable")
      assert.notInclude(body, "QuotaLimiter.overrides")
      assert.notInclude(body, "got 0")
    }).pipe(Effect.provide(managerLookingUp(() => Effect.succeed(Option.some({ daily: 0 }))))))
})
