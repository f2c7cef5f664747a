/**
 * A raw JSON Schema through `LlmManager.generateStructured`, as a library
 * user passes one: the dialects the SDKs emit (draft-07 with `definitions`),
 * checked against the answer of a real adapter over the mock server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
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
