import { assert, describe, it } from "@effect/vitest"
import * as StrictSchema from "../src/internal/strictSchema.ts"

const schema = {
  type: "object",
  properties: {
    title: { type: "string", minLength: 3 },
    note: { type: ["string", "null"] },
    tags: { type: "array", items: { $ref: "#/$defs/Tag" }, uniqueItems: true },
    kind: { oneOf: [{ const: "a" }, { const: "b" }] }
  },
  required: ["title", "kind"],
  $defs: {
    Tag: { type: "object", properties: { label: { type: "string" }, weight: { type: "integer" } }, required: ["label"] }
  }
}

describe("strictSchema", () => {
  it("makes every property required, optional ones nullable, objects closed, oneOf anyOf, and drops unsupported keywords", () => {
    assert.deepStrictEqual(StrictSchema.toStrict(schema), {
      type: "object",
      properties: {
        title: { type: "string" },
        note: { type: ["string", "null"] },
        tags: { anyOf: [{ type: "array", items: { $ref: "#/$defs/Tag" } }, { type: "null" }] },
        kind: { anyOf: [{ const: "a" }, { const: "b" }] }
      },
      required: ["title", "note", "tags", "kind"],
      additionalProperties: false,
      $defs: {
        Tag: {
          type: "object",
          properties: { label: { type: "string" }, weight: { anyOf: [{ type: "integer" }, { type: "null" }] } },
          required: ["label", "weight"],
          additionalProperties: false
        }
      }
    })
  })

  it("has no strict form for a root that is not an object", () => {
    assert.isUndefined(StrictSchema.toStrict({ type: "array", items: { type: "string" } }))
    assert.isUndefined(StrictSchema.toStrict({ anyOf: [{ type: "object" }, { type: "string" }] }))
  })

  it("drops nulls of optional properties, through arrays and $refs, keeping nullable ones", () => {
    const answer = { title: "t", note: null, tags: [{ label: "x", weight: null }], kind: "a" }
    assert.deepStrictEqual(StrictSchema.dropOptionalNulls(answer, schema), {
      title: "t",
      note: null,
      tags: [{ label: "x" }],
      kind: "a"
    })
    assert.deepStrictEqual(StrictSchema.dropOptionalNulls({ title: "t", tags: null, kind: "b" }, schema), {
      title: "t",
      kind: "b"
    })
  })
})
