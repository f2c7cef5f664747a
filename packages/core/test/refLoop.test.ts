/**
 * The reference-loop check of a raw JSON Schema (`internal/refLoop.ts`, run
 * by `StructuredOutput.fromJsonSchema` before Ajv compiles the schema) on a
 * large one: the gateway takes schemas from its clients, and the check runs
 * on the event loop, so it must stay linear in the schema's size however many
 * dynamic anchors and references it holds (here 430 kB, 1,600 anchor holders
 * and 3,200 dynamic references: some 50 to 85 ms on the shared 2-core
 * machine, as the check took before it followed them to their holders).
 * Correctness only: the manager's path is in `StructuredOutput.manager.test.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as RefLoop from "../src/internal/refLoop.ts"
import type { JsonSchema } from "../src/StructuredOutput.ts"

/**
 * `n` definitions, each a resource holding one of 40 dynamic anchors,
 * applying its two children in a binary tree of them (`d0` the root, `d1`
 * and `d2` its children, …) to the same value (`allOf`), with a
 * `$dynamicRef` and a `$recursiveRef` under `properties` / `items`: an
 * answer is a tree of many kinds of node.
 */
const manyAnchors = (n: number) => {
  const $defs: Record<string, JsonSchema> = {}
  for (let i = 0; i < n; i++) {
    const children = [2 * i + 1, 2 * i + 2].filter((j) => j < n)
    $defs[`d${i}`] = {
      $id: `d${i}`,
      $dynamicAnchor: `a${i % 40}`,
      type: "object",
      ...(children.length === 0 ? {} : { allOf: children.map((j) => ({ $ref: `d${j}` })) }),
      properties: {
        label: { type: "string", description: "what this node holds, in a few words" },
        children: { type: "array", items: { $dynamicRef: `#a${(i * 7) % 40}` } },
        parent: { $recursiveRef: "#" }
      }
    }
  }
  return { $id: "https://example.com/forest", $dynamicAnchor: "root", $ref: "d0", $defs }
}

describe("RefLoop.issue on a schema of 430 kB with 1,600 dynamic anchors", () => {
  const schema = manyAnchors(1600)

  it("accepts it: each dynamic reference is under properties or items", () => {
    assert.isAbove(JSON.stringify(schema).length, 400_000)
    assert.isUndefined(RefLoop.issue(schema))
  })

  it("refuses it with a leaf checking the same value against a $dynamicRef", () => {
    // Ajv calls the leaf's own function, or d5, its ancestor (d799, d399, d199, d99, d49, d24, d11, d5), holding `a5`
    const leaf = schema.$defs["d1599"]
    const looping = {
      ...schema,
      $defs: { ...schema.$defs, d1599: { ...leaf, anyOf: [{ $dynamicRef: "#a5" }, { type: "object" }] } }
    }
    assert.include(RefLoop.issue(looping), "$ref loop that reads no input")
  })
})
