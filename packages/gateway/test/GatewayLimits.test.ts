/**
 * The environment's provider limits reach the gateway's providers: a stream
 * event over `LLM_MAX_EVENT_BYTES` is a malformed answer on every step, as
 * it is for `LlmManager.layerConfig`, whatever the config file says.
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Fixture from "./fixture.ts"

const TestLayer = Fixture.gatewayWithMock({ environment: { LLM_MAX_EVENT_BYTES: "8" } })

layer(TestLayer, { excludeTestServices: true })("Gateway limits from the environment", (it) => {
  it.effect("LLM_MAX_EVENT_BYTES: every provider's events are over it, so the chain fails", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const url = yield* Fixture.gatewayUrl
      const response = yield* Effect.promise(() =>
        fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${Fixture.clientKey}`, "content-type": "application/json" },
          body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "Say hello" }] })
        })
      )
      const body = yield* Effect.promise(() => response.text())
      assert.strictEqual(response.status, 503, body)
      assert.include(body, "upstream_unavailable")
      assert.strictEqual((yield* mock.stats("openai")).requests, 1)
      assert.strictEqual((yield* mock.stats("deepseek")).requests, 1)
    }))
})
