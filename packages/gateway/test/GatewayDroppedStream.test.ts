/**
 * A streamed answer whose response is never sent ends its call: the
 * gateway's stream runs in a child of the request's scope, so when the
 * client leaves before the body starts (here while a route middleware of the
 * application's own still runs after the gateway's handler answered) the
 * provider call is cancelled at once, its attempt logged `cancelled` and the
 * quota unit given back, instead of running on to the stream's idle limit.
 */
import * as RequestLog from "@baton/core/RequestLog"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Layer } from "effect"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { createServer } from "node:http"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"
import * as Fixture from "./fixture.ts"

/** The held request's handler has answered; its request scope has closed. */
const handed = Deferred.makeUnsafe<undefined>()
const ended = Deferred.makeUnsafe<undefined>()

/**
 * A route middleware of the application's (an audit write, say) that, for a
 * request with `x-hold`, waits after the gateway's handler answered and before
 * the response is sent: the client goes away meanwhile.
 */
const Hold = HttpRouter.middleware((handler) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (request.headers["x-hold"] === undefined) return yield* handler
    // the request scope's first finaliser runs last, once the rest of the scope is closed
    yield* Effect.addFinalizer(() => Deferred.succeed(ended, undefined))
    const response = yield* handler
    yield* Deferred.succeed(handed, undefined)
    yield* Effect.never
    return response
  })
).layer

const environment = { LLM_STREAM_IDLE_TIMEOUT_MS: "600000" }

const TestLayer = Layer.unwrap(Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const config = yield* GatewayConfig.parse(JSON.stringify(Fixture.configFile(mock)), "json")
  return HttpRouter.serve(Gateway.routes(config).pipe(Layer.provide(Hold)), { disableLogger: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(() => createServer({ requestTimeout: 0 }), { port: 0, host: "127.0.0.1" }))
  )
})).pipe(
  Layer.provideMerge(Fixture.services({ environment })),
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ...Fixture.environment, ...environment }))),
  Layer.provideMerge(MockProviderServer.layer())
)

const request = (
  url: string,
  body: unknown,
  options: { readonly hold?: boolean; readonly signal?: AbortSignal } = {}
) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${Fixture.clientKey}`,
      "content-type": "application/json",
      ...(options.hold === true ? { "x-hold": "1" } : {})
    },
    body: JSON.stringify(body),
    ...(options.signal === undefined ? {} : { signal: options.signal })
  })

/** A whole answer: its status and headers, its body read. */
const answer = (url: string, body: unknown) =>
  Effect.promise(async () => {
    const response = await request(url, body)
    await response.text()
    return response
  })

const story = { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "Tell me a story" }] }

layer(TestLayer, { excludeTestServices: true })("Gateway: a stream whose response is dropped", (it) => {
  it.effect("the client leaves before the body is sent: the call is cancelled, its unit given back", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const url = yield* Fixture.gatewayUrl
      const before = yield* answer(url, story)
      assert.strictEqual(before.status, 200)
      const remaining = Number(before.headers.get("ratelimit-remaining"))

      // the answer's first words come, then the provider holds the stream open
      yield* mock.inject("openai", MockFault.stallMidStream("forever", { after: 2 }))
      const leaving = new AbortController()
      const dropped = request(url, { ...story, stream: true }, { hold: true, signal: leaving.signal })
        .then(() => "answered", () => "aborted")
      yield* Deferred.await(handed)
      leaving.abort()
      assert.strictEqual(yield* Effect.promise(() => dropped), "aborted")
      yield* Deferred.await(ended)

      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      assert.deepStrictEqual(records.map((record) => `${record.provider}:${record.outcome}`), [
        "openai:success",
        "openai:cancelled"
      ])
      const after = yield* answer(url, story)
      assert.strictEqual(after.status, 200)
      // the dropped call's unit came back: only the last call counts
      assert.strictEqual(Number(after.headers.get("ratelimit-remaining")), remaining - 1)
    }))
})
