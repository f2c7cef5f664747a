/**
 * The reference-loop check of a raw JSON Schema (`internal/refLoop.ts`, run
 * by `StructuredOutput.fromJsonSchema` after `internal/jsonDepth.ts` and
 * before Ajv compiles the schema) on large ones: the gateway takes schemas
 * from its clients, and the check runs on the event loop. V8 hashes a string
 * over 16,383 characters by its length alone, so a map keyed by strings
 * built from a client's long `$id` or key made the check quadratic (a
 * 0.5 MB schema took minutes, or ran out of heap). Correctness only, no
 * timing: each shape is refused by length before any walk, or checked (and
 * a loop in it found) with names as long as allowed. The manager's path is
 * in `StructuredOutput.manager.test.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as RefLoop from "../src/internal/refLoop.ts"
import * as StructuredOutput from "../src/StructuredOutput.ts"
import type { JsonSchema } from "../src/StructuredOutput.ts"

/** The refusal `fromJsonSchema` gives a client's schema (or the program's), or `"accepted"`. */
const verdict = (schema: JsonSchema, untrusted = true) =>
  StructuredOutput.fromJsonSchema(schema, { untrusted }).pipe(
    Effect.match({ onFailure: (error) => `${error.field}: ${error.message}`, onSuccess: () => "accepted" })
  )

const many = <A>(n: number, f: (i: number) => A): Array<A> => Array.from({ length: n }, (_, i) => f(i))

/** A 400 kB `$id`, past what V8 hashes by content. */
const longBase = `https://e.example/${"a".repeat(400_000)}`

describe("StructuredOutput.fromJsonSchema with a name longer than 4,096 characters", () => {
  const refused: ReadonlyArray<readonly [string, JsonSchema, string]> = [
    ["anchor references under a 400 kB $id", {
      $id: longBase,
      $defs: { x: { $anchor: "x", type: "string" } },
      prefixItems: many(2_000, () => ({ $ref: "#x" }))
    }, "/$id: $id of 400018 characters"],
    ["distinct $anchors under a 400 kB $id", {
      $id: longBase,
      prefixItems: many(2_000, (i) => ({ $anchor: `a${i}` }))
    }, "/$id: $id of 400018 characters"],
    ["$dynamicAnchors under a 400 kB $id", {
      $id: longBase,
      prefixItems: many(2_000, () => ({ $dynamicAnchor: "a" }))
    }, "/$id: $id of 400018 characters"],
    ["subschemas under a 400 kB property name", {
      properties: { ["k".repeat(400_000)]: { prefixItems: many(1_000, () => ({})) } }
    }, "/properties: a key of 400000 characters"],
    ["a 5,000-character $ref", { $ref: `#/${"r".repeat(5_000)}` }, "/$ref: $ref of 5002 characters"],
    [
      "a 5,000-character $dynamicAnchor",
      { $dynamicAnchor: "d".repeat(5_000) },
      "/$dynamicAnchor: $dynamicAnchor of 5000 characters"
    ],
    ["$ids whose URI grows past 4,096 characters", {
      $id: `https://e.example/${"b".repeat(3_000)}/`,
      items: { $id: `${"c".repeat(3_000)}/` }
    }, "an $id resolves to a URI of 6020 characters"]
  ]
  for (const [shape, schema, message] of refused) {
    it.effect(`refuses ${shape}`, () =>
      Effect.gen(function*() {
        assert.include(yield* verdict(schema), `schema: ${message} (at most 4096)`)
      }))
  }
})

describe("StructuredOutput.fromJsonSchema with names of some 4,000 characters", () => {
  const base = `https://e.example/${"a".repeat(4_000)}`
  const key = (i: number) => String(i).padStart(4_000, "k")
  const accepted: ReadonlyArray<readonly [string, JsonSchema]> = [
    ["2,000 anchor references under a 4 kB $id", {
      $id: base,
      $defs: { x: { $anchor: "x", type: "string" } },
      prefixItems: many(2_000, () => ({ $ref: "#x" }))
    }],
    ["500 relative references under a 4 kB $id", {
      $id: base,
      $defs: many(500, (i) => ({ $id: `r${i}`, type: "string" })).reduce((all, d, i) => ({ ...all, [i]: d }), {}),
      prefixItems: many(500, (i) => ({ $ref: `r${i}` }))
    }],
    ["200 definitions of 4 kB names, each referenced 10 times", {
      $defs: Object.fromEntries(many(200, (i) => [key(i), { type: "string" }])),
      prefixItems: many(2_000, (i) => ({ $ref: `#/$defs/${key(i % 200)}` }))
    }],
    ["a tree of 2,000 dynamic references and holders (resources of their own)", {
      $id: "https://e.example/tree",
      $dynamicAnchor: "n",
      type: "object",
      properties: { c: { prefixItems: many(2_000, () => ({ $dynamicRef: "#n" })) } },
      $defs: Object.fromEntries(many(2_000, (i) => [`d${i}`, { $id: `d${i}`, $dynamicAnchor: "n" }]))
    }]
  ]
  // as the program's schemas: most are over the size a client's may have (maxUntrustedJsonSchemaChars)
  for (const [shape, schema] of accepted) {
    it.effect(`accepts ${shape}`, () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* verdict(schema, false), "accepted")
      }))
  }

  it("finds a loop through definitions of 4 kB names under a 4 kB $id", () => {
    const $defs = Object.fromEntries(
      many(200, (i) => [key(i), { anyOf: [{ $ref: `#/$defs/${key((i + 1) % 200)}` }, { type: "string" }] }])
    )
    const message = RefLoop.issue({ $id: base, $defs, $ref: `#/$defs/${key(0)}` }, true) ?? ""
    assert.include(message, `a $ref loop that reads no input: #/$defs/${key(0)} -> #/$defs/${key(1)} -> `)
    assert.include(message, `(194 more) -> #/$defs/${key(0)} checks`)
  })
})

describe("the reference-loop check on a wide schema", () => {
  it("sizes what Ajv compiles for 200,000 $refs down a chain of schemas of only a $ref once each, the last", () => {
    const chain = Object.fromEntries(many(200_000, (i) => [`d${i}`, { $ref: `#/$defs/d${i + 1}` }]))
    const schema = { $defs: { ...chain, d200000: { type: "string" } }, $ref: "#/$defs/d0" }
    // about 20 characters a $ref: the last schema's, `{"type":"string"}`, not the sum of the chain's
    assert.match(
      RefLoop.issue(schema, true, { maxChars: 0, isRule: (keyword) => keyword === "type", isKnown: () => false }) ?? "",
      /compile about 3\d{6} characters/
    )
  }, 60_000)

  it("walks 200,000 subschemas of one keyword without overflowing the stack", () => {
    assert.isUndefined(RefLoop.issue({ prefixItems: many(200_000, () => ({})) }, true))
    assert.isUndefined(RefLoop.issue({ allOf: many(200_000, () => ({ type: "string" })) }, true))
    const $defs = Object.fromEntries(many(200_000, (i) => [`d${i}`, { $ref: `#/$defs/d${i + 1}` }]))
    assert.include(
      RefLoop.issue({ $defs: { ...$defs, d200000: { $ref: "#/$defs/d0" } }, $ref: "#/$defs/d0" }, true),
      "a $ref loop"
    )
    // 6.8 s and 9.7 s under load, past vitest's default 5 s
  }, 60_000)
})

describe("a client's generic schema in one document", () => {
  // the 2020-12 release notes' generic list, its `list` resource in `$defs` keeping its default in its own `$defs`
  const genericList: JsonSchema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://example.com/schemas/string-list",
    $ref: "list",
    $defs: {
      stringItem: { $dynamicAnchor: "T", type: "string" },
      list: {
        $id: "list",
        type: "array",
        items: { $dynamicRef: "#T" },
        $defs: { content: { $dynamicAnchor: "T", not: true } }
      }
    }
  }

  it.effect("is refused for its default's anchor, a definition Ajv sets only once a $ref calls it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(StructuredOutput.fromJsonSchema(genericList, { untrusted: true }))
      assert.include(error.message, "#/$defs/list/$defs/content: a $dynamicAnchor in the resource")
      assert.include(error.message, "a definition inside another resource is refused too")
    }))
})
