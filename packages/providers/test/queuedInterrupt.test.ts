/**
 * A request cancelled while it waits for a connection (the pool's one
 * connection is busy) is never sent, and does not cost the connection it
 * was waiting for: the next request goes out on the same keep-alive socket.
 * Through `LlmManager` over real HTTP, from a server that counts its
 * connections and holds the first request a while.
 */
import * as Pricing from "@baton/core/Pricing"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { createServer } from "node:http"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"
import * as Manager from "./utils/manager.ts"

const reply = JSON.stringify({
  choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 }
})

/** Holds its first request `holdMs`, answers the others at once; counts connections and requests. */
const countingServer = (holdMs: number) =>
  Effect.gen(function*() {
    let connections = 0
    let requests = 0
    const server = createServer((req, res) => {
      const first = requests++ === 0
      req.resume()
      req.on("end", () => {
        setTimeout(() => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(reply)
        }, first ? holdMs : 0)
      })
    })
    server.on("connection", () => {
      connections++
    })
    server.keepAliveTimeout = 60_000
    const port = yield* TestServer.listen(server)
    return { url: `http://127.0.0.1:${port}/v1`, connections: () => connections, requests: () => requests }
  })

/** One connection per origin: a second request waits for the first one's. */
const OneConnection = Layer.merge(ProviderHttpClient.layerOptions({ connections: 1 }), Pricing.layerDefault)

describe("a request cancelled while it waits for a connection", () => {
  it.live("is never sent, and the next request reuses the connection it waited for", () =>
    Effect.gen(function*() {
      const server = yield* countingServer(300)
      const llm = yield* Manager.openAi(server.url, { generateVia: "generate" })
      const first = yield* Effect.forkChild(llm.generate({ prompt: "held" }))
      yield* Effect.sleep("50 millis")
      const queued = yield* Effect.forkChild(llm.generate({ prompt: "cancelled" }))
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(queued)
      assert.strictEqual((yield* Fiber.join(first)).content, "ok")
      assert.strictEqual((yield* llm.generate({ prompt: "next" })).content, "ok")
      assert.strictEqual(server.requests(), 2, "the cancelled request reached the server")
      assert.strictEqual(server.connections(), 1, "the cancelled request cost the connection")
    }).pipe(Effect.provide(OneConnection), Effect.scoped))
})
