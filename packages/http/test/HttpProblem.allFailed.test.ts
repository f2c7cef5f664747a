/**
 * A request every provider failed is answered by why, over a real Node
 * server with DeepSeek and Gemini of the mock server behind `LlmManager`:
 * refused as the request's own fault everywhere (too long, invalid, a
 * content filter) it is a 400 naming the cause, which no retry would change
 * (a 503 "try again later" had clients and proxies retry it); every
 * provider timing out is a 504; any other failure stays a 503, with
 * `Retry-After` when Baton skipped every provider (open circuits, spent
 * local budgets), or skipped some and the rest timed out.
 */
import * as ErrorPolicy from "@baton/core/ErrorPolicy"
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as ProviderError from "@baton/core/ProviderError"
import * as ProviderThrottle from "@baton/core/ProviderThrottle"
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as Gemini from "@baton/providers/Gemini"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import * as HttpBody from "../src/HttpBody.ts"
import * as HttpQuota from "../src/HttpQuota.ts"
import { managerOver } from "./utils/manager.ts"
import * as Serve from "./utils/serve.ts"

const apiKey = Redacted.make("sk-test")

/** DeepSeek then Gemini, each waited for 300 ms to its first byte, no retries; memory stores. */
const Manager = managerOver(
  (server) => [
    DeepSeek.layer({ apiKey, baseUrl: server.baseUrl("deepseek") }),
    Gemini.layer({ apiKey, baseUrl: server.baseUrl("gemini") })
  ],
  FallbackPolicy.make({ maxRetries: 0, limits: { firstByteMs: 300 } })
)

/** `POST /answer`: the body's prompt, asked of the model. */
const answer = HttpRouter.add(
  "POST",
  "/answer",
  HttpQuota.handler({ subject: { header: "x-teacher-id" } })((subjectId) =>
    Effect.gen(function*() {
      const { prompt } = yield* HttpBody.json(Schema.Struct({ prompt: Schema.String }))
      const manager = yield* LlmManager.LlmManager
      const result = yield* manager.generate({ prompt, metadata: { subjectId } })
      return HttpServerResponse.jsonUnsafe({ content: result.content })
    })
  )
)

/** The route served by a Node server on a spare port; its URL. */
const serve = Effect.map(Serve.serve(answer), (base) => `${base}/answer`)

/** Teacher 7's request to the route at `url`. */
const ask = (url: string) =>
  Effect.promise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-teacher-id": "teacher-7" },
      body: JSON.stringify({ prompt: "Explain tides." })
    })
  )

/** Both providers answer with `deepseek` and `gemini`; the problem the service answers. */
const askWith = (deepseek: MockFault.MockFault, gemini: MockFault.MockFault) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    yield* mock.inject("deepseek", deepseek)
    yield* mock.inject("gemini", gemini)
    const response = yield* ask(yield* serve)
    const problem = yield* Effect.promise(() => response.json() as Promise<Record<string, unknown>>)
    return { status: response.status, problem, retryAfter: response.headers.get("retry-after") }
  })

describe("AllProvidersFailed over HTTP", () => {
  it.live("too long for every model: a 400 whose cause is ContextLengthExceeded", () =>
    Effect.gen(function*() {
      const { problem, status } = yield* askWith(MockFault.contextLengthExceeded, MockFault.contextLengthExceeded)
      assert.strictEqual(status, 400)
      assert.deepStrictEqual([problem["type"], problem["cause"]], [
        "urn:baton:problem:AllProvidersFailed",
        "ContextLengthExceeded"
      ])
    }).pipe(Effect.scoped, Effect.provide(Manager)))

  it.live("the conversation refused (the chain stops there): a 400 whose cause is InvalidRequest", () =>
    Effect.gen(function*() {
      const refused = MockFault.status(400, { message: "messages: too many images", param: "messages" })
      const { problem, status } = yield* askWith(refused, MockFault.status(503))
      assert.strictEqual(status, 400)
      assert.strictEqual(problem["cause"], "InvalidRequest")
      assert.notInclude(JSON.stringify(problem), "too many images")
    }).pipe(Effect.scoped, Effect.provide(Manager)))

  it.live("a prompt refused on policy grounds (not sent on): a 400 whose cause is ContentFiltered", () =>
    Effect.gen(function*() {
      const { problem, status } = yield* askWith(MockFault.contentFilter, MockFault.status(503))
      assert.strictEqual(status, 400)
      assert.strictEqual(problem["cause"], "ContentFiltered")
    }).pipe(Effect.scoped, Effect.provide(Manager)))

  it.live("every provider timed out: a 504", () =>
    Effect.gen(function*() {
      const { status } = yield* askWith(MockFault.latency(2000), MockFault.latency(2000))
      assert.strictEqual(status, 504)
    }).pipe(Effect.scoped, Effect.provide(Manager)))

  it.live("too long for one, down on the other: a 503 to try again later", () =>
    Effect.gen(function*() {
      const { problem, status } = yield* askWith(MockFault.contextLengthExceeded, MockFault.status(503))
      assert.strictEqual(status, 503)
      assert.strictEqual(problem["cause"], undefined)
    }).pipe(Effect.scoped, Effect.provide(Manager)))

  it.live("every provider's local budget spent: a 503 with Retry-After, when the budget refills", () =>
    Effect.gen(function*() {
      const url = yield* serve
      // deepseek's one request a minute, then gemini's
      assert.strictEqual((yield* ask(url)).status, 200)
      assert.strictEqual((yield* ask(url)).status, 200)
      const response = yield* ask(url)
      assert.strictEqual(response.status, 503)
      // one request a minute: the budget refills a minute after the first, less the moments since
      assert.include(["59", "60"], response.headers.get("retry-after"))
    }).pipe(
      Effect.scoped,
      Effect.provide(Manager.pipe(
        Layer.provide(
          ProviderThrottle.layerMemory({ deepseek: { requestsPerMinute: 1 }, gemini: { requestsPerMinute: 1 } })
        )
      ))
    ))

  it.live("one provider's budget spent, the other timed out: a 503 with Retry-After, when the budget refills", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const url = yield* serve
      // deepseek's one request a minute, spent; then gemini goes silent
      assert.strictEqual((yield* ask(url)).status, 200)
      yield* mock.inject("gemini", MockFault.latency(2000))
      const response = yield* ask(url)
      assert.strictEqual(response.status, 503)
      // no provider refused it: it may be served once deepseek's budget refills
      assert.include(["59", "60"], response.headers.get("retry-after"))
    }).pipe(
      Effect.scoped,
      Effect.provide(Manager.pipe(Layer.provide(ProviderThrottle.layerMemory({ deepseek: { requestsPerMinute: 1 } }))))
    ))
})

/**
 * A step built in code that serves no request of this route: it refuses each before any call, as
 * `LanguageModelProvider` refuses a model it does not serve (`ProviderError.modelNotServed`), naming its own layout.
 */
const notServed = new ProviderError.InvalidRequest({
  provider: ProviderName.make("house"),
  model: ModelId.make("gpt-4.1"),
  status: 404,
  param: "model",
  code: ProviderError.modelNotServed,
  message: "house is a step of model house-1 only: the request names gpt-4.1"
})

/** A step built in code, `name` serving `model`, that refuses every request with `error` before any call. */
const refusing = (name: string, model: string, error: ProviderError.InvalidRequest) =>
  LlmProvider.layer({
    name: ProviderName.make(name),
    model: ModelId.make(model),
    capabilities: { assistantPrefill: false, streamUsage: false, structuredOutput: "json-mode" },
    generate: () => Effect.fail(error),
    generateStructured: () => Effect.fail(error),
    stream: () => Stream.fail(error)
  })

const house = refusing("house", "house-1", notServed)

/** The house step, then DeepSeek; no retries. */
const HouseFirst = managerOver(
  (server) => [house, DeepSeek.layer({ apiKey, baseUrl: server.baseUrl("deepseek") })],
  FallbackPolicy.make({ maxRetries: 0 })
)

/** DeepSeek answers with `deepseek`, when given, after the house step's refusal; the service's status, title and cause. */
const askAfterRefusal = (deepseek?: MockFault.MockFault) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    if (deepseek !== undefined) yield* mock.inject("deepseek", deepseek)
    const response = yield* ask(yield* serve)
    const problem = yield* Effect.promise(() => response.json() as Promise<Record<string, unknown>>)
    return [response.status, problem["title"], problem["cause"]]
  })

describe("AllProvidersFailed over HTTP after a step's refusal of a model it does not serve (nothing sent)", () => {
  const refusals: ReadonlyArray<readonly [string, MockFault.MockFault, string, string]> = [
    ["too long for the provider asked", MockFault.contextLengthExceeded, "Request too long", "ContextLengthExceeded"],
    [
      "refused by the provider's content filter",
      MockFault.contentFilter,
      "Refused by a content filter",
      "ContentFiltered"
    ]
  ]
  for (const [name, fault, title, cause] of refusals) {
    it.live(`then ${name}: a 400 whose cause is ${cause}, not the step's refusal`, () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* askAfterRefusal(fault), [400, title, cause])
      }).pipe(Effect.scoped, Effect.provide(HouseFirst)))
  }

  it.live("the only step, refusing: a 400 whose cause is InvalidRequest", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* askAfterRefusal(), [400, "Request refused", "InvalidRequest"])
    }).pipe(Effect.scoped, Effect.provide(managerOver(() => [house]))))
})

const unencodableBody = new ProviderError.InvalidRequest({
  provider: ProviderName.make("strict"),
  model: ModelId.make("strict-1"),
  status: 400,
  code: ProviderError.unencodableRequest,
  message: "the request cannot be sent to strict: its body cannot be encoded as JSON"
})

/** A step that cannot encode any request's body: it refuses before any call, as an adapter does a body JSON cannot hold. */
const unencodable = refusing("strict", "strict-1", unencodableBody)

describe("AllProvidersFailed over HTTP when the chain stops on a body no adapter can encode", () => {
  it.live("after a provider skipped by its spent budget: a 400, no Retry-After (a retry could never be sent)", () =>
    Effect.gen(function*() {
      const url = yield* serve
      assert.strictEqual((yield* ask(url)).status, 200)
      const response = yield* ask(url)
      const problem = yield* Effect.promise(() => response.json() as Promise<Record<string, unknown>>)
      assert.deepStrictEqual([response.status, problem["cause"], response.headers.get("retry-after")], [
        400,
        "InvalidRequest",
        null
      ])
    }).pipe(
      Effect.scoped,
      Effect.provide(
        managerOver(
          (server) => [DeepSeek.layer({ apiKey, baseUrl: server.baseUrl("deepseek") }), unencodable],
          FallbackPolicy.make({ maxRetries: 0 })
        ).pipe(Layer.provide(ProviderThrottle.layerMemory({ deepseek: { requestsPerMinute: 1 } })))
      )
    ))

  it.live("after a step's refusal of a model it does not serve: a 400 whose error is the body's, not the step's", () =>
    Effect.gen(function*() {
      const response = yield* ask(yield* serve)
      assert.strictEqual(response.status, 400)
      // the error HttpProblem and the gateway answer from (the gateway sends its message)
      const manager = yield* LlmManager.LlmManager
      const failed = yield* Effect.flip(manager.generate({ prompt: "Hello" }))
      const why = failed._tag === "AllProvidersFailed" ? ErrorPolicy.allFailed(failed.attempts) : undefined
      assert.deepStrictEqual(why?._tag === "Refused" ? [why.error.provider, why.error.message] : why, [
        "strict",
        unencodableBody.message
      ])
    }).pipe(Effect.scoped, Effect.provide(managerOver(() => [house, unencodable]))))
})
