/**
 * Anthropic's structured outputs take closed objects only
 * (`additionalProperties: false`), so a schema with an open object (a
 * record, `patternProperties`, objects merged through `allOf`) could only be
 * answered `{}` there. Such a schema is not sent as `output_config`: the
 * adapter asks for JSON matching the full schema in the system prompt, and
 * Baton decodes the answer against it. Through `LlmManager.generateStructured`
 * over the mock server; the rule itself (`jsonSchemaShape.ts`) is checked on
 * raw schemas, without OpenAI's root-must-be-an-object condition.
 */
import * as StructuredOutput from "@baton/core/StructuredOutput"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Json from "../src/internal/json.ts"
import * as JsonSchemaShape from "../src/internal/jsonSchemaShape.ts"
import * as Manager from "./utils/manager.ts"

const Scores = Schema.Struct({ scores: Schema.Record(Schema.String, Schema.Number) })

const Closed = Schema.Struct({ name: Schema.String, age: Schema.Int })

/** The bodies of the requests the mock's Anthropic received, oldest first. */
const sentBodies = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  return (yield* mock.received("anthropic")).map((request) => request.body)
})

/** The JSON Schema after the last `\n` of a system prompt. */
const schemaIn = (system: unknown): unknown => {
  if (typeof system !== "string") return assert.fail(`no system prompt: ${String(system)}`)
  return JSON.parse(system.slice(system.lastIndexOf("\n") + 1))
}

describe("Anthropic structured output with an open object", () => {
  it.effect("asks for JSON in the system prompt instead of output_config, and decodes the full schema", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      yield* mock.inject("anthropic", MockFault.content("{\"scores\":{\"x\":1}}"))
      const llm = yield* Manager.anthropic(mock.baseUrl("anthropic"))
      const result = yield* llm.generateStructured(
        { prompt: "Score it", options: { system: "Be terse." } },
        Scores
      )
      assert.deepStrictEqual(result.value, { scores: { x: 1 } })
      assert.strictEqual(String(result.provider), "anthropic")
      const bodies = yield* sentBodies
      assert.strictEqual(bodies.length, 1)
      const body = bodies[0]
      if (!Json.isObject(body)) return assert.fail("no body")
      assert.isUndefined(body.output_config)
      // the caller's system prompt first, then the instruction with the full schema
      if (typeof body.system !== "string") return assert.fail("no system prompt")
      assert.isTrue(body.system.startsWith("Be terse.\n\n"), body.system)
      assert.include(body.system, "json")
      const sent = schemaIn(body.system)
      assert.deepStrictEqual(sent, StructuredOutput.fromSchema(Scores).jsonSchema)
      if (!Json.isObject(sent) || !Json.isObject(sent.properties) || !Json.isObject(sent.properties.scores)) {
        return assert.fail(`no scores in ${JSON.stringify(sent)}`)
      }
      // the record's value schema, not `false`
      assert.isTrue(Json.isObject(sent.properties.scores.additionalProperties), JSON.stringify(sent))
    }).pipe(Effect.provide(Bench)))

  it.effect("re-asks, still without output_config, when the answer does not decode", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      yield* mock.inject("anthropic", MockFault.content("{\"scores\":{\"x\":\"high\"}}"))
      yield* mock.inject("anthropic", MockFault.content("{\"scores\":{\"x\":2}}"))
      const llm = yield* Manager.anthropic(mock.baseUrl("anthropic"))
      const result = yield* llm.generateStructured({ prompt: "Score it" }, Scores)
      assert.deepStrictEqual(result.value, { scores: { x: 2 } })
      assert.strictEqual(result.attempts[0]?.error?._tag, "StructuredOutputInvalid")
      const bodies = yield* sentBodies
      assert.strictEqual(bodies.length, 2)
      for (const body of bodies) {
        if (!Json.isObject(body)) return assert.fail("no body")
        assert.isUndefined(body.output_config)
        assert.deepStrictEqual(schemaIn(body.system), StructuredOutput.fromSchema(Scores).jsonSchema)
      }
    }).pipe(Effect.provide(Bench)))

  it.effect("still sends a closed schema as output_config, with no instruction", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      yield* mock.inject("anthropic", MockFault.content("{\"name\":\"Ada\",\"age\":36}"))
      const llm = yield* Manager.anthropic(mock.baseUrl("anthropic"))
      const result = yield* llm.generateStructured({ prompt: "A person" }, Closed)
      assert.deepStrictEqual(result.value, { name: "Ada", age: 36 })
      const body = (yield* sentBodies).at(-1)
      if (!Json.isObject(body)) return assert.fail("no body")
      assert.isUndefined(body.system)
      if (!Json.isObject(body.output_config) || !Json.isObject(body.output_config.format)) {
        return assert.fail("no output_config.format sent")
      }
      assert.strictEqual(body.output_config.format.type, "json_schema")
      const schema = body.output_config.format.schema
      if (!Json.isObject(schema)) return assert.fail("no schema sent")
      assert.strictEqual(schema.additionalProperties, false)
      assert.deepStrictEqual(schema.required, ["name", "age"])
    }).pipe(Effect.provide(Bench)))
})

describe("jsonSchemaShape.hasOpenObject", () => {
  const closed = (properties: Json.JsonObject) => ({
    type: "object",
    properties,
    required: Object.keys(properties),
    additionalProperties: false
  })

  it("finds an open object anywhere, whatever the root", () => {
    const open: ReadonlyArray<unknown> = [
      { type: "object", additionalProperties: { type: "number" } },
      { type: "object" },
      { type: ["object", "null"] },
      { type: "array", items: { type: "object", additionalProperties: true } },
      { type: "array", items: closed({ tags: { type: "object", patternProperties: { "^a": {} } } }) },
      closed({ field: { anyOf: [{ type: "object", additionalProperties: {} }, { type: "null" }] } }),
      closed({ field: { type: "object", properties: {}, unevaluatedProperties: {} } }),
      closed({ field: { allOf: [closed({ a: { type: "string" } }), closed({ b: { type: "string" } })] } }),
      { ...closed({ ref: { $ref: "#/$defs/Bag" } }), $defs: { Bag: { type: "object" } } },
      { ...closed({ ref: { $ref: "#/definitions/Bag" } }), definitions: { Bag: { type: "object" } } },
      StructuredOutput.fromSchema(Scores).jsonSchema,
      StructuredOutput.fromSchema(Schema.Array(Schema.Record(Schema.String, Schema.String))).jsonSchema
    ]
    for (const schema of open) assert.isTrue(JsonSchemaShape.hasOpenObject(schema), JSON.stringify(schema))
  })

  it("passes closed objects and schemas without objects, whatever the root", () => {
    const expressible: ReadonlyArray<unknown> = [
      closed({ name: { type: "string" } }),
      // what effect/ai writes for a Schema.Struct: its decoder reads only its properties
      { ...closed({ name: { type: "string" } }), additionalProperties: true },
      { type: "array", items: closed({ name: { type: "string" } }) },
      { type: "string", minLength: 1 },
      { anyOf: [closed({ a: { type: "string" } }), { type: "null" }] },
      { allOf: [{ type: "string" }, { minLength: 2 }] },
      StructuredOutput.fromSchema(Closed).jsonSchema,
      StructuredOutput.fromSchema(Schema.Array(Closed)).jsonSchema
    ]
    for (const schema of expressible) assert.isFalse(JsonSchemaShape.hasOpenObject(schema), JSON.stringify(schema))
  })
})
