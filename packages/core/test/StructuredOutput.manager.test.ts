/**
 * A raw JSON Schema through `LlmManager.generateStructured`, as a library
 * user passes one: the dialects the SDKs emit (draft-07 with `definitions`),
 * checked against the answer of a real adapter over the mock server.
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as StructuredOutput from "../src/StructuredOutput.ts"
import { Bench, manager } from "./utils/chain.ts"

const prompt = { prompt: "Plan a trip about trains." }

/** Two cities by one definition, as `zod-to-json-schema` writes a reused object. */
const trip = {
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object",
  properties: { from: { $ref: "#/definitions/city" }, to: { $ref: "#/definitions/city" } },
  required: ["from", "to"],
  additionalProperties: false,
  definitions: {
    city: {
      type: "object",
      properties: { name: { type: "string" }, country: { type: "string" } },
      required: ["name", "country"],
      additionalProperties: false
    }
  }
}

const City = Schema.Struct({ name: Schema.String, country: Schema.String })
const Trip = Schema.Struct({ from: City, to: City })

describe("LlmManager.generateStructured with a raw JSON Schema", () => {
  const dialects = [
    "http://json-schema.org/draft-07/schema#",
    "https://json-schema.org/draft/2019-09/schema",
    "https://json-schema.org/draft/2020-12/schema"
  ]
  for (const dialect of dialects) {
    it.live(`answers a schema whose $schema is ${dialect}, definitions and all`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["openai"] })
        const result = yield* llm.generateStructured(prompt, { ...trip, $schema: dialect })
        const value = Schema.decodeUnknownSync(Trip)(result.value)
        assert.isString(value.from.name)
        assert.isString(value.to.country)
      }).pipe(Effect.provide(Bench)))
  }
})

describe("LlmManager.generateStructured with a name OpenAI refuses", () => {
  const Quiz = Schema.Struct({ question: Schema.String })

  it.live("refuses a ready-made StructuredOutput from fromSchema before any call", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* manager({ chain: ["openai"] })
      const output = StructuredOutput.fromSchema(Quiz, { name: "my quiz!" })
      const error = yield* Effect.flip(llm.generateStructured(prompt, output))
      assert.deepStrictEqual([error._tag, error._tag === "InvalidOptions" ? error.field : ""], [
        "InvalidOptions",
        "name"
      ])
      assert.lengthOf(yield* server.received("openai"), 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("refuses it in fromJsonSchema, as the gateway and BatonLanguageModel build one", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(trip, { name: "my trip!" }))
      assert.strictEqual(error.field, "name")
    }))
})

describe("LlmManager.generateStructured with a $ref loop that reads no input", () => {
  const looping = {
    $defs: {
      D0: { anyOf: [{ $ref: "#/$defs/D0" }, { $ref: "#/$defs/D1" }, { type: "string" }] },
      D1: { type: "integer" }
    },
    $ref: "#/$defs/D0"
  }

  it.live("refuses the schema before any call, naming the loop (not a stack overflow)", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* manager({ chain: ["openai"] })
      const error = yield* Effect.flip(llm.generateStructured(prompt, looping))
      assert.deepStrictEqual([error._tag, error._tag === "InvalidOptions" ? error.field : ""], [
        "InvalidOptions",
        "schema"
      ])
      assert.include(error.message, "/$defs/D0")
      assert.lengthOf(yield* server.received("openai"), 0)
    }).pipe(Effect.provide(Bench)))
})
