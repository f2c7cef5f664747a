/**
 * A raw JSON Schema through `LlmManager.generateStructured`, as a library
 * user passes one: the dialects the SDKs emit (draft-07 with `definitions`),
 * checked against the answer of a real adapter over the mock server.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as StructuredOutput from "../src/StructuredOutput.ts"
import type { JsonSchema } from "../src/StructuredOutput.ts"
import { Bench, firstIssue, inject, manager } from "./utils/chain.ts"

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

describe("LlmManager.generateStructured with an answer holding a property the schema lacks", () => {
  const Quiz = Schema.Struct({ question: Schema.String })
  const excess = JSON.stringify({ question: "q", answer: 42 })

  it.live("an Effect Schema drops it, without a re-ask, on a provider told the schema in the prompt alone", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      // DeepSeek's JSON mode takes no schema: a model there may add a key (an explanation) the schema lacks
      const llm = yield* manager({ chain: ["deepseek"], policy: { structuredOutputRetries: 1 } })
      yield* inject("deepseek", MockFault.content(excess))
      const result = yield* llm.generateStructured(prompt, Quiz)
      assert.deepStrictEqual(result.value, { question: "q" })
      assert.lengthOf(yield* server.received("deepseek"), 1)
    }).pipe(Effect.provide(Bench)))

  it.live("the same schema as raw JSON Schema (additionalProperties: false) re-asks it, then fails", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* manager({ chain: ["openai"], policy: { structuredOutputRetries: 1 } })
      yield* inject("openai", MockFault.content(excess), { times: 2 })
      const error = yield* Effect.flip(llm.generateStructured(prompt, StructuredOutput.fromSchema(Quiz).jsonSchema))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      const issue = firstIssue(error)
      assert.isString(issue)
      const requests = yield* server.received("openai")
      // the re-ask carries the model's answer and what is wrong with it
      assert.lengthOf(requests, 2)
      const reask = JSON.stringify((requests[1]?.body as { readonly messages: unknown }).messages)
      for (const text of [excess, String(issue)]) assert.include(reask, JSON.stringify(text).slice(1, -1))
    }).pipe(Effect.provide(Bench)))
})

const draft2019 = "https://json-schema.org/draft/2019-09/schema"

/** 2020-12's extensible tree, extended by a root of its own: a holder of the anchor, and one in its `$defs`. */
const strictTree = {
  $id: "https://example.com/strict-tree",
  $dynamicAnchor: "node",
  $ref: "tree",
  unevaluatedProperties: false,
  $defs: {
    tree: {
      $id: "tree",
      $dynamicAnchor: "node",
      type: "object",
      properties: { data: true, children: { type: "array", items: { $dynamicRef: "#node" } } }
    }
  }
}

/** The extensible tree of 2020-12 and 2019-09: each `$dynamicRef` / `$recursiveRef` is under `items`. */
const trees = {
  "the tree whose root holds the $dynamicAnchor": {
    $dynamicAnchor: "node",
    type: "object",
    properties: { data: true, children: { type: "array", items: { $dynamicRef: "#node" } } }
  },
  "the tree extended by a root of its own (2020-12)": strictTree,
  "the extended tree bundled under a root without anchor, the tree in the strict tree's $defs (2020-12)": {
    $ref: "https://example.com/strict-tree",
    $defs: { strictTree: strictTree }
  },
  "the $recursiveRef tree (2019-09)": {
    $schema: draft2019,
    $recursiveAnchor: true,
    type: "object",
    properties: { data: true, children: { type: "array", items: { $recursiveRef: "#" } } }
  },
  "the $recursiveRef tree extended by a root of its own (2019-09)": {
    $schema: draft2019,
    $id: "https://example.com/strict-tree",
    $recursiveAnchor: true,
    $ref: "tree",
    unevaluatedProperties: false,
    $defs: {
      tree: {
        $id: "tree",
        $recursiveAnchor: true,
        type: "object",
        properties: { data: true, children: { type: "array", items: { $recursiveRef: "#" } } }
      }
    }
  }
}

/** A tree whose root holds `anchor`, each child a definition that is only `child`. */
const aliasTree = (anchor: JsonSchema, child: JsonSchema): JsonSchema => ({
  ...anchor,
  type: "object",
  properties: { children: { type: "array", items: { $ref: "#/$defs/child" } } },
  $defs: { child }
})

/**
 * Recursive schemas whose `$dynamicRef` / `$recursiveRef` reads a part of the value each turn, with an
 * answer and a value they refuse. The root (or the schema its `$ref` names) sets its anchor before any
 * other call, so a reference by that name, even one checking the same value as a definition, reaches it.
 */
const recursive: ReadonlyArray<readonly [string, JsonSchema, unknown, unknown]> = [
  ...Object.entries(trees).map(([shape, schema]) =>
    [
      shape,
      schema,
      { data: 1, children: [{ data: 2, children: [{ data: 3, children: [] }] }] },
      { children: [{ children: [1] }] }
    ] as const
  ),
  [
    "a linked list whose next is a definition, null or the root's $dynamicRef",
    {
      $dynamicAnchor: "node",
      type: "object",
      properties: { value: { type: "integer" }, next: { $ref: "#/$defs/maybe" } },
      $defs: { maybe: { anyOf: [{ $dynamicRef: "#node" }, { type: "null" }] } }
    },
    { value: 1, next: { value: 2, next: null } },
    { value: 1, next: { next: 3 } }
  ],
  [
    "a tree whose child is a definition holding only the root's $dynamicRef",
    aliasTree({ $dynamicAnchor: "node" }, { $dynamicRef: "#node" }),
    { children: [{ children: [] }] },
    { children: [1] }
  ],
  [
    "a tree whose child is a definition holding only $recursiveRef (2019-09)",
    aliasTree({ $schema: draft2019, $recursiveAnchor: true }, { $recursiveRef: "#" }),
    { children: [{ children: [] }] },
    { children: [1] }
  ],
  [
    "a tree the root's $ref names, holding the anchor, its kid a string or a $dynamicRef",
    {
      $ref: "#/$defs/node",
      $defs: {
        node: {
          $dynamicAnchor: "node",
          type: "object",
          properties: { kids: { type: "array", items: { $ref: "#/$defs/kid" } } }
        },
        kid: { oneOf: [{ $dynamicRef: "#node" }, { type: "string" }] }
      }
    },
    { kids: ["a", { kids: [] }] },
    { kids: [1] }
  ]
]

describe("LlmManager.generateStructured with a recursive $dynamicRef or $recursiveRef schema", () => {
  for (const [shape, schema, answer, refused] of recursive) {
    it.live(`answers ${shape}, decoded`, () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        yield* server.inject("openai", MockFault.content(JSON.stringify(answer)))
        const llm = yield* manager({ chain: ["openai"] })
        const result = yield* llm.generateStructured(prompt, schema)
        assert.deepStrictEqual(result.value, answer)
        // and checked, down the tree, as the program's schema and as a client's (its anchors held where generic
        // schemas hold them: at the root and in definitions)
        for (const untrusted of [false, true]) {
          const output = yield* StructuredOutput.fromJsonSchema(schema, { untrusted })
          assert.isTrue(Result.isSuccess(output.decode(JSON.stringify(answer))))
          assert.isTrue(Result.isFailure(output.decode(JSON.stringify(refused))))
        }
      }).pipe(Effect.provide(Bench)))
  }
})

describe("LlmManager.generateStructured with a reference loop that reads no input", () => {
  /**
   * Each checks the same value against the same schema again, without end, and names the loop so.
   * Ajv calls a `$dynamicRef` / `$recursiveRef` the function it is compiled in when no schema
   * holding its anchor has been met (or none exists), and a holder met first when one has.
   */
  const looping: ReadonlyArray<readonly [string, JsonSchema, string]> = [
    ["a $ref loop", {
      $defs: {
        D0: { anyOf: [{ $ref: "#/$defs/D0" }, { $ref: "#/$defs/D1" }, { type: "string" }] },
        D1: { type: "integer" }
      },
      $ref: "#/$defs/D0"
    }, "#/$defs/D0 -> #/$defs/D0"],
    ["a $ref loop under a keyword Ajv does not know", {
      $ref: "#/x",
      x: { anyOf: [{ $ref: "#/x" }, { type: "string" }] }
    }, "#/x -> #/x"],
    ["a $ref loop in const", { $ref: "#/const", const: { allOf: [{ $ref: "#/const" }] } }, "#/const -> #/const"],
    ["a $ref loop in a definition's default", {
      $defs: { a: { default: { anyOf: [{ $ref: "#/$defs/a/default" }] } } },
      $ref: "#/$defs/a/default"
    }, "#/$defs/a/default -> #/$defs/a/default"],
    ["a $dynamicRef loop in a holder under a keyword Ajv does not know", {
      $ref: "#/x",
      x: { $dynamicAnchor: "n", anyOf: [{ $dynamicRef: "#n" }, { type: "string" }] }
    }, "#/x -> #/x"],
    ["a $dynamicRef to an anchor nowhere in the document", {
      anyOf: [{ $dynamicRef: "#x" }, { type: "string" }]
    }, "# -> #"],
    ["a $dynamicRef by JSON Pointer, which Ajv reads as an anchor", {
      $defs: { x: { type: "string" } },
      anyOf: [{ $dynamicRef: "#/$defs/x" }, { type: "null" }]
    }, "# -> #"],
    ["a $dynamicRef to a root holding its anchor, from another resource", {
      $id: "https://example.com/root",
      $dynamicAnchor: "node",
      $ref: "inner",
      $defs: { inner: { $id: "inner", anyOf: [{ $dynamicRef: "#node" }, { type: "string" }] } }
    }, "# -> #/$defs/inner -> #"],
    ["a $dynamicRef in a definition under properties, its anchor only in an unused definition", {
      properties: { a: { $ref: "#/$defs/D" } },
      $defs: {
        D: { anyOf: [{ $dynamicRef: "#T" }, { type: "string" }] },
        T: { $dynamicAnchor: "T", type: "integer" }
      }
    }, "#/$defs/D -> #/$defs/D"],
    ["a $recursiveRef in a definition under properties, no $recursiveAnchor (2019-09)", {
      $schema: draft2019,
      properties: { a: { $ref: "#/$defs/D" } },
      $defs: { D: { anyOf: [{ $recursiveRef: "#" }, { type: "string" }] } }
    }, "#/$defs/D -> #/$defs/D"]
  ]

  for (const [shape, schema, loop] of looping) {
    it.live(`refuses ${shape} before any call, naming it (not a stack overflow after one)`, () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        const llm = yield* manager({ chain: ["openai"] })
        const error = yield* Effect.flip(llm.generateStructured(prompt, schema))
        assert.deepStrictEqual([error._tag, error._tag === "InvalidOptions" ? error.field : ""], [
          "InvalidOptions",
          "schema"
        ])
        assert.include(error.message, `a $ref loop that reads no input: ${loop} checks`)
        assert.lengthOf(yield* server.received("openai"), 0)
      }).pipe(Effect.provide(Bench)))
  }
})

describe("LlmManager.generateStructured with an answer nested too deep to check", () => {
  const nested = { type: "array", items: { $ref: "#" } }
  const deep = (levels: number) => "[".repeat(levels) + "]".repeat(levels)
  const tooDeep = `the answer nests more than ${StructuredOutput.maxAnswerDepth} levels of arrays and objects`

  // OpenAI's answer is walked first by the strict-mode rewrite (`dropOptionalNulls`), which recurses too:
  // 2,000 levels overflowed it, not Ajv; 20,000 (40 kB) both
  for (const kind of ["anthropic", "openai"] as const) {
    for (const levels of [2_000, 20_000]) {
      it.live(`fails ${levels} levels as an answer that does not match the schema, not as a defect (${kind})`, () =>
        Effect.gen(function*() {
          const server = yield* MockProviderServer.MockProviderServer
          yield* server.inject(kind, MockFault.content(deep(levels)))
          const llm = yield* manager({ chain: [kind], policy: { structuredOutputRetries: 0 } })
          const error = yield* Effect.flip(
            llm.generateStructured({ ...prompt, options: { maxTokens: 20_000 } }, nested)
          )
          assert.deepStrictEqual(firstIssue(error), tooDeep)
        }).pipe(Effect.provide(Bench)))
    }
  }

  it.live("decodes an answer nested just at the bound, and refuses one more", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      yield* server.inject("anthropic", MockFault.content(deep(StructuredOutput.maxAnswerDepth)))
      yield* server.inject("anthropic", MockFault.content(deep(StructuredOutput.maxAnswerDepth + 1)))
      const llm = yield* manager({ chain: ["anthropic"], policy: { structuredOutputRetries: 0 } })
      const result = yield* llm.generateStructured(prompt, nested)
      assert.strictEqual(JSON.stringify(result.value), deep(StructuredOutput.maxAnswerDepth))
      assert.deepStrictEqual(firstIssue(yield* Effect.flip(llm.generateStructured(prompt, nested))), tooDeep)
    }).pipe(Effect.provide(Bench)))

  it.live("keeps a stack overflow on an answer within the bound a defect, not the model's fault", () =>
    Effect.gen(function*() {
      // each level of the answer goes through 120 references: Ajv, as Baton compiles it, overflows 39 levels down (390 with twelve)
      const $defs = Object.fromEntries(
        Array.from({ length: 120 }, (_, i) => [
          `a${i}`,
          i < 119 ? { allOf: [{ $ref: `#/$defs/a${i + 1}` }] } : { type: "array", items: { $ref: "#/$defs/a0" } }
        ])
      )
      const server = yield* MockProviderServer.MockProviderServer
      yield* server.inject("anthropic", MockFault.content(deep(StructuredOutput.maxAnswerDepth)))
      const llm = yield* manager({ chain: ["anthropic"], policy: { structuredOutputRetries: 0 } })
      const error = yield* Effect.flip(llm.generateStructured(prompt, { $ref: "#/$defs/a0", $defs }))
      const defect = firstIssue(error)
      assert.deepStrictEqual(
        typeof defect === "object" ? [defect._tag, defect.message] : defect,
        ["Defect", "bug in the anthropic adapter: Maximum call stack size exceeded"]
      )
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager.generateStructured with a client's schema whose validator throws", () => {
  /**
   * Found by fuzzing: Ajv's code for it sets a property of `undefined` on `{"a":"x","b":[1]}`, as for
   * `{ anyOf: [{}, { additionalProperties: { type: "string" } }], patternProperties: { "^a": {} } }`.
   */
  const throwing: JsonSchema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    if: {
      type: "object",
      anyOf: [
        { $ref: "#/$defs/D3" },
        { if: false, then: { type: "string" } },
        { additionalProperties: { type: "string" }, properties: {} }
      ],
      patternProperties: { "^a": { type: "string" } }
    },
    then: true,
    else: { type: "null" },
    unevaluatedProperties: false,
    additionalProperties: {
      unevaluatedProperties: {
        items: false,
        dependentSchemas: { kind: { type: "integer" } },
        contains: { $ref: "#/$defs/D3" }
      },
      unevaluatedItems: { prefixItems: [false, { $ref: "#/$defs/D4" }] }
    },
    $defs: {
      D3: {
        prefixItems: [{ items: { minProperties: 0 }, minProperties: 0 }, {
          allOf: [{ minProperties: 0 }],
          type: ["object", "array"]
        }],
        contains: { properties: { c: { const: "a" } }, allOf: [{ type: "integer" }] }
      },
      D4: {
        minProperties: 0,
        if: { type: "integer", oneOf: [true] },
        then: { contains: false, prefixItems: [{ type: "string" }, { minProperties: 0 }] },
        else: {
          unevaluatedProperties: false,
          if: { minProperties: 0 },
          then: { type: "null" },
          else: { minProperties: 0 }
        }
      }
    }
  }

  const minimal: JsonSchema = {
    anyOf: [{}, { additionalProperties: { type: "string" } }],
    patternProperties: { "^a": {} }
  }

  for (const [shape, schema] of [["the fuzzed schema", throwing], ["its core", minimal]] as const) {
    it.live(`fails the answer as not matching the schema, not as a defect (${shape})`, () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        yield* server.inject("anthropic", MockFault.content("{\"a\":\"x\",\"b\":[1]}"))
        const llm = yield* manager({ chain: ["anthropic"], policy: { structuredOutputRetries: 0 } })
        const output = yield* StructuredOutput.fromJsonSchema(schema, { untrusted: true })
        const issue = firstIssue(yield* Effect.flip(llm.generateStructured(prompt, output)))
        // a defect before: "bug in the anthropic adapter: Cannot set properties of undefined (setting 'a')"
        assert.include(
          typeof issue === "string" ? issue : `${issue?._tag}: ${issue?.message}`,
          "the schema's validator failed: Cannot set properties of undefined"
        )
      }).pipe(Effect.provide(Bench)))
  }
})

describe("LlmManager.generateStructured with a client's schema whose references nest too deep to check", () => {
  /** 80 `$ref`s a level of `[[…]]` (the `type` beside each keeps Ajv from collapsing the chain): 3,399 characters. */
  const chained = (refs: number): JsonSchema => {
    const defs: Record<string, JsonSchema> = {}
    for (let i = 0; i < refs; i++) defs[i] = { $ref: `#/$defs/${i + 1}`, type: "array" }
    defs[refs] = { items: { $ref: "#" } }
    return { $defs: defs, $ref: "#/$defs/0" }
  }
  const answer = "[".repeat(StructuredOutput.maxAnswerDepth - 1) + "]".repeat(StructuredOutput.maxAnswerDepth - 1)

  it.live("fails the answer as not matching the schema, and the provider's circuit counts no failure", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      yield* server.inject("anthropic", MockFault.content(answer))
      const llm = yield* manager({
        chain: ["anthropic"],
        policy: { structuredOutputRetries: 0 },
        circuit: { failureThreshold: 1, cooldownMs: 60_000 }
      })
      const output = yield* StructuredOutput.fromJsonSchema(chained(80), { untrusted: true })
      const error = yield* Effect.flip(llm.generateStructured(prompt, output))
      const issue = firstIssue(error)
      // a defect before: "bug in the anthropic adapter: Maximum call stack size exceeded"
      assert.include(
        typeof issue === "string" ? issue : `${issue?._tag}: ${issue?.message}`,
        "the schema's references nest too deep to check this answer"
      )
      yield* server.inject("anthropic", MockFault.content("[]"))
      const next = yield* llm.generateStructured(prompt, output)
      assert.deepStrictEqual(next.value, [])
    }).pipe(Effect.provide(Bench)))
})
