/**
 * Anthropic's structured outputs refuse (400) a schema with keywords outside
 * their subset (`minLength`, `minimum`, `minItems` above 1, ...), so the
 * adapter sends a rewritten schema: through `LlmManager.generateStructured`
 * over the mock server, the schema sent holds only the subset, closes every
 * object, and the answer is still checked against the caller's full schema.
 * A schema with an open object has no form in the subset (see
 * `anthropicOpenObject.test.ts` for how it is sent instead).
 * Also: streamed usage keeps the cache counts of `message_start` when a
 * `message_delta` repeats `input_tokens` with null or absent cache fields.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as AnthropicSchema from "../src/internal/anthropicSchema.ts"
import * as Json from "../src/internal/json.ts"
import * as Manager from "./utils/manager.ts"
import { withField } from "./utils/schemas.ts"

const apiKey = Redacted.make("sk-test-key")

const Question = Schema.Struct({
  question: Schema.NonEmptyString,
  choices: Schema.Array(Schema.NonEmptyString).check(Schema.isMinLength(2)),
  answerIndex: Schema.Int
})

/** The keywords Anthropic's structured outputs accept. */
const accepted = new Set([
  "type",
  "title",
  "description",
  "enum",
  "const",
  "anyOf",
  "allOf",
  "$ref",
  "$defs",
  "definitions",
  "properties",
  "required",
  "items",
  "minItems",
  "format",
  "additionalProperties"
])

const listOf = (u: unknown): ReadonlyArray<unknown> => Array.isArray(u) ? u : []

/** Every schema object in `schema`, itself first. */
const schemasIn = (schema: unknown): ReadonlyArray<Json.JsonObject> => {
  if (!Json.isObject(schema)) return []
  const children = [
    ...(Json.isObject(schema.properties) ? Object.values(schema.properties) : []),
    ...(Json.isObject(schema.$defs) ? Object.values(schema.$defs) : []),
    ...listOf(schema.anyOf),
    ...listOf(schema.allOf),
    schema.items
  ]
  return [schema, ...children.flatMap(schemasIn)]
}

/** Fails unless `schema` is in Anthropic's subset with every object closed. */
const assertAccepted = (schema: unknown) => {
  for (const node of schemasIn(schema)) {
    for (const key of Object.keys(node)) assert.isTrue(accepted.has(key), `${key} in ${JSON.stringify(node)}`)
    if (node.minItems !== undefined) assert.include([0, 1], node.minItems)
    if (node.type === "object") assert.strictEqual(node.additionalProperties, false, JSON.stringify(node))
  }
}

/** The `output_config.format.schema` of the last request the mock's Anthropic received. */
const sentSchema = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const body = (yield* mock.received("anthropic")).at(-1)?.body
  if (!Json.isObject(body) || !Json.isObject(body.output_config) || !Json.isObject(body.output_config.format)) {
    return assert.fail("no output_config.format sent")
  }
  return body.output_config.format.schema
})

describe("Anthropic structured output", () => {
  it("rewrites a schema once for every object of the same JSON text, or for the same object", () => {
    const decoded = (): { readonly [key: string]: unknown } =>
      structuredClone({ type: "object", properties: { name: { type: "string", minLength: 1 } }, required: ["name"] })
    const schema = decoded()
    assert.strictEqual(AnthropicSchema.toAnthropic(schema), AnthropicSchema.toAnthropic(schema))
    assert.strictEqual(AnthropicSchema.toAnthropic(decoded()), AnthropicSchema.toAnthropic(decoded()))
  })

  it.effect("sends only the keywords Anthropic accepts, every object closed, and decodes a valid answer", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const answer = { question: "2+2?", choices: ["3", "4"], answerIndex: 1 }
      yield* mock.inject("anthropic", MockFault.content(JSON.stringify(answer)))
      const llm = yield* Manager.anthropic(mock.baseUrl("anthropic"))
      const result = yield* llm.generateStructured({ prompt: "One quiz question" }, Question)
      assert.deepStrictEqual(result.value, answer)
      assert.strictEqual(String(result.provider), "anthropic")
      const schema = yield* sentSchema
      assertAccepted(schema)
      if (!Json.isObject(schema) || !Json.isObject(schema.properties)) return assert.fail("no properties sent")
      const { answerIndex, choices, question } = schema.properties
      assert.deepStrictEqual(answerIndex, { type: "integer" })
      // a dropped constraint is still told to the model, in the description
      assert.deepStrictEqual(question, { type: "string", description: "Constraints: {\"minLength\":1}" })
      assert.deepStrictEqual(choices, {
        type: "array",
        items: { type: "string", description: "Constraints: {\"minLength\":1}" },
        // implied by the minimum of 2, which Anthropic refuses
        minItems: 1,
        description: "Constraints: {\"minItems\":2}"
      })
      assert.deepStrictEqual(schema.required, ["question", "choices", "answerIndex"])
    }).pipe(Effect.provide(Bench)))

  it.effect("still checks the answer against the full schema: a dropped constraint fails the decode", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const answer = JSON.stringify({ question: "", choices: ["only"], answerIndex: 0.5 })
      yield* mock.inject("anthropic", MockFault.content(answer))
      const llm = yield* Manager.anthropic(mock.baseUrl("anthropic"))
      // the invalid answer is re-asked once; the mock's own answer then decodes
      const result = yield* llm.generateStructured({ prompt: "One quiz question" }, Question)
      const failure = result.attempts[0]?.error
      assert.strictEqual(failure?._tag, "StructuredOutputInvalid")
      if (failure?._tag !== "StructuredOutputInvalid") return
      assert.strictEqual(failure.content, answer)
      for (const path of ["question", "choices", "answerIndex"]) assert.include(failure.issue, `["${path}"]`)
      assert.strictEqual(result.attempts[1]?.outcome, "success")
      assertAccepted(yield* sentSchema)
    }).pipe(Effect.provide(Bench)))

  it("rewrites every keyword into the subset, in definitions, unions and nested objects", () => {
    const schema = {
      title: "Root",
      description: "A root",
      type: "object",
      properties: {
        when: { type: "string", format: "date-time" },
        colour: { type: "string", format: "color", pattern: "^#" },
        kind: { oneOf: [{ const: "a" }, { const: { not: "primitive" } }] },
        mixed: { anyOf: [{ type: "string" }], oneOf: [{ type: "string", maxLength: 3 }] },
        level: { enum: [1, "two", null, true] },
        shape: { enum: [[1], "x"] },
        tags: { type: "array", items: { $ref: "#/$defs/Tag" }, minItems: 1, maxItems: 4, uniqueItems: true },
        pair: { type: "array", prefixItems: [{ type: "string" }, { type: "number" }], minItems: 2, maxItems: 2 },
        count: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER, multipleOf: 2 },
        both: { allOf: [{ type: "string" }, { minLength: 2 }] }
      },
      required: ["when", "kind"],
      $defs: {
        Tag: { type: "object", description: "A tag", properties: { name: { type: "string", maxLength: 9 } } }
      },
      additionalProperties: false
    }
    const sent = AnthropicSchema.toAnthropic(schema)
    assertAccepted(sent)
    assert.deepStrictEqual(sent, {
      title: "Root",
      description: "A root",
      type: "object",
      properties: {
        when: { type: "string", format: "date-time" },
        colour: { type: "string", description: "Constraints: {\"format\":\"color\",\"pattern\":\"^#\"}" },
        kind: { anyOf: [{ const: "a" }, { description: "Constraints: {\"const\":{\"not\":\"primitive\"}}" }] },
        mixed: {
          anyOf: [{ type: "string" }],
          allOf: [{ anyOf: [{ type: "string", description: "Constraints: {\"maxLength\":3}" }] }]
        },
        level: { enum: [1, "two", null, true] },
        shape: { description: "Constraints: {\"enum\":[[1],\"x\"]}" },
        tags: {
          type: "array",
          items: { $ref: "#/$defs/Tag" },
          minItems: 1,
          description: "Constraints: {\"maxItems\":4,\"uniqueItems\":true}"
        },
        pair: {
          type: "array",
          minItems: 1,
          description:
            "Constraints: {\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"number\"}],\"minItems\":2,\"maxItems\":2}"
        },
        // Schema.Int's bounds (the safe integers) tell the model nothing
        count: { type: "integer", description: "Constraints: {\"minimum\":0,\"multipleOf\":2}" },
        both: { allOf: [{ type: "string" }, { description: "Constraints: {\"minLength\":2}" }] }
      },
      required: ["when", "kind"],
      $defs: {
        Tag: {
          type: "object",
          description: "A tag",
          properties: { name: { type: "string", description: "Constraints: {\"maxLength\":9}" } },
          additionalProperties: false
        }
      },
      additionalProperties: false
    })
    // the caller's schema is left as it was
    assert.deepStrictEqual(schema.properties.count, {
      type: "integer",
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      multipleOf: 2
    })
  })

  it("has no form for a schema with an open object, which closing would reduce to {}", () => {
    const closed = (name: string) => withField({ type: "object", properties: { [name]: { type: "string" } } })
    const open = [
      withField({ type: "object", additionalProperties: { type: "integer", minimum: 0 } }),
      withField({ type: "object" }),
      withField({ type: "object", patternProperties: { "^a": { type: "number" } }, additionalProperties: false }),
      withField({ allOf: [closed("a"), closed("b")] }),
      // the root need not be an object, as it must for OpenAI's strict mode
      { type: "array", items: { type: "object", additionalProperties: { type: "string" } } }
    ]
    for (const schema of open) assert.isUndefined(AnthropicSchema.toAnthropic(schema), JSON.stringify(schema))
  })

  it("appends the constraints to a description", () => {
    assert.deepStrictEqual(AnthropicSchema.toAnthropic({ type: "string", description: "A name", minLength: 1 }), {
      type: "string",
      description: "A name\n\nConstraints: {\"minLength\":1}"
    })
  })
})

/** `data` as an SSE event named `name` (the raw server writes `data: <it>\n\n`). */
const named = (name: string, data: unknown) => `${JSON.stringify(data)}\nevent: ${name}`

/** A streamed Anthropic reply whose `message_delta` carries `deltaUsage`. */
const eventsWith = (deltaUsage: Json.JsonObject) => [
  named("message_start", {
    type: "message_start",
    message: {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "claude-haiku-4-5",
      content: [],
      stop_reason: null,
      usage: { input_tokens: 3, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: 1 }
    }
  }),
  named("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
  named("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } }),
  named("content_block_stop", { type: "content_block_stop", index: 0 }),
  named("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: deltaUsage }),
  named("message_stop", { type: "message_stop" })
]

/** The usage of the Finish of a stream through `LlmManager` over a server sending `events`. */
const finishUsage = (events: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const server = yield* RawServer.start({ body: {}, events })
    const llm = yield* Manager.withMockFallback((baseUrl) => Anthropic.layer({ apiKey, baseUrl }))(server.url)
    const parts = yield* Stream.runCollect(llm.stream({ prompt: "hi" }))
    const finish = parts.at(-1)
    if (finish?._tag !== "Finish") return assert.fail("no Finish")
    assert.strictEqual(String(finish.sources?.[0]?.provider), "anthropic")
    const { cachedPromptTokens, completionTokens, promptTokens } = finish.usage
    return { promptTokens, cachedPromptTokens, completionTokens }
  }).pipe(Effect.provide(Bench), Effect.scoped)

describe("Anthropic streamed usage", () => {
  it.live("keeps message_start's cache counts when message_delta's are null or absent", () =>
    Effect.gen(function*() {
      const usage = yield* finishUsage(
        eventsWith({ input_tokens: 3, cache_read_input_tokens: null, output_tokens: 9 })
      )
      assert.deepStrictEqual(usage, { promptTokens: 123, cachedPromptTokens: 100, completionTokens: 9 })
    }))

  it.live("takes each count message_delta does carry", () =>
    Effect.gen(function*() {
      const usage = yield* finishUsage(
        eventsWith({
          input_tokens: null,
          cache_read_input_tokens: 150,
          cache_creation_input_tokens: null,
          output_tokens: 9
        })
      )
      assert.deepStrictEqual(usage, { promptTokens: 173, cachedPromptTokens: 150, completionTokens: 9 })
    }))

  it.live("keeps them when message_delta carries output tokens only", () =>
    Effect.gen(function*() {
      const usage = yield* finishUsage(eventsWith({ output_tokens: 9 }))
      assert.deepStrictEqual(usage, { promptTokens: 123, cachedPromptTokens: 100, completionTokens: 9 })
    }))
})
