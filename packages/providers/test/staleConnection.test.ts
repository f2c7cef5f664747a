/**
 * A keep-alive connection the server closes as idle just as the next request
 * leaves on it: the provider never read that request, so it is sent again
 * once on another connection instead of failing as `ProviderUnavailable`
 * (which the manager would retry after a backoff and count against the
 * circuit). Through `LlmManager` with no retries, over real HTTP, from a
 * server that closes every connection on its second request unanswered.
 */
import * as Pricing from "@baton/core/Pricing"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"
import * as Manager from "./utils/manager.ts"

const reply = JSON.stringify({
  choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 }
})

/** Answers the first request of each connection (keep-alive), closes the connection on its second. */
const closingServer = Effect.gen(function*() {
  let answered = 0
  const served = new WeakSet<object>()
  const server = createServer((req, res) => {
    if (served.has(req.socket)) {
      req.socket.destroy()
      return
    }
    served.add(req.socket)
    req.resume()
    req.on("end", () => {
      answered++
      res.writeHead(200, { "content-type": "application/json" })
      res.end(reply)
    })
  })
  server.keepAliveTimeout = 60_000
  const port = yield* TestServer.listen(server)
  return { url: `http://127.0.0.1:${port}/v1`, answered: () => answered }
})

/** One connection per origin, so the second call goes out on the first call's connection. */
const OneConnection = Layer.merge(ProviderHttpClient.layerOptions({ connections: 1 }), Pricing.layerDefault)

describe("a keep-alive connection closed as the request leaves", () => {
  it.live("is sent again once on another connection: both calls succeed, no attempt failed", () =>
    Effect.gen(function*() {
      const server = yield* closingServer
      const llm = yield* Manager.openAi(server.url, { generateVia: "generate" }, {
        failureThreshold: 100,
        cooldownMs: 60_000
      })
      for (let call = 0; call < 2; call++) {
        const result = yield* llm.generate({ prompt: "hi" })
        assert.strictEqual(result.content, "ok")
        assert.strictEqual(result.attempts.length, 1)
      }
      assert.strictEqual(server.answered(), 2)
    }).pipe(Effect.provide(OneConnection), Effect.scoped))
})
