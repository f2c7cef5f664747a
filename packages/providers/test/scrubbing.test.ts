/**
 * A key echoed back by a provider never reaches the caller: in the message,
 * in `InvalidRequest.param`, in a long non-JSON body cut for the message, in
 * Gemini's `blockReason`, through `LlmManager` and its `AllProvidersFailed`.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"

const canary = "zq7canaryKEYvalue0123456789abcdefXYZ"
const apiKey = Redacted.make(canary)

const cases: ReadonlyArray<readonly [string, "openai" | "gemini", RawServer.Reply]> = [
  ["InvalidRequest.param", "openai", {
    status: 400,
    body: { error: { message: "bad parameter", type: "invalid_request_error", param: `key ${canary}`, code: null } },
    events: []
  }],
  ["a long non-JSON body", "openai", { status: 500, body: `${"x".repeat(290)} ${canary}`, events: [] }],
  ["Gemini blockReason", "gemini", {
    body: { promptFeedback: { blockReason: `SAFETY ${canary}` } },
    events: [{ promptFeedback: { blockReason: `SAFETY ${canary}` } }]
  }]
]

/** Every 12-character piece of the key, so a key cut short is caught too. */
const pieces = Array.from({ length: canary.length - 11 }, (_, i) => canary.slice(i, i + 12))

describe("keys in provider errors, through LlmManager", () => {
  for (const [name, kind, reply] of cases) {
    it.live(`${name}: no piece of the key reaches the caller`, () =>
      Effect.gen(function*() {
        const server = yield* RawServer.start(reply)
        const layer = kind === "openai" ? OpenAi.layer : Gemini.layer
        const llm = yield* LlmManager.make({
          providers: [layer({ apiKey, baseUrl: server.url })],
          policy: FallbackPolicy.make({ maxRetries: 0, generateVia: "generate" }),
          circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
          generationEnabled: true
        })
        const error = yield* Effect.flip(llm.generate({ prompt: "hi" }))
        const seen = `${JSON.stringify(error)} ${error.message} ${String(error)}`
        for (const piece of pieces) assert.notInclude(seen, piece)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})
