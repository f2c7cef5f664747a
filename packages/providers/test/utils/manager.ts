/**
 * The managers the transport and codec tests call, with no retries: the
 * OpenAI or the Anthropic adapter alone against a server the test started,
 * or an adapter with the mock server's OpenAI behind it.
 */
import type * as CircuitPolicy from "@baton/core/CircuitPolicy"
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { Effect, Redacted } from "effect"
import { Bench } from "../../../core/test/utils/chain.ts"
import * as Anthropic from "../../src/Anthropic.ts"
import * as OpenAi from "../../src/OpenAi.ts"

const apiKey = Redacted.make("sk-test-key")

/** An adapter's layer over the server at `baseUrl`. */
export type Primary = (baseUrl: string) => ReturnType<typeof OpenAi.layer>

/** `LlmManager.make` over the adapter `primary` alone at `baseUrl`, `policy` on top of no retries. */
export const alone = (primary: Primary) =>
(
  baseUrl: string,
  policy: Parameters<typeof FallbackPolicy.make>[0] = {},
  circuitPolicy?: CircuitPolicy.CircuitPolicy
) =>
  LlmManager.make({
    providers: [primary(baseUrl)],
    policy: FallbackPolicy.make({ maxRetries: 0, ...policy }),
    circuitPolicy,
    generationEnabled: true
  })

/** `LlmManager.make` over the OpenAI adapter at `baseUrl`, `policy` on top of no retries. */
export const openAi = alone((baseUrl) => OpenAi.layer({ apiKey, baseUrl }))

/** `LlmManager.make` over the Anthropic adapter at `baseUrl`, `policy` on top of no retries. */
export const anthropic = alone((baseUrl) => Anthropic.layer({ apiKey, baseUrl }))

/**
 * `LlmManager.make` over `primary` at `baseUrl`, the mock server's OpenAI as
 * its fallback: `policy` on top of no retries, and a circuit that does not
 * open within a test.
 */
export const withMockFallback =
  (primary: Primary) => (baseUrl: string, policy: Parameters<typeof FallbackPolicy.make>[0] = {}) =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      return yield* LlmManager.make({
        providers: [
          primary(baseUrl),
          OpenAi.layer({ apiKey, baseUrl: mock.baseUrl("openai") })
        ],
        policy: FallbackPolicy.make({ maxRetries: 0, ...policy }),
        circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
        generationEnabled: true
      })
    })

/** `generate` (streamed underneath) on {@link withMockFallback} over a raw server it starts, which sends `events`. */
export const generatedOver = (primary: Primary) => (events: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const server = yield* RawServer.start({ body: {}, events })
    const llm = yield* withMockFallback(primary)(server.url)
    return yield* llm.generate({ prompt: "hi" })
  }).pipe(Effect.provide(Bench), Effect.scoped)
