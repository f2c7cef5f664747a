import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import { SubjectId } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import * as Pricing from "@baton/core/Pricing"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as Anthropic from "@baton/providers/Anthropic"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import { Context, DateTime, Deferred, Effect, Fiber, Layer, Redacted, Stream } from "effect"
import { HttpClient, HttpRouter, HttpServerRequest } from "effect/http"
import * as HttpQuota from "../src/HttpQuota.ts"
import * as HttpSse from "../src/HttpSse.ts"

const teacher = SubjectId.make("teacher-7")

/**
 * Holds `handler`'s read of the quota (its `RateLimit-*` headers) until the
 * test lets it go: a real in-memory limiter whose `remaining` first says it
 * was asked, then waits.
 */
class HeadersGate extends Context.Service<HeadersGate, {
  readonly asked: Deferred.Deferred<undefined>
  readonly answer: Deferred.Deferred<undefined>
  /** The limiter itself, not held. */
  readonly quota: QuotaLimiter.Service
}>()("test/HeadersGate") {}

const SlowQuota = Layer.effectContext(Effect.gen(function*() {
  const quota = yield* QuotaLimiter.QuotaLimiter
  const asked = yield* Deferred.make<undefined>()
  const answer = yield* Deferred.make<undefined>()
  const slow = QuotaLimiter.QuotaLimiter.of({
    ...quota,
    remaining: (subjectId) =>
      Deferred.succeed(asked, undefined).pipe(
        Effect.andThen(Deferred.await(answer)),
        Effect.andThen(quota.remaining(subjectId))
      )
  })
  return Context.make(QuotaLimiter.QuotaLimiter, slow).pipe(Context.add(HeadersGate, { asked, answer, quota }))
})).pipe(
  Layer.provide(QuotaLimiter.layerMemoryWith({ maxQuestionsPerRequest: 20, dailyLimit: 10, timeZone: "UTC" }))
)

const Manager = Layer.unwrap(Effect.map(MockProviderServer.MockProviderServer, (server) =>
  LlmManager.layer({
    providers: [Anthropic.layer({ apiKey: Redacted.make("sk-test"), baseUrl: server.baseUrl("anthropic") })],
    policy: FallbackPolicy.make({ maxRetries: 0 })
  }))).pipe(
    Layer.provideMerge(Layer.mergeAll(RequestLog.layerMemory(), UsageLedger.layerMemory(), SlowQuota)),
    Layer.provideMerge(Layer.mergeAll(MockProviderServer.layer(), NodeHttpClient.layerUndici, Pricing.layerDefault))
  )

/** What the teacher has spent today, read past the gate. */
const used = Effect.flatMap(HeadersGate, (gate) => gate.quota.remaining(teacher)).pipe(
  Effect.map((status) => status.used)
)

/** Every attempt the request log and the ledger hold, as `provider:outcome` and ledger attempts. */
const reported = Effect.gen(function*() {
  const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
  const ledger = yield* UsageLedger.UsageLedger
  yield* ledger.flush
  const rows = yield* ledger.usageBySubject(UsageLedger.dayOf(yield* DateTime.now, "UTC"))
  return {
    log: records.map((r) => `${r.provider}:${r.outcome}`),
    ledger: rows.map((row) => [row.subjectId, row.requests, row.attempts])
  }
})

/** A stream that sends its first words, then holds the connection open. */
const stalled = Effect.flatMap(
  MockProviderServer.MockProviderServer,
  (server) => server.inject("anthropic", MockFault.stallMidStream("forever", { after: 2 }))
)

const explain = Effect.flatMap(
  LlmManager.LlmManager,
  (manager) => HttpSse.response(manager.stream({ prompt: "Explain tides.", metadata: { subjectId: teacher } }))
)

const request = HttpServerRequest.fromWeb(
  new Request("http://localhost/v1/explain", { method: "POST", headers: { "x-teacher-id": teacher } })
)

describe("HttpSse cancellation", () => {
  it.live("a request interrupted while its quota headers are read closes its stream: quota refunded, attempt logged", () =>
    Effect.gen(function*() {
      yield* stalled
      const gate = yield* HeadersGate
      // as an effect/http server runs a route: with the request and its scope, which closes when the fiber ends
      const fiber = yield* HttpQuota.handler({ subject: { header: "x-teacher-id" } })(() => explain).pipe(
        Effect.scoped,
        Effect.provideService(HttpServerRequest.HttpServerRequest, request),
        Effect.forkChild
      )
      yield* Deferred.await(gate.asked) // the stream has started: `handle` returned its response
      assert.strictEqual(yield* used, 1)

      yield* Fiber.interrupt(fiber) // the client went away

      assert.strictEqual(yield* used, 0)
      assert.deepStrictEqual(yield* reported, { log: ["anthropic:cancelled"], ledger: [[teacher, 1, 1]] })
    }).pipe(Effect.provide(Manager)))

  it.live("over a Node server: a client that goes away while the headers are read gets its unit back", () =>
    Effect.gen(function*() {
      yield* stalled
      const gate = yield* HeadersGate
      const requestEnded = yield* Deferred.make<undefined>()
      const route = HttpRouter.add(
        "POST",
        "/v1/explain",
        Effect.gen(function*() {
          // the first finaliser of the request's scope runs last, once the server has closed the rest
          yield* Effect.addFinalizer(() => Deferred.succeed(requestEnded, undefined))
          return yield* HttpQuota.handler({ subject: { header: "x-teacher-id" } })(() => explain)
        })
      )
      const services = yield* Effect.context<LlmManager.LlmManager | QuotaLimiter.QuotaLimiter>()
      const server = yield* Layer.build(
        HttpRouter.serve(route, { disableLogger: true, disableListenLog: true }).pipe(
          Layer.provideMerge(NodeHttpServer.layerTest),
          Layer.provide(Layer.succeedContext(services))
        )
      )
      const client = Context.get(server, HttpClient.HttpClient)
      const call = yield* Effect.forkChild(client.post("/v1/explain", { headers: { "x-teacher-id": teacher } }))
      yield* Deferred.await(gate.asked)
      assert.strictEqual(yield* used, 1)

      yield* Fiber.interrupt(call) // the client closes its connection; the server interrupts the request
      yield* Deferred.await(requestEnded)

      assert.strictEqual(yield* used, 0)
      assert.deepStrictEqual(yield* reported, { log: ["anthropic:cancelled"], ledger: [[teacher, 1, 1]] })
    }).pipe(Effect.scoped, Effect.provide(Manager)))

  it.live("a response dropped before its body runs closes its stream with the scope it was made in", () =>
    Effect.gen(function*() {
      yield* stalled
      const response = yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* explain
        assert.strictEqual(yield* used, 1)
        return response
      }))
      assert.strictEqual(response.body._tag, "Stream")

      assert.strictEqual(yield* used, 0)
      assert.deepStrictEqual(yield* reported, { log: ["anthropic:cancelled"], ledger: [[teacher, 1, 1]] })
    }).pipe(Effect.provide(Manager)))

  it.live("a body sent in full keeps the unit; closing the request scope afterwards changes nothing", () =>
    Effect.gen(function*() {
      const body = yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* explain
        if (response.body._tag !== "Stream") return assert.fail("not a stream body")
        return yield* Stream.mkString(Stream.decodeText(response.body.stream))
      }))
      assert.include(body, "event: finish")
      assert.strictEqual(yield* used, 1)
      assert.deepStrictEqual(yield* reported, { log: ["anthropic:success"], ledger: [[teacher, 1, 1]] })
    }).pipe(Effect.provide(Manager)))
})
