/**
 * A streamed answer whose first token is slow to come (a model reasoning at
 * length) is kept alive: once `keepAliveMs` passes without an event the
 * response starts and a comment (`: keep-alive`) follows every
 * `keepAliveMs` of silence, so a proxy's idle limit does not cut it; the
 * answer then comes whole. A structured answer (`json_schema`) asked for
 * with `stream: true` is kept alive the same way while it is made and
 * validated. An interval of 100 ms here, for a first token 700 ms late; a
 * structured answer is held by the mock server until the comments it waits
 * for came, however long the machine takes to send them (5 s of real time
 * fail the test saying what never came: a guard, not what is tested).
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"
import * as Fixture from "./fixture.ts"

/**
 * A first-token limit of 10 s, not the fixture's 1 s: the slow first token
 * (700 ms) must be slow beside the 100 ms interval, not near the limit,
 * which a loaded machine's real time would reach (with 1 s, 300 ms spare).
 */
const TestLayer = Fixture.gatewayWithMock({
  listen: { keepAliveMs: 100 },
  environment: { LLM_FIRST_TOKEN_TIMEOUT_MS: "10000" }
})

/** The SSE blocks of a body: comments and `data:` events. */
const blocksOf = (text: string) => text.split("\n\n").filter((block) => block !== "")

/** The events of a body's blocks (a comment may come between the last event and the body's end). */
const eventsOf = (blocks: ReadonlyArray<string>) => blocks.filter((block) => !block.startsWith(":"))

/** The text of a stream's chunks, joined. */
const textOf = (blocks: ReadonlyArray<string>) =>
  blocks.filter((block) => block.startsWith("data: {")).map((block) => {
    const chunk = Fixture.record(JSON.parse(block.slice("data: ".length)))
    const choice = Fixture.record(Array.isArray(chunk.choices) ? chunk.choices[0] : undefined)
    const content = Fixture.record(choice.delta).content
    return typeof content === "string" ? content : ""
  }).join("")

/** A streamed request of `openai/gpt-4o-mini` for a city as JSON. */
const structured = {
  model: "openai/gpt-4o-mini",
  stream: true,
  messages: [{ role: "user", content: "Name a city" }],
  response_format: {
    type: "json_schema",
    json_schema: {
      name: "city",
      schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
    }
  }
}

/** The comments (`: keep-alive`) sent before the first event. */
const commentsBefore = (blocks: ReadonlyArray<string>) => {
  const first = blocks.findIndex((block) => block.startsWith("data:"))
  return blocks.slice(0, first).filter((block) => block === ": keep-alive").length
}

/** How many keep-alive comments a body's text holds so far. */
const keepAlivesIn = (text: string) => text.split(": keep-alive\n\n").length - 1

/**
 * `effect`, a wait for the gateway's progress, failing after 5 s of real
 * time with `what` (a guard against a gateway that never gets there, not a
 * limit the test times).
 */
const within5s = (what: string) => <A>(effect: Effect.Effect<A>): Effect.Effect<A> =>
  Effect.timeoutOrElse(effect, { duration: "5 seconds", orElse: () => Effect.die(new Error(`${what} within 5 s`)) })

/**
 * Reads `reader` on from `text` until `enough` holds of the text read or the
 * body ends: the text, `within5s`.
 */
const readUntil = (
  reader: ReadableStreamDefaultReader<string>,
  text: string,
  enough: (text: string) => boolean,
  what: string
): Effect.Effect<string> =>
  Effect.gen(function*() {
    const read = Effect.promise(() => reader.read())
    let sofar = text
    while (!enough(sofar)) {
      const chunk = yield* read
      if (chunk.done) break
      sofar += chunk.value
    }
    return sofar
  }).pipe(within5s(what))

/**
 * Posts `body`, streamed, with OpenAI's answer held by the mock server (in
 * the hold's scope) until `comments` keep-alive comments came, then
 * released: the answer, read whole. Each wait is `within5s`, the response's
 * start included.
 */
const postHeld = (
  mock: MockProviderServer.MockProviderServer["Service"],
  url: string,
  body: unknown,
  comments: number
): Effect.Effect<Fixture.Answer> =>
  Effect.gen(function*() {
    const { reader, response, text } = yield* Effect.scoped(Effect.gen(function*() {
      yield* mock.hold("openai")
      // a gateway that waited for the answer before it started the response never answers while it is held
      const response = yield* Effect.promise(() =>
        fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${Fixture.clientKey}`, "content-type": "application/json" },
          body: JSON.stringify(body)
        })
      ).pipe(within5s("the response, its answer held, did not start"))
      const reader = (response.body ?? new ReadableStream<Uint8Array>()).pipeThrough(new TextDecoderStream())
        .getReader()
      const text = yield* readUntil(
        reader,
        "",
        (text) => keepAlivesIn(text) >= comments,
        `${comments} keep-alive comments did not come`
      )
      return { reader, response, text }
    }))
    return {
      status: response.status,
      headers: response.headers,
      text: yield* readUntil(reader, text, () => false, "the answer, released, did not end"),
      requestId: response.headers.get("x-request-id")
    }
  })

layer(TestLayer, { excludeTestServices: true })("Gateway keep-alive", (it) => {
  it.effect("a slow first token: keep-alive comments before it, then the whole answer", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.slowFirstToken(700))
      const answer = yield* Fixture.post(url, {
        model: "openai/gpt-4o-mini",
        stream: true,
        messages: [{ role: "user", content: "Say hello" }]
      })
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.headers.get("content-type"), "text/event-stream")
      assert.isNotNull(answer.headers.get("ratelimit-remaining"))
      const blocks = blocksOf(answer.text)
      assert.strictEqual(blocks[0], ": keep-alive")
      // a comment may follow [DONE] while the stream closes (one every keepAliveMs while it is open)
      assert.strictEqual(eventsOf(blocks).at(-1), "data: [DONE]", answer.text)
      assert.isAbove(textOf(blocks).length, 0)
      assert.strictEqual((yield* mock.stats("openai")).requests, 1)
    }))

  it.effect("a slow structured answer with stream: true: keep-alive comments while it is made, then its chunks", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      // the one the response opens with, then one a keepAliveMs while the answer is made
      const answer = yield* postHeld(mock, url, structured, 2)
      assert.strictEqual(answer.status, 200, answer.text)
      assert.strictEqual(answer.headers.get("content-type"), "text/event-stream")
      assert.isNotNull(answer.headers.get("ratelimit-remaining"))
      const blocks = blocksOf(answer.text)
      assert.isAbove(commentsBefore(blocks), 1, answer.text)
      assert.strictEqual(eventsOf(blocks).at(-1), "data: [DONE]")
      assert.isString(Fixture.record(JSON.parse(textOf(blocks))).city)
    }))

  it.effect("a structured answer failing after the response started: an in-band error event, no [DONE]", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.status(400))
      const answer = yield* postHeld(mock, url, structured, 1)
      assert.strictEqual(answer.status, 200, answer.text)
      const blocks = blocksOf(answer.text)
      // the 200 tells it from a stream that waited for the answer before it started (the 400, no comment)
      assert.isAtLeast(commentsBefore(blocks), 1, answer.text)
      const last = Fixture.record(JSON.parse(eventsOf(blocks).at(-1)?.slice("data: ".length) ?? "null"))
      assert.isString(Fixture.record(last.error).message, answer.text)
      assert.notInclude(answer.text, "[DONE]")
    }))
})

describe("Gateway.layer's keepAliveMs", () => {
  it.effect("an interval of 0, negative or fractional is a GatewayConfigError naming it, at build", () =>
    Effect.gen(function*() {
      for (const keepAliveMs of [0, -1, 0.5, Number.NaN]) {
        const error = yield* Effect.flip(Layer.build(Fixture.gateway({ listen: { keepAliveMs } })))
        assert.strictEqual(error instanceof GatewayConfig.GatewayConfigError ? error.field : error, "keepAliveMs")
      }
    }).pipe(Effect.provide(MockProviderServer.layer()), Effect.scoped))

  it.effect("Gateway.routes and Gateway.make refuse it the same way", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const config = yield* GatewayConfig.parse(JSON.stringify(Fixture.configFile(mock)), "json")
      for (const keepAliveMs of [0, -5, 0.5, Number.NaN]) {
        const routes = yield* Effect.flip(Layer.build(Gateway.routes(config, { keepAliveMs })))
        const made = yield* Effect.flip(Gateway.make(config, keepAliveMs))
        for (const error of [routes, made]) {
          assert.strictEqual(error instanceof GatewayConfig.GatewayConfigError ? error.field : error, "keepAliveMs")
        }
      }
    }).pipe(
      Effect.provide(Layer.mergeAll(Fixture.services(), HttpRouter.layer)),
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(Fixture.environment))),
      Effect.provide(MockProviderServer.layer()),
      Effect.scoped
    ))
})
