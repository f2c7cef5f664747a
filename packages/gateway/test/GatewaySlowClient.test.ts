/**
 * A client that sends its headers and then stalls its body holds no handler
 * for ever: past `requestTimeoutMs` it is answered 408 and its connection
 * closed. Answers are not bounded by it: a stream that lasts longer still
 * ends whole.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { connect } from "node:net"
import * as GatewayConfig from "../src/GatewayConfig.ts"
import * as Fixture from "./fixture.ts"

const requestTimeoutMs = 300

/** What the server sends on a connection that sends `head` and stalls, until it closes (at most 10 s). */
const stalled = (url: string, head: string) =>
  Effect.callback<string, Error>((resume) => {
    const { hostname, port } = new URL(url)
    const socket = connect(Number(port), hostname, () => socket.write(head))
    let received = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      received += chunk
    })
    socket.on("error", () => {})
    socket.on("close", () => {
      resume(Effect.succeed(received))
    })
    // a liveness guard for the test, not a bound on the server's speed
    const guard = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(new Error(`the stalled connection stayed open; received: ${JSON.stringify(received)}`)))
    }, 10_000)
    socket.on("close", () => {
      clearTimeout(guard)
    })
    return Effect.sync(() => socket.destroy())
  })

layer(Fixture.gatewayWithMock({ listen: { requestTimeoutMs } }), { excludeTestServices: true })(
  "Gateway: a client that stalls its request",
  (it) => {
    it.effect("a stalled body is answered 408 and its connection closed", () =>
      Effect.gen(function*() {
        const { mock, url } = yield* Fixture.setup
        const received = yield* stalled(
          url,
          "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n" +
            `Authorization: Bearer ${Fixture.clientKey}\r\nContent-Length: 100\r\n\r\n{"model":`
        )
        assert.match(received, /^HTTP\/1\.1 408 /)
        assert.strictEqual((yield* mock.stats("openai")).requests, 0)
      }))

    it.effect("stalled headers are answered 408 too", () =>
      Effect.gen(function*() {
        const { url } = yield* Fixture.setup
        const received = yield* stalled(url, "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n")
        assert.match(received, /^HTTP\/1\.1 408 /)
      }))

    it.effect("a streamed answer that lasts longer than the limit ends whole", () =>
      Effect.gen(function*() {
        const { mock, url } = yield* Fixture.setup
        yield* mock.inject("openai", MockFault.slowTokens(80))
        const stream = yield* Effect.promise(() =>
          Fixture.client(url).chat.completions.create({
            model: "fast",
            messages: [{ role: "user", content: "Say hello to the class" }],
            stream: true
          })
        )
        const chunks = yield* Effect.promise(async () => {
          const all = []
          for await (const chunk of stream) all.push(chunk)
          return all
        })
        const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")
        assert.strictEqual(text, "Mock answer from openai: Say hello to the class")
        assert.strictEqual(chunks.at(-1)?.choices[0]?.finish_reason, "stop")
      }))
  }
)

describe("Gateway.layer's requestTimeoutMs", () => {
  it.effect("a negative or fractional limit is a GatewayConfigError naming it, at build", () =>
    Effect.gen(function*() {
      for (const requestTimeoutMs of [-1, 0.5, Number.NaN]) {
        const error = yield* Effect.flip(Layer.build(Fixture.gateway({ listen: { requestTimeoutMs } })))
        assert.strictEqual(error instanceof GatewayConfig.GatewayConfigError ? error.field : error, "requestTimeoutMs")
      }
    }).pipe(Effect.provide(MockProviderServer.layer()), Effect.scoped))
})
