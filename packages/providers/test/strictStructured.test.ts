/**
 * OpenAI's strict structured-output rewrite, end to end: `generateStructured`
 * through `LlmManager` over `OpenAi.layer`, pointed at the mock server, with
 * the answer's text chosen and the request body read back.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { StructuredResult } from "@baton/core/GenerationResult"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as Manager from "./utils/manager.ts"
import { strictViolations } from "./utils/schemas.ts"

const apiKey = Redacted.make("sk-test-key")

const openAi = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const llm = yield* LlmManager.make({
    providers: [OpenAi.layer({ apiKey, baseUrl: mock.baseUrl("openai") })],
    policy: FallbackPolicy.make({ maxRetries: 0, retryBaseDelayMs: 1 }),
    circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 }
  })
  return { mock, llm }
})

/** The `response_format.json_schema` of the last request sent to OpenAI. */
const sentFormat = (mock: MockProviderServer.MockProviderServer["Service"]) =>
  Effect.map(mock.received("openai"), (requests) => {
    const body = requests.at(-1)?.body as { response_format?: { json_schema?: unknown } } | undefined
    return body?.response_format?.json_schema as { strict: boolean; schema: { properties: Record<string, unknown> } }
  })

const ask = { prompt: "Fill it in." }

/** The outcomes of a call answered by OpenAI on the first try. */
const firstTry = [["openai", undefined]]

/**
 * `call` on the manager over OpenAI, whose answer is `answer`: the value
 * decoded, each attempt's provider and error tag, and the format sent.
 */
const answered = <A>(
  answer: string,
  call: (llm: LlmManager.Service) => Effect.Effect<StructuredResult<A>, LlmManager.GenerateError>
) =>
  Effect.gen(function*() {
    const { llm, mock } = yield* openAi
    yield* mock.inject("openai", MockFault.content(answer))
    const result = yield* call(llm)
    const outcomes = result.attempts.map((a) => [a.provider, a.error?._tag])
    return { value: result.value, outcomes, format: yield* sentFormat(mock) }
  }).pipe(Effect.provide(Bench), Effect.scoped)

/** A draft-07 schema: its subschemas under `definitions`, referred to as `#/definitions/...`. */
const Addresses = {
  type: "object",
  properties: { home: { $ref: "#/definitions/Address" }, work: { $ref: "#/definitions/Address" } },
  required: ["home", "work"],
  additionalProperties: false,
  definitions: {
    Address: {
      type: "object",
      properties: { city: { type: "string" }, zip: { type: "string" } },
      required: ["city"],
      additionalProperties: false
    }
  }
}

/** Every `$ref` in a schema, in document order. */
const refsOf = (schema: unknown): ReadonlyArray<string> => {
  if (typeof schema !== "object" || schema === null) return []
  return Object.entries(schema).flatMap(([key, value]) =>
    key === "$ref" && typeof value === "string" ? [value] : refsOf(value)
  )
}

/** What a local `$ref` (`#/a/b`) points at in `schema`, or `undefined`. */
const pointer = (schema: unknown, ref: string): unknown =>
  ref.slice(2).split("/").reduce<unknown>(
    (node, key) => typeof node === "object" && node !== null ? Reflect.get(node, key) : undefined,
    schema
  )

describe("OpenAI strict structured output", () => {
  it.live("an open record is sent non-strict, with its additionalProperties, and its data is kept", () =>
    Effect.gen(function*() {
      const { llm, mock } = yield* openAi
      yield* mock.inject("openai", MockFault.content(`{"scores":{"x":1}}`))
      const Scores = Schema.Struct({ scores: Schema.Record(Schema.String, Schema.Finite) })
      const result = yield* llm.generateStructured({ prompt: "Score it." }, Scores)
      const format = yield* sentFormat(mock)
      assert.isFalse(format.strict)
      const scores = format.schema.properties.scores as { additionalProperties?: unknown }
      assert.deepStrictEqual(scores.additionalProperties, { type: "number" })
      assert.deepStrictEqual(result.value, { scores: { x: 1 } })
      assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.error?._tag]), [["openai", undefined]])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("a null for an optional field inside a nullable object is dropped", () =>
    Effect.gen(function*() {
      const { llm, mock } = yield* openAi
      yield* mock.inject("openai", MockFault.content(`{"a":{"b":null}}`), { times: 2 })
      const Nested = Schema.Struct({ a: Schema.NullOr(Schema.Struct({ b: Schema.optionalKey(Schema.String) })) })
      const result = yield* llm.generateStructured({ prompt: "Nest it." }, Nested)
      assert.isTrue((yield* sentFormat(mock)).strict)
      assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.error?._tag]), [["openai", undefined]])
      assert.deepStrictEqual(result.value, { a: {} })
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("draft-07 definitions are sent rewritten with the schema: every $ref resolves, optional nulls are dropped", () =>
    Effect.gen(function*() {
      const { llm, mock } = yield* openAi
      yield* mock.inject(
        "openai",
        MockFault.content(`{"home":{"city":"A","zip":null},"work":{"city":"B","zip":"1"}}`),
        {
          times: 2
        }
      )
      const result = yield* llm.generateStructured({ prompt: "Where?" }, Addresses)
      const format = yield* sentFormat(mock)
      assert.isTrue(format.strict)
      const refs = refsOf(format.schema)
      assert.deepStrictEqual(refs, ["#/definitions/Address", "#/definitions/Address"])
      for (const ref of refs) assert.isDefined(pointer(format.schema, ref), `${ref} resolves in the sent schema`)
      // the definition is rewritten as the root is: every property required, the optional one nullable
      assert.deepStrictEqual(pointer(format.schema, "#/definitions/Address"), {
        type: "object",
        properties: { city: { type: "string" }, zip: { anyOf: [{ type: "string" }, { type: "null" }] } },
        required: ["city", "zip"],
        additionalProperties: false
      })
      assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.error?._tag]), [["openai", undefined]])
      assert.deepStrictEqual(result.value, { home: { city: "A" }, work: { city: "B", zip: "1" } })
    }).pipe(Effect.provide(Bench), Effect.scoped))

  // the JSON Schema says what the JSON may hold (`Schema.optional` allows null there); the answer is decoded from JSON
  for (const provider of ["openai", "anthropic"] as const) {
    it.live(`${provider}: a null for a Schema.optional field is read as absent, as its JSON Schema allows`, () =>
      Effect.gen(function*() {
        const mock = yield* MockProviderServer.MockProviderServer
        const llm = yield* (provider === "openai" ? Manager.openAi : Manager.anthropic)(mock.baseUrl(provider))
        yield* mock.inject(provider, MockFault.content(`{"a":"x","b":null}`), { times: 2 })
        const Optional = Schema.Struct({ a: Schema.String, b: Schema.optional(Schema.String) })
        const result = yield* llm.generateStructured({ prompt: "Fill it." }, Optional)
        assert.deepStrictEqual(result.attempts.map((a): [string, unknown] => [a.provider, a.error?._tag]), [[
          provider,
          undefined
        ]])
        assert.strictEqual(result.value.a, "x")
        assert.strictEqual(result.value.b, undefined)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.live("a tuple field is sent non-strict, its prefixItems kept, and decoded", () =>
    Effect.gen(function*() {
      const Pair = Schema.Struct({ pair: Schema.Tuple([Schema.String, Schema.Int]) })
      const { format, outcomes, value } = yield* answered(
        `{"pair":["a",1]}`,
        (llm) => llm.generateStructured(ask, Pair)
      )
      assert.isFalse(format.strict)
      const pair = format.schema.properties.pair as { prefixItems?: ReadonlyArray<unknown> }
      assert.strictEqual(pair.prefixItems?.length, 2)
      assert.deepStrictEqual(outcomes, firstTry)
      assert.deepStrictEqual(value, { pair: ["a", 1] })
    }))

  it.live("a non-empty array, whose prefixItems repeat its items, stays strict", () =>
    Effect.gen(function*() {
      const Tags = Schema.Struct({ tags: Schema.NonEmptyArray(Schema.String) })
      const { format, value } = yield* answered(`{"tags":["a","b"]}`, (llm) => llm.generateStructured(ask, Tags))
      assert.isTrue(format.strict)
      assert.deepStrictEqual(strictViolations(format.schema), [])
      assert.deepStrictEqual(value, { tags: ["a", "b"] })
    }))

  it.live("a nullable object written as a type list keeps its properties, closed, and its optional nulls are dropped", () =>
    Effect.gen(function*() {
      const Owner = {
        type: "object",
        properties: {
          owner: {
            type: ["object", "null"],
            properties: { name: { type: "string" }, age: { type: "integer" } },
            required: ["name"]
          }
        },
        required: ["owner"]
      }
      const answer = `{"owner":{"name":"A","age":null}}`
      const { format, outcomes, value } = yield* answered(answer, (llm) => llm.generateStructured(ask, Owner))
      assert.isTrue(format.strict)
      assert.deepStrictEqual(strictViolations(format.schema), [])
      assert.deepStrictEqual(format.schema.properties.owner, {
        type: ["object", "null"],
        properties: { name: { type: "string" }, age: { anyOf: [{ type: "integer" }, { type: "null" }] } },
        required: ["name", "age"],
        additionalProperties: false
      })
      assert.deepStrictEqual(outcomes, firstTry)
      assert.deepStrictEqual(value, { owner: { name: "A" } })
    }))

  it.live("a described $ref, alone or in a one-entry allOf, is sent as a one-branch anyOf and its answer decoded", () =>
    Effect.gen(function*() {
      const Book = {
        type: "object",
        properties: {
          author: { allOf: [{ $ref: "#/$defs/Person" }], description: "Who wrote it" },
          editor: { $ref: "#/$defs/Person", description: "Who edited it" }
        },
        required: ["author", "editor"],
        $defs: {
          Person: {
            type: "object",
            properties: { name: { type: "string" }, age: { type: "integer" } },
            required: ["name"],
            additionalProperties: false
          }
        }
      }
      const answer = `{"author":{"name":"A","age":null},"editor":{"name":"B","age":3}}`
      const { format, outcomes, value } = yield* answered(answer, (llm) => llm.generateStructured(ask, Book))
      assert.isTrue(format.strict)
      assert.deepStrictEqual(strictViolations(format.schema), [])
      assert.deepStrictEqual(format.schema.properties, {
        author: { anyOf: [{ $ref: "#/$defs/Person" }], description: "Who wrote it" },
        editor: { anyOf: [{ $ref: "#/$defs/Person" }], description: "Who edited it" }
      })
      for (const ref of refsOf(format.schema)) assert.isDefined(pointer(format.schema, ref), `${ref} resolves`)
      assert.deepStrictEqual(outcomes, firstTry)
      assert.deepStrictEqual(value, { author: { name: "A" }, editor: { name: "B", age: 3 } })
    }))

  it.live("a schema the rewrite cannot make strict (a field left with no type) is sent non-strict as the caller wrote it", () =>
    Effect.gen(function*() {
      const Loose = Schema.Struct({ label: Schema.String, extra: Schema.Unknown })
      const answer = `{"label":"x","extra":{"any":[1]}}`
      const { format, outcomes, value } = yield* answered(answer, (llm) => llm.generateStructured(ask, Loose))
      assert.isFalse(format.strict)
      assert.deepStrictEqual(format.schema.properties.extra, {})
      assert.deepStrictEqual(outcomes, firstTry)
      assert.deepStrictEqual(value, { label: "x", extra: { any: [1] } })
    }))
  // OpenAI's strict mode answers 400 "'uri' is not a valid format" for any format outside its list
  it.live("a format strict mode does not know is told in the description, one it knows kept", () =>
    Effect.gen(function*() {
      const Link = {
        type: "object",
        properties: { url: { type: "string", format: "uri" }, email: { type: "string", format: "email" } },
        required: ["url", "email"],
        additionalProperties: false
      }
      const answer = `{"url":"https://example.com/","email":"a@example.com"}`
      const { format, outcomes, value } = yield* answered(answer, (llm) => llm.generateStructured(ask, Link))
      assert.isTrue(format.strict)
      assert.deepStrictEqual(format.schema.properties, {
        url: { type: "string", description: `Constraints: {"format":"uri"}` },
        email: { type: "string", format: "email" }
      })
      assert.deepStrictEqual(outcomes, firstTry)
      assert.deepStrictEqual(value, { url: "https://example.com/", email: "a@example.com" })
    }))

  // zod-to-json-schema (its default $refStrategy "root") writes a schema used twice, or recursive, as a $ref to where it first appears
  it.live("a $ref to a place outside $defs is sent strict, as a $ref to a definition, and its optional nulls dropped", () =>
    Effect.gen(function*() {
      const Address = {
        type: "object",
        properties: { city: { type: "string" }, zip: { type: "string" } },
        required: ["city"],
        additionalProperties: false
      }
      const Places = {
        $schema: "http://json-schema.org/draft-07/schema#",
        type: "object",
        properties: {
          home: Address,
          work: { $ref: "#/properties/home" },
          tree: {
            type: "object",
            properties: {
              name: { type: "string" },
              note: { type: "string" },
              children: { type: "array", items: { $ref: "#/properties/tree" } }
            },
            required: ["name", "children"],
            additionalProperties: false
          }
        },
        required: ["home", "work", "tree"],
        additionalProperties: false
      }
      const answer = JSON.stringify({
        home: { city: "A", zip: null },
        work: { city: "B", zip: null },
        tree: { name: "r", note: null, children: [{ name: "c", note: null, children: [] }] }
      })
      const { format, outcomes, value } = yield* answered(answer, (llm) => llm.generateStructured(ask, Places))
      assert.isTrue(format.strict)
      assert.deepStrictEqual(strictViolations(format.schema), [])
      const refs = refsOf(format.schema)
      assert.isNotEmpty(refs)
      for (const ref of refs) {
        assert.match(ref, /^#\/(\$defs|definitions)\//)
        assert.isDefined(pointer(format.schema, ref), `${ref} resolves in the sent schema`)
      }
      assert.deepStrictEqual(outcomes, firstTry)
      assert.deepStrictEqual(value, {
        home: { city: "A" },
        work: { city: "B" },
        tree: { name: "r", children: [{ name: "c", children: [] }] }
      })
    }))

  // Effect escapes a definition's name in its $ref as a JSON pointer in a URI fragment
  for (const identifier of ["quiz/Question", "Quiz Question", "Übung"]) {
    it.live(`a definition named ${JSON.stringify(identifier)} (escaped in its $ref) stays strict, its nulls dropped`, () =>
      Effect.gen(function*() {
        const Question = Schema.Struct({ text: Schema.String, hint: Schema.optionalKey(Schema.String) }).annotate({
          identifier
        })
        const Quiz = Schema.Struct({ first: Question, rest: Schema.Array(Question) })
        const { format, outcomes, value } = yield* answered(
          JSON.stringify({ first: { text: "q", hint: null }, rest: [] }),
          (llm) => llm.generateStructured(ask, Quiz)
        )
        assert.isTrue(format.strict)
        assert.deepStrictEqual(strictViolations(format.schema), [])
        assert.deepStrictEqual(outcomes, firstTry)
        assert.deepStrictEqual(value, { first: { text: "q" }, rest: [] })
      }))
  }

  // OpenAI's documented limits on a strict schema: past any of them every call is a 400
  const values = (n: number, width = 1) => Array.from({ length: n }, (_, i) => `v${i}`.padEnd(width, "_"))
  const nested = (depth: number): Schema.Codec<unknown> =>
    depth === 1 ? Schema.Struct({ v: Schema.String }) : Schema.Struct({ v: nested(depth - 1) })
  const nestedAnswer = (depth: number): unknown => ({ v: depth === 1 ? "x" : nestedAnswer(depth - 1) })
  const fields = (n: number, width = 1) =>
    Schema.Struct(Object.fromEntries(values(n, width).map((key) => [key, Schema.optionalKey(Schema.String)])))
  const literals = (n: number, width = 1) => Schema.Struct({ v: Schema.Literals(values(n, width)) })
  const limits: ReadonlyArray<readonly [string, Schema.Codec<unknown>, unknown, boolean]> = [
    ["1 000 enum values", literals(1_000), { v: "v0" }, true],
    ["1 001 enum values", literals(1_001), { v: "v0" }, false],
    ["an enum of 251 values of 15 060 characters", literals(251, 60), { v: values(1, 60)[0] }, false],
    ["5 000 object properties", fields(5_000), {}, true],
    ["5 001 object properties", fields(5_001), {}, false],
    ["121 000 characters of property names", fields(1_000, 121), {}, false],
    ["10 levels of objects", nested(10), nestedAnswer(10), true],
    ["11 levels of objects", nested(11), nestedAnswer(11), false]
  ]
  /** `depth` levels of objects: the root, then each level a definition the one above names by `$ref`. */
  const chained = (depth: number) => ({
    type: "object",
    properties: { v: depth === 1 ? { type: "string" } : { $ref: "#/$defs/L2" } },
    required: ["v"],
    additionalProperties: false,
    $defs: Object.fromEntries(Array.from({ length: depth - 1 }, (_, i) => [`L${i + 2}`, {
      type: "object",
      properties: { v: i + 2 === depth ? { type: "string" } : { $ref: `#/$defs/L${i + 3}` } },
      required: ["v"],
      additionalProperties: false
    }]))
  })
  for (const [depth, strict] of [[10, true], [11, false]] as const) {
    it.live(`a schema of ${depth} levels of objects through $refs is sent ${strict ? "strict" : "non-strict"}`, () =>
      Effect.gen(function*() {
        const { format, outcomes, value } = yield* answered(
          JSON.stringify(nestedAnswer(depth)),
          (llm) => llm.generateStructured(ask, chained(depth))
        )
        assert.strictEqual(format.strict, strict)
        assert.deepStrictEqual(outcomes, firstTry)
        assert.deepStrictEqual(value, nestedAnswer(depth))
      }))
  }
  // OpenAI documents recursive schemas as strict (a `$ref` to "#" or a definition naming itself): a loop adds no depth
  it.live("a schema of 10 levels of objects through $refs, the last one naming the root again, is sent strict", () =>
    Effect.gen(function*() {
      const schema = chained(10)
      const last = { ...schema.$defs.L10, properties: { v: { anyOf: [{ type: "string" }, { $ref: "#" }] } } }
      const { format, outcomes, value } = yield* answered(
        JSON.stringify(nestedAnswer(10)),
        (llm) => llm.generateStructured(ask, { ...schema, $defs: { ...schema.$defs, L10: last } })
      )
      assert.isTrue(format.strict)
      assert.deepStrictEqual(outcomes, firstTry)
      assert.deepStrictEqual(value, nestedAnswer(10))
    }))
  /** `depth` levels of objects written inline, each holding the next as `v`. */
  const inline = (depth: number): object => ({
    type: "object",
    properties: { v: depth === 1 ? { type: "string" } : inline(depth - 1) },
    required: ["v"],
    additionalProperties: false
  })
  /** A closed object of one property, `key`, that may be null or the place `ref` names. */
  const refOrNull = (key: string, ref: string, more: object = {}) => ({
    type: "object",
    properties: { [key]: { anyOf: [{ $ref: ref }, { type: "null" }] }, ...more },
    required: [key, ...Object.keys(more)],
    additionalProperties: false
  })
  /**
   * A and B naming each other, the root naming both: 11 levels of objects
   * (root, B, A, then A's 8-level chain), however the root orders its fields.
   */
  const mutual = (order: ReadonlyArray<"x" | "y">) => ({
    type: "object",
    properties: Object.fromEntries(order.map((key) => [key, { $ref: key === "x" ? "#/$defs/A" : "#/$defs/B" }])),
    required: order,
    additionalProperties: false,
    $defs: { A: refOrNull("p", "#/$defs/B", { deep: inline(8) }), B: refOrNull("q", "#/$defs/A") }
  })
  for (const order of [["x", "y"], ["y", "x"]] as const) {
    it.live(`11 levels of objects through mutually recursive $refs (fields ${order.join(", ")}) are sent non-strict`, () =>
      Effect.gen(function*() {
        const answer = { x: { p: null, deep: nestedAnswer(8) }, y: { q: null } }
        const { format, outcomes, value } = yield* answered(
          JSON.stringify(answer),
          (llm) => llm.generateStructured(ask, mutual(order))
        )
        assert.isFalse(format.strict)
        assert.deepStrictEqual(outcomes, firstTry)
        assert.deepStrictEqual(value, answer)
      }))
  }
  // a loop cut above a definition is walked again from each path: definitions each naming all the others have too many
  const names = Array.from({ length: 12 }, (_, i) => `D${i}`)
  /** A root whose field `d` names D0, of definitions D0 to D11 each `definition`. */
  const allLinked = (definition: object) => ({
    ...refOrNull("d", "#/$defs/D0"),
    $defs: Object.fromEntries(names.map((name) => [name, definition]))
  })
  it.live("12 object definitions each naming all the others are sent non-strict, without walking every path", () =>
    Effect.gen(function*() {
      const schema = allLinked({
        type: "object",
        properties: Object.fromEntries(
          names.map((name) => [name, { anyOf: [{ $ref: `#/$defs/${name}` }, { type: "null" }] }])
        ),
        required: names,
        additionalProperties: false
      })
      const answer = { d: Object.fromEntries(names.map((name) => [name, null])) }
      const { format, outcomes, value } = yield* answered(
        JSON.stringify(answer),
        (llm) => llm.generateStructured(ask, schema)
      )
      assert.isFalse(format.strict)
      assert.deepStrictEqual(outcomes, firstTry)
      assert.deepStrictEqual(value, answer)
    }))
  it.live("12 array definitions, each of all the others or strings, are sent, without walking every path", () =>
    Effect.gen(function*() {
      const schema = allLinked({
        type: "array",
        items: { anyOf: [...names.map((name) => ({ $ref: `#/$defs/${name}` })), { type: "string" }] }
      })
      const { outcomes, value } = yield* answered(`{"d":[["x"]]}`, (llm) => llm.generateStructured(ask, schema))
      assert.deepStrictEqual(outcomes, firstTry)
      assert.deepStrictEqual(value, { d: [["x"]] })
    }))
  for (const [name, schema, answer, strict] of limits) {
    it.live(`a schema of ${name} is sent ${strict ? "strict" : "non-strict"}`, () =>
      Effect.gen(function*() {
        const { format, outcomes } = yield* answered(
          JSON.stringify(answer),
          (llm) => llm.generateStructured(ask, schema)
        )
        assert.strictEqual(format.strict, strict)
        assert.deepStrictEqual(outcomes, firstTry)
      }))
  }
})
