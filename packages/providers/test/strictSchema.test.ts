import { assert, describe, it } from "@effect/vitest"
import * as StrictSchema from "../src/internal/strictSchema.ts"
import { withField } from "./utils/schemas.ts"

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
  it("rewrites a schema object once: every call with it gets the same strict form, or the same none", () => {
    assert.strictEqual(StrictSchema.toStrict(schema), StrictSchema.toStrict(schema))
    const open = { type: "object", additionalProperties: { type: "string" } }
    assert.isUndefined(StrictSchema.toStrict(open))
    assert.isUndefined(StrictSchema.toStrict(open))
  })

  it("rewrites a schema once for every object of the same JSON text (a gateway's, decoded from each request)", () => {
    const decoded = (): { readonly [key: string]: unknown } => structuredClone({ ...schema, title: "per request" })
    assert.strictEqual(StrictSchema.toStrict(decoded()), StrictSchema.toStrict(decoded()))
  })

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

  it("moves a $ref outside the definitions into them, whatever the definitions are named (default, enum)", () => {
    const home = {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
      additionalProperties: false
    }
    for (const name of ["Other", "default", "enum"]) {
      const strict = StrictSchema.toStrict({
        type: "object",
        properties: { home, d: { $ref: `#/$defs/${name}` } },
        required: ["home", "d"],
        additionalProperties: false,
        $defs: {
          [name]: {
            type: "object",
            properties: { x: { $ref: "#/properties/home" } },
            required: ["x"],
            additionalProperties: false
          }
        }
      }) as { $defs: Partial<Record<string, { properties: { x: { $ref: string } } }>> } | undefined
      assert.isDefined(strict, name)
      assert.match(strict.$defs[name]?.properties.x.$ref ?? "", /^#\/\$defs\//, name)
    }
  })

  it("has no strict form for a root that is not an object", () => {
    assert.isUndefined(StrictSchema.toStrict({ type: "array", items: { type: "string" } }))
    assert.isUndefined(StrictSchema.toStrict({ anyOf: [{ type: "object" }, { type: "string" }] }))
  })

  it("has no strict form for a schema with an open object anywhere", () => {
    const open = [
      withField({ type: "object", additionalProperties: { type: "number" } }),
      withField({ type: "object", additionalProperties: true }),
      withField({ type: "object" }),
      withField({ type: "object", patternProperties: { "^a": { type: "number" } }, additionalProperties: false }),
      withField({ type: "object", properties: {}, unevaluatedProperties: {} }),
      withField({ type: "array", items: { type: "object", additionalProperties: {} } }),
      withField({ anyOf: [{ type: "object", additionalProperties: { type: "string" } }, { type: "null" }] }),
      withField({ type: "object", properties: { a: {} }, allOf: [{ type: "object", properties: { b: {} } }] }),
      { ...withField({ $ref: "#/$defs/Scores" }), $defs: { Scores: { type: "object", additionalProperties: {} } } },
      { type: "object", properties: {}, additionalProperties: { type: "number" } }
    ]
    for (const schema of open) assert.isUndefined(StrictSchema.toStrict(schema), JSON.stringify(schema))
    assert.isDefined(StrictSchema.toStrict(withField({ type: "object", properties: {}, additionalProperties: false })))
  })

  it("has no strict form when its rewrite would break a strict rule", () => {
    const broken = [
      withField({ type: "array", prefixItems: [{ type: "string" }, { type: "integer" }] }),
      withField({ type: "array", prefixItems: [{ type: "string" }], items: { type: "integer" } }),
      withField({ type: "array", items: [{ type: "string" }] }),
      withField({}),
      withField(true),
      withField({ $ref: "#/$defs/Missing" }),
      withField({ allOf: [{ type: "string" }, { minLength: 1 }] })
    ]
    for (const schema of broken) assert.isUndefined(StrictSchema.toStrict(schema), JSON.stringify(schema))
    assert.deepStrictEqual(
      StrictSchema.toStrict(withField({ type: "array", prefixItems: [{ type: "string" }], items: { type: "string" } })),
      withField({ type: "array", items: { type: "string" } })
    )
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

  it("drops nulls of optional properties inside anyOf and oneOf, in the branch the answer follows", () => {
    const nested = {
      type: "object",
      properties: {
        a: { anyOf: [{ type: "object", properties: { b: { type: "string" } } }, { type: "null" }] },
        shapes: {
          type: "array",
          items: {
            oneOf: [
              { $ref: "#/$defs/Circle" },
              {
                type: "object",
                properties: {
                  kind: { const: "square" },
                  side: { type: "number" },
                  label: { type: ["string", "null"] }
                },
                required: ["kind"]
              }
            ]
          }
        }
      },
      required: ["a", "shapes"],
      $defs: {
        Circle: {
          type: "object",
          properties: { kind: { const: "circle" }, radius: { type: "number" }, label: { type: "string" } },
          required: ["kind"]
        }
      }
    }
    const answer = {
      a: { b: null },
      shapes: [{ kind: "circle", radius: null, label: null }, { kind: "square", side: null, label: null }]
    }
    assert.deepStrictEqual(StrictSchema.dropOptionalNulls(answer, nested), {
      a: {},
      shapes: [{ kind: "circle" }, { kind: "square", label: null }]
    })
    assert.deepStrictEqual(StrictSchema.dropOptionalNulls({ a: null, shapes: [] }, nested), { a: null, shapes: [] })
  })
})
