import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as StructuredOutput from "../src/StructuredOutput.ts"

const Quiz = Schema.Struct({
  question: Schema.String,
  choices: Schema.Array(Schema.String),
  answer: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 }))
})

describe("StructuredOutput", () => {
  it("derives a closed JSON Schema and decodes typed values", () => {
    const output = StructuredOutput.fromSchema(Quiz, { name: "quiz" })
    assert.strictEqual(output.jsonSchema["type"], "object")
    assert.strictEqual(output.jsonSchema["additionalProperties"], false)
    const ok = output.decode("```json\n{\"question\":\"2+2?\",\"choices\":[\"3\",\"4\"],\"answer\":1}\n```")
    assert.deepStrictEqual(Result.getOrThrow(ok), { question: "2+2?", choices: ["3", "4"], answer: 1 })
  })

  it("says what is wrong with an answer", () => {
    const output = StructuredOutput.fromSchema(Quiz)
    const notJson = output.decode("Sure! Here is your quiz")
    assert.isTrue(Result.isFailure(notJson))
    assert.include(Result.isFailure(notJson) ? notJson.failure : "", "not valid JSON")
    const wrong = output.decode("{\"question\":\"q\",\"choices\":[],\"answer\":7}")
    assert.include(Result.isFailure(wrong) ? wrong.failure : "", "answer")
  })

  it.effect("accepts a raw JSON Schema, validated by Ajv", () =>
    Effect.gen(function*() {
      const output = yield* StructuredOutput.make({
        type: "object",
        properties: { title: { type: "string", minLength: 3 } },
        required: ["title"],
        additionalProperties: false
      })
      assert.deepStrictEqual(Result.getOrThrow(output.decode("{\"title\":\"Mars\"}")), { title: "Mars" })
      const bad = output.decode("{\"title\":\"M\",\"extra\":1}")
      assert.isTrue(Result.isFailure(bad))
      assert.include(Result.isFailure(bad) ? bad.failure : "", "/title")
    }))

  it.effect("rejects an invalid JSON Schema and a bad name before any call", () =>
    Effect.gen(function*() {
      const invalid = yield* Effect.flip(StructuredOutput.make({ type: "no-such-type" }))
      assert.strictEqual(invalid._tag, "InvalidOptions")
      assert.strictEqual(invalid.field, "schema")
      const badName = yield* Effect.flip(StructuredOutput.make(Quiz, { name: "has spaces" }))
      assert.strictEqual(badName.field, "name")
    }))
})
