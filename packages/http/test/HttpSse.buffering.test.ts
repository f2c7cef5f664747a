/**
 * An SSE answer over a real Node server, behind `effect/http`'s compression
 * middleware as a service may install it: the response tells every hop not
 * to hold or rewrite its events (`Cache-Control: no-transform`, nginx's
 * `X-Accel-Buffering: no`), so it is sent as is, uncompressed, for a client
 * that accepts gzip too.
 */
import * as DeepSeek from "@baton/providers/DeepSeek"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { HttpMiddleware, HttpRouter } from "effect/http"
import { explain } from "./utils/explain.ts"
import { managerOver } from "./utils/manager.ts"
import * as Serve from "./utils/serve.ts"

const Manager = managerOver((server) => [
  DeepSeek.layer({ apiKey: Redacted.make("sk-test"), baseUrl: server.baseUrl("deepseek") })
])

/** `POST /explain`, every response compressed when it may be. */
const explainCompressed = Layer.merge(explain, HttpRouter.middleware(HttpMiddleware.compression(), { global: true }))

describe("an SSE answer and the hops between it and its client", () => {
  it.live("tells proxies not to buffer or transform it, and is not compressed", () =>
    Effect.gen(function*() {
      const base = yield* Serve.serve(explainCompressed)
      const reply = yield* Effect.promise(async () => {
        const response = await fetch(`${base}/explain`, {
          method: "POST",
          headers: { "accept-encoding": "gzip", "x-teacher-id": "teacher-7" }
        })
        return { headers: response.headers, text: await response.text() }
      })
      assert.deepStrictEqual({
        contentType: reply.headers.get("content-type"),
        cacheControl: reply.headers.get("cache-control"),
        accelBuffering: reply.headers.get("x-accel-buffering"),
        contentEncoding: reply.headers.get("content-encoding")
      }, {
        contentType: "text/event-stream",
        cacheControl: "no-cache, no-transform",
        accelBuffering: "no",
        contentEncoding: null
      })
      assert.include(reply.text, "event: finish")
    }).pipe(Effect.scoped, Effect.provide(Manager)))
})
