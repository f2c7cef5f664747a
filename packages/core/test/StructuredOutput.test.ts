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

/** What the OpenAI SDK's `zodResponseFormat` sends for a recursive zod object: draft-07, `definitions`, `$ref`. */
const draft07Tree = {
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object",
  properties: { root: { $ref: "#/definitions/__schema0" } },
  required: ["root"],
  additionalProperties: false,
  definitions: {
    __schema0: {
      type: "object",
      properties: { name: { type: "string" }, children: { type: "array", items: { $ref: "#/definitions/__schema0" } } },
      required: ["name", "children"],
      additionalProperties: false
    }
  }
}

const many = <A>(n: number, f: (i: number) => A): Array<A> => Array.from({ length: n }, (_, i) => f(i))

const failure = (result: Result.Result<unknown, string>): string => Result.isFailure(result) ? result.failure : ""

describe("StructuredOutput.fromJsonSchema: dialects", () => {
  const dialects = [
    "http://json-schema.org/draft-07/schema#",
    "http://json-schema.org/draft-07/schema",
    "https://json-schema.org/draft/2019-09/schema",
    "https://json-schema.org/draft/2020-12/schema"
  ]
  for (const dialect of dialects) {
    it.effect(`accepts $schema ${dialect}`, () =>
      Effect.gen(function*() {
        const output = yield* StructuredOutput.fromJsonSchema({
          $schema: dialect,
          type: "object",
          properties: { title: { type: "string" } },
          required: ["title"]
        })
        assert.deepStrictEqual(Result.getOrThrow(output.decode("{\"title\":\"Mars\"}")), { title: "Mars" })
        assert.include(failure(output.decode("{}")), "title")
      }))
  }

  it.effect("a draft-07 schema keeps its definitions and $ref", () =>
    Effect.gen(function*() {
      const output = yield* StructuredOutput.fromJsonSchema(draft07Tree)
      const tree = { root: { name: "a", children: [{ name: "b", children: [] }] } }
      assert.deepStrictEqual(Result.getOrThrow(output.decode(JSON.stringify(tree))), tree)
      const bad = output.decode(JSON.stringify({ root: { name: "a", children: [{ name: 1, children: [] }] } }))
      assert.include(failure(bad), "/root/children/0/name")
      // the schema sent to the provider is the caller's own
      assert.strictEqual(output.jsonSchema, draft07Tree)
    }))

  it.effect("a draft-07 array form of items is a tuple, as draft-07 says", () =>
    Effect.gen(function*() {
      const output = yield* StructuredOutput.fromJsonSchema({
        $schema: "http://json-schema.org/draft-07/schema#",
        type: "array",
        items: [{ type: "string" }, { type: "integer" }],
        additionalItems: false
      })
      assert.isTrue(Result.isSuccess(output.decode("[\"a\",1]")))
      assert.isTrue(Result.isFailure(output.decode("[\"a\",\"b\"]")))
      assert.isTrue(Result.isFailure(output.decode("[\"a\",1,2]")))
    }))

  it.effect("refuses a $schema it does not know, naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        StructuredOutput.fromJsonSchema({ $schema: "http://json-schema.org/draft-04/schema#", type: "string" })
      )
      assert.strictEqual(error.field, "schema")
      assert.include(error.message, "http://json-schema.org/draft-04/schema#")
    }))
})

describe("StructuredOutput.fromJsonSchema: compilation", () => {
  it.effect("compiles a schema once, whatever object carries it and in whatever key order", () =>
    Effect.gen(function*() {
      // a new object each time, as a gateway decodes one from each request body
      const schema = () => ({ type: "object", properties: { a: { type: "string" }, b: { type: "integer" } } })
      const first = yield* StructuredOutput.fromJsonSchema(schema())
      const again = yield* StructuredOutput.fromJsonSchema(schema())
      const reordered = yield* StructuredOutput.fromJsonSchema({
        properties: { b: { type: "integer" }, a: { type: "string" } },
        type: "object"
      })
      const other = yield* StructuredOutput.fromJsonSchema({ type: "object", properties: { a: { type: "number" } } })
      assert.strictEqual(again.decode, first.decode)
      assert.strictEqual(reordered.decode, first.decode)
      assert.notStrictEqual(other.decode, first.decode)
      // each keeps its own schema (and so its key order) for the provider
      assert.deepStrictEqual(Object.keys(reordered.jsonSchema), ["properties", "type"])
    }))

  it.effect("keeps the most recently used schemas only, and no schema too large", () =>
    Effect.gen(function*() {
      const schema = (i: number) => ({ type: "object", properties: { [`field${i}`]: { type: "string" } } })
      const decodeOf = (jsonSchema: StructuredOutput.JsonSchema) =>
        Effect.map(StructuredOutput.fromJsonSchema(jsonSchema), (output) => output.decode)
      const first = yield* decodeOf(schema(0))
      const kept = yield* decodeOf(schema(1))
      for (let i = 2; i <= StructuredOutput.maxCompiledJsonSchemas; i++) {
        yield* decodeOf(schema(i))
        if (i % 64 === 0) assert.strictEqual(yield* decodeOf(schema(1)), kept)
      }
      // as many other schemas since as the cache keeps: the first is compiled anew, the one in use is not
      assert.notStrictEqual(yield* decodeOf(schema(0)), first)
      assert.strictEqual(yield* decodeOf(schema(1)), kept)
      const large = () => ({ type: "string", description: "x".repeat(StructuredOutput.maxCompiledJsonSchemaChars / 8) })
      assert.notStrictEqual(yield* decodeOf(large()), yield* decodeOf(large()))
      assert.strictEqual(yield* decodeOf(schema(1)), kept)
    }))

  for (const untrusted of [false, true]) {
    it.effect(`checks contains in every item of a referenced array schema (untrusted: ${untrusted})`, () =>
      Effect.gen(function*() {
        // inlined where it is referenced, Ajv's contains (one match wanted) kept the first item's verdict for the next
        const output = yield* StructuredOutput.fromJsonSchema({
          type: "array",
          items: { $ref: "#/$defs/C" },
          $defs: { C: { type: "array", contains: { const: "b" } } }
        }, { untrusted })
        assert.isTrue(Result.isSuccess(output.decode("[[\"b\"],[\"a\",\"b\"]]")))
        assert.include(failure(output.decode("[[\"b\"],[]]")), "/1 must contain at least 1 valid item(s)")
      }))
  }

  it.effect("a schema that is not JSON is refused, not thrown", () =>
    Effect.gen(function*() {
      const cyclic: Record<string, unknown> = { type: "object" }
      cyclic["properties"] = { self: cyclic }
      const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(cyclic))
      assert.strictEqual(error.field, "schema")
    }))
})

describe("StructuredOutput.fromJsonSchema: a client's schema (untrusted)", () => {
  const withPattern = (pattern: string) => ({
    type: "object",
    properties: { word: { type: "string", pattern } },
    required: ["word"]
  })

  it.effect("runs its patterns: a safe one, and one that backtracks exponentially in a backtracking engine", () =>
    Effect.gen(function*() {
      const safe = yield* StructuredOutput.fromJsonSchema(withPattern("^[a-z]+$"), { untrusted: true })
      assert.isTrue(Result.isSuccess(safe.decode("{\"word\":\"paris\"}")))
      assert.include(failure(safe.decode("{\"word\":\"Paris\"}")), "/word")
      const nested = yield* StructuredOutput.fromJsonSchema(withPattern("^(a+)+$"), { untrusted: true })
      assert.isTrue(Result.isSuccess(nested.decode(JSON.stringify({ word: "a".repeat(5000) }))))
      // a backtracking engine takes 2^5000 steps to say no to this one
      assert.include(failure(nested.decode(JSON.stringify({ word: `${"a".repeat(5000)}!` }))), "/word")
    }))

  it.effect("an answer whose strings would take the patterns too long fails, saying so", () =>
    Effect.gen(function*() {
      // unanchored, up to 500 threads run at once: 500 steps a character
      const wide = yield* StructuredOutput.fromJsonSchema(withPattern("[a-z]{1,500}!"), { untrusted: true })
      assert.isTrue(Result.isSuccess(wide.decode("{\"word\":\"abc!\"}")))
      const long = JSON.stringify({ word: "a".repeat(2 * StructuredOutput.patternStepsPerAnswer / 500) })
      assert.include(failure(wide.decode(long)), "too long to check against the schema's patterns")
      // the budget is the answer's: the next one has its own
      assert.isTrue(Result.isSuccess(wide.decode("{\"word\":\"abc!\"}")))
    }))

  it.effect("runs patternProperties keys the same way", () =>
    Effect.gen(function*() {
      const output = yield* StructuredOutput.fromJsonSchema({
        type: "object",
        patternProperties: { "^(x+)+$": { type: "integer" } },
        additionalProperties: false
      }, { untrusted: true })
      assert.isTrue(Result.isSuccess(output.decode("{\"xxx\":1}")))
      assert.isTrue(Result.isFailure(output.decode(JSON.stringify({ [`${"x".repeat(5000)}!`]: 1 }))))
    }))

  const lookarounds: ReadonlyArray<readonly [string, string, string, string]> = [
    ["a lookahead", "^(?=.*\\d)[a-z\\d]+$", "paris75", "paris"],
    ["a lookbehind", "(?<!b)a", "paris", "bab"]
  ]
  for (const [what, pattern, pass, fail] of lookarounds) {
    it.effect(`runs ${what}: ${pattern}`, () =>
      Effect.gen(function*() {
        const output = yield* StructuredOutput.fromJsonSchema(withPattern(pattern), { untrusted: true })
        assert.isTrue(Result.isSuccess(output.decode(JSON.stringify({ word: pass }))))
        assert.include(failure(output.decode(JSON.stringify({ word: fail }))), "/word must match pattern")
      }))
  }

  const refused: ReadonlyArray<readonly [string, unknown, string]> = [
    ["a backreference", withPattern("^(a+)\\1$"), "/properties/word/pattern"],
    ["a named backreference", withPattern("^(?<w>a+)\\k<w>$"), "/properties/word/pattern"],
    ["an expanded repetition too large", withPattern("^(a{1000}){1000}$"), "/properties/word/pattern"],
    [
      "a patternProperties key with a backreference",
      { type: "object", patternProperties: { "^(a)\\1$": {} } },
      "/patternProperties/^(a)\\1$"
    ],
    ["a pattern in $defs", { $defs: { w: { pattern: "(a)\\1" } }, $ref: "#/$defs/w" }, "/$defs/w/pattern"]
  ]
  for (const [what, schema, where] of refused) {
    it.effect(`refuses ${what}, naming where it is`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          StructuredOutput.fromJsonSchema(schema as StructuredOutput.JsonSchema, { untrusted: true })
        )
        assert.strictEqual(error.field, "schema")
        assert.include(error.message, where)
      }))
  }

  /** An object schema whose `properties` nest `levels` objects deep. */
  const nested = (levels: number): StructuredOutput.JsonSchema => {
    let schema: StructuredOutput.JsonSchema = { type: "string" }
    for (let i = 0; i < levels; i++) schema = { type: "object", properties: { a: schema } }
    return schema
  }

  for (const untrusted of [true, false]) {
    it.effect(`refuses a schema nested over 100 levels before compiling it (untrusted: ${untrusted})`, () =>
      Effect.gen(function*() {
        // 300 schemas deep is 600 JSON levels: Ajv's compile takes seconds there, and overflows past 1,000
        for (const levels of [300, 10_000]) {
          const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(nested(levels), { untrusted }))
          assert.strictEqual(error.field, "schema")
          assert.include(error.message, "nested deeper than 100 levels")
        }
        // 49 schemas deep is 99 levels: compiled and run
        const output = yield* StructuredOutput.fromJsonSchema(nested(49), { untrusted })
        const answer = (leaf: unknown) =>
          JSON.stringify(Array.from({ length: 49 }).reduce((inner) => ({ a: inner }), leaf))
        assert.isTrue(Result.isSuccess(output.decode(answer("deep"))))
        assert.isTrue(Result.isFailure(output.decode(answer(42))))
      }))
  }

  /** An object of string properties whose JSON is `chars` characters long, and an answer it takes. */
  const sized = (chars: number) => {
    const names = Array.from({ length: Math.floor(chars / 40) }, (_, i) => `field${i}`)
    const bare = {
      type: "object",
      properties: Object.fromEntries(names.map((name) => [name, { type: "string" }])),
      required: names,
      description: ""
    }
    const schema = { ...bare, description: "x".repeat(chars - JSON.stringify(bare).length) }
    return { schema, answer: JSON.stringify(Object.fromEntries(names.map((name) => [name, "a"]))) }
  }

  it.effect("refuses a schema over maxUntrustedJsonSchemaChars before compiling it, saying its size", () =>
    Effect.gen(function*() {
      const max = StructuredOutput.maxUntrustedJsonSchemaChars
      const over = sized(max + 1)
      const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(over.schema, { untrusted: true }))
      assert.strictEqual(error.field, "schema")
      assert.include(error.message, `${max + 1} characters`)
      assert.include(error.message, `at most ${max} for a client's schema`)
      // the bound is a client's: the program's own schema of that size compiles
      const own = yield* StructuredOutput.fromJsonSchema(over.schema)
      assert.isTrue(Result.isSuccess(own.decode(over.answer)))
      const within = sized(max)
      const output = yield* StructuredOutput.fromJsonSchema(within.schema, { untrusted: true })
      assert.isTrue(Result.isSuccess(output.decode(within.answer)))
      assert.include(failure(output.decode("{}")), "must have required property")
    }))

  /** `levels` subschemas under `properties/x`, each holding a dynamic anchor: Ajv compiles each again, doubling a level. */
  const anchoredChain = (levels: number, anchor: (level: number) => StructuredOutput.JsonSchema) => {
    let schema: StructuredOutput.JsonSchema = { type: "string" }
    for (let level = levels - 1; level >= 0; level--) schema = { ...anchor(level), properties: { x: schema } }
    return schema
  }
  const anchorChains: ReadonlyArray<readonly [string, StructuredOutput.JsonSchema]> = [
    ["$dynamicAnchor", anchoredChain(16, (level) => ({ $dynamicAnchor: `a${level}` }))],
    ["$recursiveAnchor", {
      ...anchoredChain(16, (level) => ({ $id: `https://e.example/r${level}`, $recursiveAnchor: true })),
      $schema: "https://json-schema.org/draft/2019-09/schema"
    }]
  ]
  for (const [keyword, schema] of anchorChains) {
    it.effect(`refuses a ${keyword} below another one not at the root, naming where it is`, () =>
      Effect.gen(function*() {
        // 16 levels, 711 characters, took Ajv's compile 3.4 s
        const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(schema, { untrusted: true }))
        assert.strictEqual(error.field, "schema")
        assert.include(error.message, `#/properties/x/properties/x: a ${keyword} below another one at #/properties/x`)
      }))
  }

  /** `levels` levels of `items` below `$defs/c`, 1,000 string properties at the bottom, and `allOf` a `$ref` to each level. */
  const refsDownAChain = (levels: number, ref: (level: number) => string, at: (level: number) => object) => {
    let chain: StructuredOutput.JsonSchema = {
      type: "object",
      properties: Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`p${i}`, { type: "string" }]))
    }
    for (let level = levels - 1; level >= 0; level--) chain = { ...at(level), items: chain }
    return { $defs: { c: chain }, allOf: Array.from({ length: levels }, (_, level) => ({ $ref: ref(level) })) }
  }
  const compilingTooMuch: ReadonlyArray<readonly [string, StructuredOutput.JsonSchema]> = [
    // 28,708 characters, compiled in 10-15 s: Ajv compiles each $ref's target, the 1,000 properties in each
    ["an $anchor at each level", refsDownAChain(90, (level) => `#a${level}`, (level) => ({ $anchor: `a${level}` }))],
    ["JSON Pointers", refsDownAChain(40, (level) => `#/$defs/c${"/items".repeat(level)}`, () => ({}))]
  ]
  for (const [named, schema] of compilingTooMuch) {
    it.effect(`refuses $refs to each level of a chain, by ${named}, as compiling too much, before compiling it`, () =>
      Effect.gen(function*() {
        assert.isAtMost(JSON.stringify(schema).length, StructuredOutput.maxUntrustedJsonSchemaChars)
        const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(schema, { untrusted: true }))
        assert.strictEqual(error.field, "schema")
        assert.match(error.message, /its \$refs make Ajv compile about \d+ characters of schema/)
        assert.include(error.message, `at most ${StructuredOutput.maxUntrustedCompiledChars} for a client's schema`)
      }))
  }

  /**
   * `$ref`s to 100 schemas each a `$ref` to one of 100 properties beside a keyword the dialect's Ajv has no
   * rule for: Ajv compiles each as the one it names, once per URI (300 of them and 250 properties, 27,600
   * characters, took 2.6 s in 2020-12).
   */
  const refsBesideAnUnknownKeyword = (dialect: string, defs: string, keyword: string) => ({
    $schema: dialect,
    [defs]: {
      b: {
        type: "object",
        properties: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, { type: "string" }]))
      }
    },
    x: Array.from({ length: 100 }, () => ({ $ref: `#/${defs}/b`, [keyword]: 0 })),
    allOf: Array.from({ length: 100 }, (_, i) => ({ $ref: `#/x/${i}` }))
  })
  const besideUnknownKeywords: ReadonlyArray<readonly [string, StructuredOutput.JsonSchema]> = [
    [
      "additionalItems (2020-12)",
      refsBesideAnUnknownKeyword("https://json-schema.org/draft/2020-12/schema", "$defs", "additionalItems")
    ],
    [
      "prefixItems (2019-09)",
      refsBesideAnUnknownKeyword("https://json-schema.org/draft/2019-09/schema", "$defs", "prefixItems")
    ],
    [
      "maxContains (draft-07)",
      refsBesideAnUnknownKeyword("http://json-schema.org/draft-07/schema#", "definitions", "maxContains")
    ]
  ]
  for (const [keyword, schema] of besideUnknownKeywords) {
    it.effect(`refuses $refs each beside ${keyword}, which its dialect's Ajv compiles as the schema it names`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(schema, { untrusted: true }))
        assert.strictEqual(error.field, "schema")
        assert.match(error.message, /its \$refs make Ajv compile about \d+ characters of schema/)
      }))
  }

  it.effect("refuses a dynamic anchor's holder inside a resource of its own, not a definition at that resource's root", () =>
    Effect.gen(function*() {
      // Ajv compiles such a holder again with the root's base URI: its `#/$defs/b0` is the root's, not its
      // resource's (140 holders and 380 properties, 29,755 characters, took 1.8 s)
      const big = {
        type: "object",
        properties: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, { type: "string" }]))
      }
      const holders = Array.from({ length: 100 }, (_, i) => i)
      const schema = {
        $id: "https://baton.invalid/root.json",
        $defs: {
          big,
          ...Object.fromEntries(holders.map((i) => [`b${i}`, { $ref: "#/$defs/big" }])),
          R: {
            $id: "https://baton.invalid/r.json",
            $defs: Object.fromEntries(holders.map((i) => [`b${i}`, { type: "string" }])),
            properties: Object.fromEntries(
              holders.map((i) => [`h${i}`, { $dynamicAnchor: `a${i}`, $ref: `#/$defs/b${i}` }])
            )
          }
        },
        properties: { r: { $ref: "r.json" } }
      }
      const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(schema, { untrusted: true }))
      assert.strictEqual(error.field, "schema")
      assert.match(
        error.message,
        /#\/\$defs\/R\/properties\/h\d+: a \$dynamicAnchor in the resource https:\/\/baton\.invalid\/r\.json/
      )
    }))

  it.effect("refuses a dynamic anchor's holder at the root of a resource Ajv compiles inline, under properties", () =>
    Effect.gen(function*() {
      // each `r${i}` compiled again against the root's base URI, its `#/$defs/b${i}` the root's: 100 of them over
      // 300 properties, 27,035 characters, took 2.1 s; the same resources in `$defs`, each named by a `$ref`, 65 ms
      const holders = Array.from({ length: 100 }, (_, i) => i)
      const schema = {
        $id: "https://baton.invalid/root.json",
        $defs: {
          big: {
            type: "object",
            properties: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, { type: "string" }]))
          },
          ...Object.fromEntries(holders.map((i) => [`b${i}`, { $ref: "#/$defs/big" }]))
        },
        properties: Object.fromEntries(holders.map((i) => [`r${i}`, {
          $id: `https://baton.invalid/r${i}.json`,
          $dynamicAnchor: `a${i}`,
          $ref: `#/$defs/b${i}`,
          $defs: { [`b${i}`]: { type: "string" } }
        }]))
      }
      const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(schema, { untrusted: true }))
      assert.strictEqual(error.field, "schema")
      assert.match(
        error.message,
        /#\/properties\/r\d+: a \$dynamicAnchor in the resource https:\/\/baton\.invalid\/r\d+\.json/
      )
    }))

  const Question = Schema.Struct({ text: Schema.String, choices: Schema.Array(Schema.String), answer: Schema.Int })
  const Lesson = Schema.Struct({
    title: Schema.String,
    summary: Schema.optionalKey(Schema.String),
    level: Schema.Literals(["beginner", "intermediate", "advanced"]),
    sections: Schema.Array(Schema.Struct({ heading: Schema.String, body: Schema.String, quiz: Schema.Array(Question) }))
  })
  const lessons = Array.from({ length: 40 }, (_, i) => `lesson${i + 1}`)
  /** 40 lessons, each a copy of the lesson's tree (Effect's JSON Schema): some 30,000 characters. */
  const course = StructuredOutput.fromSchema(
    Schema.Struct(Object.fromEntries(lessons.map((lesson) => [lesson, Lesson])))
  ).jsonSchema
  const lesson = StructuredOutput.fromSchema(Lesson).jsonSchema
  const address = {
    type: "object",
    properties: {
      street: { type: "string" },
      city: { type: "string" },
      zip: { type: "string", pattern: "^[0-9]{5}$" }
    },
    required: ["street", "city", "zip"],
    additionalProperties: false
  }
  const realistic: ReadonlyArray<readonly [string, StructuredOutput.JsonSchema]> = [
    ["the 40-lesson course", course],
    ["pydantic's: each model a #/$defs/X", {
      $defs: {
        Address: address,
        Lesson: lesson,
        Person: { type: "object", properties: { name: { type: "string" }, home: { $ref: "#/$defs/Address" } } }
      },
      type: "object",
      properties: {
        people: { type: "array", items: { $ref: "#/$defs/Person" } },
        office: { $ref: "#/$defs/Address" },
        ...Object.fromEntries(lessons.map((name) => [name, { $ref: "#/$defs/Lesson" }]))
      }
    }],
    ["zodResponseFormat's draft-07: each a #/definitions/X", {
      $schema: "http://json-schema.org/draft-07/schema#",
      definitions: { Address: address, Lesson: lesson },
      type: "object",
      properties: {
        billing: { $ref: "#/definitions/Address" },
        shipping: { anyOf: [{ $ref: "#/definitions/Address" }, { type: "null" }] },
        ...Object.fromEntries(lessons.map((name) => [name, { $ref: "#/definitions/Lesson" }]))
      }
    }],
    ["zod-to-json-schema's $refStrategy root: a reused schema named by the path of its first use", {
      type: "object",
      properties: {
        customer: {
          type: "object",
          properties: { billing: address, shipping: { $ref: "#/properties/customer/properties/billing" } }
        },
        lesson1: lesson,
        ...Object.fromEntries(lessons.slice(1).map((name) => [name, { $ref: "#/properties/lesson1" }])),
        sectionsAgain: { $ref: "#/properties/lesson1/properties/sections" }
      }
    }],
    ["a tree recursive through #", {
      type: "object",
      properties: { name: { type: "string" }, children: { type: "array", items: { $ref: "#" } } }
    }]
  ]
  for (const [shape, schema] of realistic) {
    it.effect(`compiles ${shape}, within the bound of what Ajv compiles`, () =>
      Effect.gen(function*() {
        const output = yield* StructuredOutput.fromJsonSchema(schema, { untrusted: true })
        assert.isTrue(Result.isFailure(output.decode("[]")))
      }))
  }

  const metaSchemas = [
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2020-12/meta/core",
    "https://json-schema.org/draft/2019-09/schema"
  ]
  for (const uri of metaSchemas) {
    it.effect(`compiles a $ref to the meta-schema ${uri}, whose patterns are not in the client's schema`, () =>
      Effect.gen(function*() {
        const schema = uri.includes("2019-09")
          ? { $schema: "https://json-schema.org/draft/2019-09/schema", $ref: uri }
          : { $ref: uri }
        const output = yield* StructuredOutput.fromJsonSchema(schema, { untrusted: true })
        // the meta-schema's `$id` pattern, `^[^#]*#?$`, run on the linear matcher
        assert.isTrue(Result.isSuccess(output.decode("{\"$id\":\"https://e.example/a\"}")))
        assert.include(failure(output.decode("{\"$id\":\"a#b#c\"}")), "/$id must match pattern")
      }))
  }

  // Ajv's JSON Pointer keeps its base through these keys: the `$id` below is a property's name (300 × 500 properties: 3.8 s)
  for (const keyword of ["properties", "patternProperties", "definitions", "dependencies"]) {
    it.effect(`counts the schemas a $ref names through a map under ${keyword} holding the key $id`, () =>
      Effect.gen(function*() {
        const T = { type: "object", properties: Object.fromEntries(many(500, (i) => [`p${i}`, { maxLength: 5 }])) }
        const map = {
          $id: "https://o.example/",
          ...Object.fromEntries(many(300, (i) => [`${i}`, { $ref: "#/$defs/T" }]))
        }
        const schema = {
          $defs: { T },
          x: { [keyword]: map },
          prefixItems: many(300, (i) => ({ $ref: `#/x/${keyword}/${i}` }))
        }
        const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(schema, { untrusted: true }))
        assert.include(error.message, "its $refs make Ajv compile about")
      }))
  }

  const unresolved: ReadonlyArray<readonly [StructuredOutput.JsonSchema, string]> = [
    [{ properties: { a: { $ref: "#/$defs/none" } } }, "the $ref #/$defs/none at #/properties/a names no schema"],
    [{ $ref: "https://o.example/none" }, "the $ref https://o.example/none at # names no schema"],
    [
      { $defs: { T: { type: "string" }, R: { $id: "https://o.example/", $ref: "#/$defs/T" } }, $ref: "#/$defs/R" },
      "the $ref #/$defs/T at #/$defs/R names no schema"
    ]
  ]
  for (const [schema, message] of unresolved) {
    it.effect(`refuses a $ref naming no schema: ${JSON.stringify(schema)}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(schema, { untrusted: true }))
        assert.strictEqual(error._tag, "InvalidOptions")
        assert.include(error.message, message)
      }))
  }

  it.effect("checks the size bound before the walks and compiles it bounds: a $ref loop or a backreference", () =>
    Effect.gen(function*() {
      const over = sized(StructuredOutput.maxUntrustedJsonSchemaChars + 1)
      const alsoWrong: ReadonlyArray<StructuredOutput.JsonSchema> = [
        { ...over.schema, $defs: { D0: { anyOf: [{ $ref: "#/$defs/D0" }] } }, $ref: "#/$defs/D0" },
        { ...over.schema, properties: { ...over.schema.properties, word: { type: "string", pattern: "^(a+)\\1$" } } }
      ]
      for (const schema of alsoWrong) {
        const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(schema, { untrusted: true }))
        assert.include(error.message, `at most ${StructuredOutput.maxUntrustedJsonSchemaChars} for a client's schema`)
      }
    }))

  it.effect("the program's own schemas keep the full regex syntax", () =>
    Effect.gen(function*() {
      const output = yield* StructuredOutput.fromJsonSchema(withPattern("^(a+)-\\1$"))
      assert.isTrue(Result.isSuccess(output.decode("{\"word\":\"aa-aa\"}")))
      assert.isTrue(Result.isFailure(output.decode("{\"word\":\"aa-a\"}")))
    }))

  it.effect("a pattern that is not a regex is refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(withPattern("^(a$"), { untrusted: true }))
      assert.strictEqual(error.field, "schema")
      assert.include(error.message, "/properties/word/pattern")
    }))
})

describe("StructuredOutput.fromJsonSchema: a $ref loop", () => {
  /** `D0` checks the instance against `D0` again (and `D1`, which does too): no input read between. */
  const looping = {
    $defs: {
      D0: { anyOf: [{ $ref: "#/$defs/D0" }, { $ref: "#/$defs/D1" }, { type: "string" }] },
      D1: { allOf: [{ $ref: "#/$defs/D0" }] }
    },
    $ref: "#/$defs/D0"
  }
  /** A tree: each `$ref` back to the root is under `properties` or `items`, so it reads a smaller part. */
  const tree = {
    type: "object",
    properties: { label: { type: "string" }, children: { type: "array", items: { $ref: "#" } } },
    required: ["label"],
    additionalProperties: false
  }

  for (const untrusted of [true, false]) {
    it.effect(`refuses a loop that reads no input, naming it (untrusted: ${untrusted})`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(looping, { untrusted }))
        assert.strictEqual(error._tag, "InvalidOptions")
        assert.strictEqual(error.field, "schema")
        assert.include(error.message, "/$defs/D0")
        // the root itself, draft-07's definitions and the `not` / `if` keywords, an anchor, a URI with the $id
        for (
          const schema of [
            { oneOf: [{ $ref: "#" }, { type: "null" }] },
            { $defs: { D0: { $anchor: "d0", anyOf: [{ $ref: "#d0" }, { type: "string" }] } }, $ref: "#/$defs/D0" },
            {
              $id: "https://example.com/root.json",
              $defs: { D0: { $id: "d0.json", anyOf: [{ $ref: "https://example.com/d0.json" }, { type: "string" }] } },
              $ref: "d0.json"
            },
            {
              $schema: "http://json-schema.org/draft-07/schema#",
              definitions: { a: { not: { $ref: "#/definitions/b" } }, b: { if: { $ref: "#/definitions/a" } } },
              $ref: "#/definitions/a"
            }
          ]
        ) {
          const refused = yield* Effect.flip(StructuredOutput.fromJsonSchema(schema, { untrusted }))
          assert.include(refused.message, "$ref loop")
        }
      }))

    it.effect(`accepts a loop through properties or items, a recursive tree (untrusted: ${untrusted})`, () =>
      Effect.gen(function*() {
        const output = yield* StructuredOutput.fromJsonSchema(tree, { untrusted })
        const answer = { label: "a", children: [{ label: "b", children: [{ label: "c" }] }] }
        assert.isTrue(Result.isSuccess(output.decode(JSON.stringify(answer))))
        assert.isTrue(Result.isFailure(output.decode(JSON.stringify({ label: "a", children: [{}] }))))
        // the same definition used twice in one place is no loop
        const twice = { $defs: { s: { type: "string" } }, allOf: [{ $ref: "#/$defs/s" }, { $ref: "#/$defs/s" }] }
        yield* StructuredOutput.fromJsonSchema(twice, { untrusted })
      }))
  }
})
