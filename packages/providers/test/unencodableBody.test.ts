/**
 * A request whose body JSON cannot carry is the caller's, not a bug in an
 * adapter: a hand-built `LlmRequest` (one `Tool.make` never checked) with a
 * tool schema holding a `BigInt`, a cycle, or nesting past the encoder's
 * stack. Every adapter fails it with `InvalidRequest` (code
 * `unencodable_request`) before sending anything, never with a `Defect`;
 * the manager neither falls back nor counts it against the circuit. Over
 * real HTTP against the mock server, which counts what it received.
 */
import { ProviderName } from "@baton/core/Ids"
import type * as LlmManager from "@baton/core/LlmManager"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as ProviderError from "@baton/core/ProviderError"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench, type Kind, manager, pick } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"

const apiKey = Redacted.make("sk-test-key")

const makers = { openai: OpenAi.make, deepseek: DeepSeek.make, anthropic: Anthropic.make, gemini: Gemini.make }

/** A JSON Schema nested `levels` levels deep, built without recursion: past `JSON.stringify`'s stack. */
const nested = (levels: number): Record<string, unknown> => {
  let schema: Record<string, unknown> = { type: "string" }
  for (let level = 1; level < levels; level += 2) schema = { type: "object", properties: { a: schema } }
  return schema
}

const cyclic: Record<string, unknown> = { type: "object" }
cyclic["properties"] = { self: cyclic }

const schemas: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ["a BigInt", { type: "integer", maximum: 10n }],
  ["a cycle", cyclic],
  ["20,000 levels", nested(20_000)]
]

/** A checked plain request with `parameters` put in by hand, past `Tool.make`. */
const withTool = (parameters: Record<string, unknown>) =>
  Effect.map(LlmRequest.make({ prompt: "Name a planet." }), (request): LlmRequest.LlmRequest => ({
    ...request,
    tools: [{ name: "t", description: undefined, parameters }]
  }))

/** Every request the mock server received, from every provider. */
const received = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const counts = yield* Effect.forEach(Object.keys(makers) as ReadonlyArray<Kind>, (kind) => mock.stats(kind))
  return counts.reduce((sum, count) => sum + count.requests, 0)
})

const assertUnencodable = (error: { readonly _tag: string }, provider: string) => {
  assert.strictEqual(error._tag, "InvalidRequest", JSON.stringify(error))
  if (!(error instanceof ProviderError.InvalidRequest)) return
  assert.strictEqual(error.code, ProviderError.unencodableRequest)
  assert.strictEqual(error.provider, provider)
  assert.match(
    error.message,
    new RegExp(`^the request cannot be sent to ${provider}: its body cannot be encoded as JSON \\(`)
  )
}

describe("a request body JSON cannot carry", () => {
  for (const [kind, make] of Object.entries(makers)) {
    it.effect(`${kind}: InvalidRequest, not a Defect, and nothing sent (generate and stream)`, () =>
      Effect.gen(function*() {
        const mock = yield* MockProviderServer.MockProviderServer
        const provider = yield* make({ apiKey, baseUrl: mock.baseUrl(kind as Kind) })
        for (const [name, parameters] of schemas) {
          const request = yield* withTool(parameters)
          const generated = yield* Effect.flip(provider.generate(request))
          assertUnencodable(generated, kind)
          const streamed = yield* Effect.flip(Stream.runDrain(provider.stream(request)))
          assertUnencodable(streamed, kind)
          assert.strictEqual(yield* received, 0, name)
        }
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.effect("through LlmManager: one attempt, no fallback, no circuit opened, the next request served", () =>
    Effect.gen(function*() {
      // one counted failure would open a circuit
      const llm: LlmManager.Service = yield* manager({
        chain: ["deepseek", "openai"],
        circuit: { failureThreshold: 1, cooldownMs: 60_000 }
      })
      for (const [name, parameters] of schemas) {
        const request = yield* withTool(parameters)
        for (const failed of [Effect.flip(llm.generate(request)), Effect.flip(Stream.runDrain(llm.stream(request)))]) {
          const error = yield* failed
          assert.strictEqual(error._tag, "AllProvidersFailed", name)
          const attempts = error._tag === "AllProvidersFailed" ? error.attempts : []
          assert.deepStrictEqual(attempts.map(pick("provider", "outcome", "error")), [
            ["deepseek", "error", "InvalidRequest"]
          ])
        }
      }
      assert.strictEqual(yield* received, 0)
      for (const provider of ["deepseek", "openai"]) {
        assert.strictEqual((yield* llm.circuitState(ProviderName.make(provider)))._tag, "Closed")
      }
      const next = yield* llm.generate({ prompt: "Name a planet." })
      assert.deepStrictEqual(next.attempts.map(pick("provider", "outcome")), [["deepseek", "success"]])
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
