/**
 * What OpenAI's strict structured-output rewrite costs a call, in CPU µs
 * per call (no network): the step `response_format` takes for each request
 * (`toStrict` on the call's JSON Schema), for a 4-field quiz and for a
 * course of 40 nested lessons, each given as an Effect Schema (its JSON
 * Schema compiled once by `StructuredOutput.fromSchema`, so the same object
 * every call) and as a raw JSON Schema object the caller keeps; and, for
 * comparison, a copy of the raw one made for every call, as a gateway
 * decodes it from each request body. Anthropic's rewrite to its own subset
 * (`toAnthropic`) and Gemini's form (`formOf`: `responseJsonSchema`, or an
 * instruction for a schema it cannot take), the same step of their
 * adapters, are timed beside it.
 *
 * The rewrite is internal, so it is imported from the source by path.
 *
 * Run: `node bench/strictSchema.ts`.
 */
import * as StructuredOutput from "@baton/core/StructuredOutput"
import { Schema } from "effect"
import * as AnthropicSchema from "../packages/providers/src/internal/anthropicSchema.ts"
import * as GeminiSchema from "../packages/providers/src/internal/geminiSchema.ts"
import * as StrictSchema from "../packages/providers/src/internal/strictSchema.ts"

/** CPU µs per run of `f`, the median of 5 batches of `n` after a warm-up batch. */
const cost = (f: () => unknown, n: number): number => {
  const batch = () => {
    const cpu = process.cpuUsage()
    for (let i = 0; i < n; i++) f()
    const used = process.cpuUsage(cpu)
    return (used.user + used.system) / n
  }
  batch()
  const runs = Array.from({ length: 5 }, batch)
  return runs.sort((a, b) => a - b)[2] ?? Number.NaN
}

const Quiz = Schema.Struct({
  question: Schema.String,
  choices: Schema.Array(Schema.String),
  answer: Schema.Int,
  hint: Schema.optionalKey(Schema.String)
})

const Question = Schema.Struct({
  text: Schema.String,
  choices: Schema.Array(Schema.String),
  answer: Schema.Int,
  hint: Schema.optionalKey(Schema.String)
})
const Lesson = Schema.Struct({
  title: Schema.String,
  summary: Schema.optionalKey(Schema.String),
  level: Schema.Literals(["beginner", "intermediate", "advanced"]),
  sections: Schema.Array(Schema.Struct({ heading: Schema.String, body: Schema.String, quiz: Schema.Array(Question) }))
})
/** 40 lessons, each its own field, so the schema holds 40 copies of the lesson's tree. */
const Course = Schema.Struct(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`lesson${i + 1}`, Lesson])))

const cases: ReadonlyArray<readonly [string, Schema.Codec<unknown>, number]> = [
  ["4-field quiz", Quiz, 20_000],
  ["40-lesson course", Course, 500]
]

for (const [name, schema, n] of cases) {
  const compiled = StructuredOutput.fromSchema(schema).jsonSchema
  const raw = structuredClone(compiled)
  const size = JSON.stringify(compiled).length
  console.log(`${name} (${size} characters of JSON Schema)`)
  console.log(`${cost(() => StrictSchema.toStrict(compiled), n).toFixed(2).padStart(10)} µs  Effect Schema`)
  console.log(`${cost(() => StrictSchema.toStrict(raw), n).toFixed(2).padStart(10)} µs  raw JSON Schema, kept`)
  console.log(
    `${
      cost(() => StrictSchema.toStrict(structuredClone(raw)), n).toFixed(2).padStart(10)
    } µs  raw JSON Schema, a copy per call`
  )
  console.log(`${cost(() => structuredClone(raw), n).toFixed(2).padStart(10)} µs    of which the copy`)
  console.log(
    `${cost(() => AnthropicSchema.toAnthropic(compiled), n).toFixed(2).padStart(10)} µs  Anthropic, Effect Schema`
  )
  console.log(
    `${
      cost(() => AnthropicSchema.toAnthropic(structuredClone(raw)), n).toFixed(2).padStart(10)
    } µs  Anthropic, raw JSON Schema, a copy per call`
  )
  console.log(`${cost(() => GeminiSchema.formOf(compiled), n).toFixed(2).padStart(10)} µs  Gemini, Effect Schema`)
  console.log(
    `${
      cost(() => GeminiSchema.formOf(structuredClone(raw)), n).toFixed(2).padStart(10)
    } µs  Gemini, raw JSON Schema, a copy per call`
  )
}
