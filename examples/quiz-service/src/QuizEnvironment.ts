/**
 * Where the example's providers live: the real APIs when a key is set, the
 * bundled mock provider server otherwise.
 *
 * With no `*_API_KEY` in the environment, the example starts
 * `@baton/testing`'s mock server on a free loopback port, points every
 * provider at it with placeholder keys (`MockEnvironment`), and makes
 * DeepSeek answer 503 three times so the first request shows retries and the
 * fallback at work. Every other variable is read from the environment as
 * usual. Otherwise it logs the chain it uses, when its configuration reads.
 *
 * @since 0.1.0
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import * as MockEnvironment from "@baton/testing/MockEnvironment"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { ConfigProvider, Effect, Layer } from "effect"

/**
 * Names the chain of the environment's configuration when it reads; when it
 * does not, says nothing: the service stops at startup naming the variable.
 */
const announceChain = Effect.matchEffect(LlmConfig.make, {
  onFailure: () => Effect.void,
  onSuccess: (settings) =>
    Effect.logInfo(
      `Using the configured providers: ${
        settings.steps.map((step) => `${step.provider} (${step.model})`).join(", then ")
      }.`
    )
})

/**
 * A `ConfigProvider` layer for the example: the environment, plus the mock
 * server's base URLs and placeholder keys when the chain has no provider to
 * call (no API key, no OpenAI-compatible endpoint).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<never, MockProviderServer.MockServerStartError> = Layer.unwrap(
  Effect.gen(function*() {
    if (!(yield* MockEnvironment.needsMock(process.env))) {
      yield* announceChain
      return Layer.empty
    }
    const server = yield* MockProviderServer.start()
    yield* server.inject("deepseek", MockFault.status(503), { times: 3 })
    yield* Effect.logInfo(
      `No provider to call (no API key, no OpenAI-compatible endpoint): using the bundled mock provider server at ${server.url} ` +
        "(DeepSeek will answer 503 three times to show retries and the fallback)."
    )
    const env = MockEnvironment.pointedAt(server, process.env)
    return ConfigProvider.layer(ConfigProvider.fromEnv({ env }))
  })
)
