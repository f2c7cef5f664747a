/**
 * A `null` the caller's schema allows reaches the caller from every adapter.
 * OpenAI's strict rewrite makes optional properties nullable and removes the
 * `null`s it made possible (`strictSchema.ts`'s `dropOptionalNulls`); a
 * `null` the caller's own schema takes (through `enum`, `const`, OpenAPI's
 * `nullable`, an additional property, or a schema sent non-strict) is kept,
 * as Gemini keeps it. `generateStructured` through `LlmManager`, pointed at
 * the mock server, with the answer's text chosen.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import type { JsonSchema } from "@baton/core/StructuredOutput"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"

type Provider = "openai" | "gemini"

const layers = { openai: OpenAi.layer, gemini: Gemini.layer }

/** The value `provider` gives for `schema` when its model answers `answer`, and the `json_schema` format sent, if any. */
const answered = (provider: Provider, schema: JsonSchema, answer: object) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    yield* mock.reset
    const llm = yield* LlmManager.make({
      providers: [layers[provider]({ apiKey: Redacted.make("sk-test"), baseUrl: mock.baseUrl(provider) })],
      policy: FallbackPolicy.make({ maxRetries: 0 })
    })
    yield* mock.inject(provider, MockFault.content(JSON.stringify(answer)))
    const result = yield* llm.generateStructured({ prompt: "Patch the task" }, schema)
    const body = (yield* mock.received(provider)).at(-1)?.body as {
      response_format?: { json_schema?: { strict: boolean; schema: unknown } }
    }
    return { value: result.value, sent: body.response_format?.json_schema }
  }).pipe(Effect.provide(Bench), Effect.scoped)

const task = (status: object, required: ReadonlyArray<string> = ["title"]): JsonSchema => ({
  type: "object",
  properties: { title: { type: "string" }, status },
  required,
  additionalProperties: false
})

/** Schemas that take the `null` answered, each with that answer, and whether OpenAI's strict mode takes them. */
const allowed: ReadonlyArray<[string, JsonSchema, object, boolean]> = [
  ["an optional property whose enum holds null", task({ enum: ["done", null] }), { title: "t", status: null }, true],
  ["an optional property whose const is null", task({ const: null }), { title: "t", status: null }, true],
  [
    "an optional property OpenAPI-nullable",
    task({ type: "string", nullable: true }),
    { title: "t", status: null },
    true
  ],
  [
    "a required property OpenAPI-nullable",
    task({ type: "string", nullable: true }, ["title", "status"]),
    { title: "t", status: null },
    true
  ],
  [
    "an additional property of an open object, sent non-strict",
    {
      type: "object",
      properties: { name: { type: "string" } },
      required: ["name"],
      additionalProperties: { type: ["string", "null"] }
    },
    { name: "x", nick: null },
    false
  ],
  [
    "an additional property of an object closed for strict mode",
    { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: true },
    { name: "x", nick: null },
    true
  ]
]

describe("a null the caller's schema allows", () => {
  for (const [name, schema, answer, strict] of allowed) {
    it.live(`in ${name} is kept by OpenAI, sent ${strict ? "strict" : "non-strict"}, and by Gemini`, () =>
      Effect.gen(function*() {
        assert.deepStrictEqual((yield* answered("gemini", schema, answer)).value, answer)
        const openAi = yield* answered("openai", schema, answer)
        assert.strictEqual(openAi.sent?.strict, strict)
        assert.deepStrictEqual(openAi.value, answer)
      }))
  }

  it.live("in a required OpenAPI-nullable property is one OpenAI's strict mode lets the model answer", () =>
    Effect.gen(function*() {
      const schema = task({ type: "string", nullable: true }, ["title", "status"])
      const { sent } = yield* answered("openai", schema, { title: "t", status: null })
      assert.deepStrictEqual(sent?.schema, {
        type: "object",
        properties: { title: { type: "string" }, status: { type: ["string", "null"] } },
        required: ["title", "status"],
        additionalProperties: false
      })
    }))
})

/** Optional properties whose schemas refuse `null`, which the strict rewrite makes nullable. */
const refused: ReadonlyArray<[string, object]> = [
  ["a string", { type: "string" }],
  ["an enum without null, its type naming null", { type: ["string", "null"], enum: ["done", "open"] }],
  ["an OpenAPI-nullable enum without null", { type: "string", nullable: true, enum: ["done", "open"] }]
]

describe("a null only OpenAI's strict rewrite allows", () => {
  for (const [name, status] of refused) {
    it.live(`in an optional property of ${name} is removed, the key absent as the caller's schema expects`, () =>
      Effect.gen(function*() {
        const { sent, value } = yield* answered("openai", task(status), { title: "t", status: null })
        assert.isTrue(sent?.strict)
        assert.deepStrictEqual(value, { title: "t" })
      }))
  }
})
