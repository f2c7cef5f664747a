/**
 * A provider's stream, over either transport (the `ProviderHttpClient`
 * dispatcher, or any other `HttpClient`): its request leaves at the first
 * pull, as a stream runs its effects when pulled, not when it is turned into
 * a pull; a stream left after its first part closes the connection.
 */
import * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import * as LiveWait from "@baton/testing/LiveWait"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted, Stream } from "effect"
import type { HttpClient } from "effect/http"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"

const transports: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["the ProviderHttpClient dispatcher", ProviderHttpClient.layer],
  ["another HttpClient (NodeHttpClient.layerUndici)", NodeHttpClient.layerUndici]
]

/** The DeepSeek adapter over `client`, against the mock server. */
const adapter = (client: Layer.Layer<HttpClient.HttpClient>) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const context = yield* Layer.build(
      DeepSeek.layer({ apiKey: Redacted.make("sk-test-key"), baseUrl: mock.baseUrl("deepseek") }).pipe(
        Layer.provide(Layer.merge(client, Pricing.layerDefault))
      )
    )
    return { mock, provider: Context.get(context, LlmProvider.LlmProvider) }
  })

describe("a provider's stream", () => {
  for (const [name, client] of transports) {
    layer(MockProviderServer.layer(), { excludeTestServices: true })(name, (it) => {
      it.effect("sends its request at its first pull, not before", () =>
        Effect.gen(function*() {
          const { mock, provider } = yield* adapter(client)
          const request = yield* LlmRequest.make({ prompt: "Name a planet." })
          const pull = yield* Stream.toPull(provider.stream(request))
          assert.strictEqual((yield* mock.stats("deepseek")).requests, 0)
          const parts = yield* pull
          assert.strictEqual((yield* mock.stats("deepseek")).requests, 1)
          assert.isAbove(parts.length, 0)
        }).pipe(Effect.scoped))

      it.effect("left after its first part, closes the connection", () =>
        Effect.gen(function*() {
          const { mock, provider } = yield* adapter(client)
          yield* mock.inject("deepseek", MockFault.stallMidStream("forever", { after: 2 }))
          const request = yield* LlmRequest.make({ prompt: "Name a planet." })
          const first = yield* Stream.runHead(
            Stream.filter(provider.stream(request), (part) => part._tag === "TextDelta" && part.text !== "")
          )
          assert.isTrue(first._tag === "Some")
          yield* LiveWait.eventually(Effect.map(mock.stats("deepseek"), (stats) => stats.cancelled === 1))
        }).pipe(Effect.scoped))
    })
  }
})
