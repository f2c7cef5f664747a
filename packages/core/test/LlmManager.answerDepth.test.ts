/**
 * A deep answer to a recursive Effect `Schema`, through
 * `LlmManager.generateStructured` over real adapters and the mock server:
 * an answer nested past `StructuredOutput.maxAnswerDepth` levels is a
 * `StructuredOutputInvalid` saying so, as for a raw JSON Schema (re-asked,
 * then the next provider), not a stack overflow in Effect's decoder; an
 * answer at the bound decodes.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as StructuredOutput from "../src/StructuredOutput.ts"
import { Bench, firstIssue, inject, manager, stats } from "./utils/chain.ts"

interface Tree {
  readonly children: ReadonlyArray<Tree>
}

/** A tree: two levels of JSON (an object, its array) a level of the tree. */
const Tree = Schema.Struct({ children: Schema.Array(Schema.suspend((): Schema.Codec<Tree> => Tree)) })

/** A tree nested `levels` levels of arrays and objects, the root object the first (`levels` even). */
const tree = (levels: number) => "{\"children\":[".repeat(levels / 2) + "]}".repeat(levels / 2)

interface Chain {
  readonly next?: Chain | null | undefined
  readonly v?: number | undefined
}

/** A chain of optional, nullable links, each checked: one level of JSON a link, and several decoder calls. */
const Chain = Schema.Struct({
  next: Schema.optional(Schema.NullOr(Schema.suspend((): Schema.Codec<Chain> => Chain))),
  v: Schema.optional(Schema.Finite)
}).check(Schema.makeFilter((chain) => typeof chain === "object"))

/** A chain nested `levels` levels of objects, the deepest `last`. */
const chain = (levels: number, last: string) => "{\"next\":".repeat(levels - 1) + last + "}".repeat(levels - 1)

const request = (maxTokens: number) => ({ prompt: "Draw a tree.", options: { maxTokens } })

const tooDeep = `the answer nests more than ${StructuredOutput.maxAnswerDepth} levels of arrays and objects`

describe("LlmManager.generateStructured with an Effect Schema and an answer nested too deep to decode", () => {
  // Effect's decoder recurses several calls a level: it overflowed the stack 900 to 1,600 levels down this tree
  for (const kind of ["anthropic", "openai"] as const) {
    for (const levels of [2_000, 20_000]) {
      it.live(`fails ${levels} levels as an answer that does not match the schema, not as a defect (${kind})`, () =>
        Effect.gen(function*() {
          yield* inject(kind, MockFault.content(tree(levels)))
          const llm = yield* manager({ chain: [kind], policy: { structuredOutputRetries: 0 } })
          const error = yield* Effect.flip(llm.generateStructured(request(100_000), Tree))
          assert.deepStrictEqual(firstIssue(error), tooDeep)
        }).pipe(Effect.provide(Bench)))
    }
  }

  it.live("re-asks such an answer, then falls back, as any answer that does not match", () =>
    Effect.gen(function*() {
      yield* inject("anthropic", MockFault.content(tree(2_000)), { times: 2 })
      yield* inject("openai", MockFault.content(tree(4)))
      const llm = yield* manager({ chain: ["anthropic", "openai"] })
      const result = yield* llm.generateStructured(request(10_000), Tree)
      assert.strictEqual((yield* stats("anthropic")).requests, 2, "the answer and one re-ask")
      assert.strictEqual(result.provider, "openai")
      assert.deepStrictEqual(
        result.attempts.map((a) => a.error?._tag === "StructuredOutputInvalid" ? a.error.issue : a.error?._tag),
        [tooDeep, tooDeep, undefined]
      )
    }).pipe(Effect.provide(Bench)))

  it.live("decodes a tree nested just at the bound", () =>
    Effect.gen(function*() {
      yield* inject("anthropic", MockFault.content(tree(StructuredOutput.maxAnswerDepth)))
      const llm = yield* manager({ chain: ["anthropic"], policy: { structuredOutputRetries: 0 } })
      const result = yield* llm.generateStructured(request(10_000), Tree)
      let levels = 0
      for (let node: Tree | undefined = result.value; node !== undefined; node = node.children[0]) levels += 2
      assert.strictEqual(levels, StructuredOutput.maxAnswerDepth)
    }).pipe(Effect.provide(Bench)))

  // Effect's decoder overflowed the stack some 480 levels down this chain in a process's first decode (within
  // the bound of 1,000 this replaced)
  // a scalar at the deepest level is no level of its own
  for (const last of ["{}", "{\"v\":1}"]) {
    it.live(`decodes a chain of checked, optional, nullable links ending in ${last} nested just at the bound, and refuses one more`, () =>
      Effect.gen(function*() {
        yield* inject("anthropic", MockFault.content(chain(StructuredOutput.maxAnswerDepth, last)))
        yield* inject("anthropic", MockFault.content(chain(StructuredOutput.maxAnswerDepth + 1, last)))
        const llm = yield* manager({ chain: ["anthropic"], policy: { structuredOutputRetries: 0 } })
        const result = yield* llm.generateStructured(request(10_000), Chain)
        assert.strictEqual(JSON.stringify(result.value), chain(StructuredOutput.maxAnswerDepth, last))
        const error = yield* Effect.flip(llm.generateStructured(request(10_000), Chain))
        assert.deepStrictEqual(firstIssue(error), tooDeep)
      }).pipe(Effect.provide(Bench)))
  }
})
