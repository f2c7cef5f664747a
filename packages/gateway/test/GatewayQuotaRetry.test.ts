/**
 * A spent daily quota's 429 tells the OpenAI SDKs not to retry: they retry
 * every 429 twice by default unless the server sends `x-should-retry:
 * false`, and wait for a `Retry-After` only up to 60 s, so a quota that
 * resets at midnight cost three requests and their backoff per refused call.
 * Within a minute of the reset the header is left out, and the SDK's wait
 * for `Retry-After` is the right one.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import OpenAI from "openai"
import * as Fixture from "./fixture.ts"

const hello = { model: "fast", messages: [{ role: "user" as const, content: "hi" }] }

layer(Fixture.gatewayWithMock(), { excludeTestServices: true, timeout: 60_000 })("a spent daily quota", (it) => {
  it.effect("is a 429 with x-should-retry: false, which a default openai client asks once", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      for (let i = 0; i < Fixture.limitedDaily; i++) {
        assert.strictEqual((yield* Fixture.post(url, hello, Fixture.limitedKey)).status, 200)
      }
      const refused = yield* Fixture.post(url, hello, Fixture.limitedKey)
      assert.strictEqual(refused.status, 429)
      const retryAfter = Number(refused.headers.get("retry-after"))
      // within a minute of the reset the SDK waits for Retry-After, as it should: no header then
      assert.strictEqual(refused.headers.get("x-should-retry"), retryAfter > 60 ? "false" : null)
      if (retryAfter <= 60) return
      let sent = 0
      // the SDK's default retries
      const client = new OpenAI({
        apiKey: Fixture.limitedKey,
        baseURL: `${url}/v1`,
        fetch: (input, init) => {
          sent++
          return fetch(input, init)
        }
      })
      const failure = yield* Effect.promise(() =>
        client.chat.completions.create(hello).then(() => undefined, (error: unknown) => error)
      )
      assert.instanceOf(failure, OpenAI.RateLimitError)
      assert.strictEqual(sent, 1)
    }))
})
