/**
 * A retry hint header that says no number is no hint: a blank or non-numeric
 * `retry-after-ms` is ignored (the wait then comes from `retry-after`, or
 * there is none), never read as "retry at once"; a blank `retry-after` is
 * ignored alike. Through the OpenAI adapter's `generate`, over real HTTP from
 * a server answering 429 with exactly the given headers.
 */
import * as LlmRequest from "@baton/core/LlmRequest"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import { createServer } from "node:http"
import { Bench } from "../../core/test/utils/chain.ts"
import * as OpenAi from "../src/OpenAi.ts"

const apiKey = Redacted.make("sk-test-key")

const rateLimited = JSON.stringify({
  error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" }
})

/** The `retryAfter` of the error `generate` fails with, in ms, against a 429 carrying `headers`. */
const hintOf = (headers: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const port = yield* TestServer.listen(createServer((_, res) => {
      res.writeHead(429, { "content-type": "application/json", ...headers })
      res.end(rateLimited)
    }))
    const provider = yield* OpenAi.make({ apiKey, baseUrl: `http://127.0.0.1:${port}` })
    const error = yield* Effect.flip(provider.generate(yield* LlmRequest.make({ prompt: "hi" })))
    if (error._tag !== "ProviderRateLimited") return assert.fail(`unexpected ${error._tag}`)
    return error.retryAfter === undefined ? undefined : Duration.toMillis(error.retryAfter)
  }).pipe(Effect.provide(Bench), Effect.scoped)

describe("a 429's retry hint headers", () => {
  it.live("a blank retry-after-ms is ignored: retry-after gives the wait", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* hintOf({ "retry-after-ms": "", "retry-after": "3" }), 3000)
      assert.strictEqual(yield* hintOf({ "retry-after-ms": " ", "retry-after": "3" }), 3000)
    }))

  it.live("a blank retry-after-ms alone is no hint, not 0 ms", () =>
    Effect.gen(function*() {
      assert.isUndefined(yield* hintOf({ "retry-after-ms": "" }))
    }))

  it.live("a non-numeric retry-after-ms is ignored", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* hintOf({ "retry-after-ms": "soon", "retry-after": "2" }), 2000)
      assert.strictEqual(yield* hintOf({ "retry-after-ms": "0x10", "retry-after": "2" }), 2000)
    }))

  it.live("a blank retry-after is no hint", () =>
    Effect.gen(function*() {
      assert.isUndefined(yield* hintOf({ "retry-after": "" }))
    }))

  it.live("a numeric retry-after-ms still comes first", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* hintOf({ "retry-after-ms": "1500", "retry-after": "3" }), 1500)
      assert.strictEqual(yield* hintOf({ "retry-after-ms": "0", "retry-after": "3" }), 0)
    }))
})
