/**
 * Gemini's `responseJsonSchema` takes a recursive schema only when each of
 * its `$ref` loops passes through an optional or nullable property or the
 * items of an array that may be empty; a loop of required fields is a 400
 * ("ref loops are only supported if they include optional or nullable
 * property values, or a potentially-zero-length array items"). Through
 * `LlmManager` over `Gemini.layer`, against the mock server, with the
 * answer's text chosen and the request body read back.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as StructuredOutput from "@baton/core/StructuredOutput"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"

const apiKey = Redacted.make("sk-test-key")

type Expr = { readonly _tag: "Lit"; readonly value: number } | {
  readonly _tag: "Add"
  readonly left: Expr
  readonly right: Expr
}

/** An expression tree: `Add`'s operands are required, so its loop has no way out but the union. */
const Expr: Schema.Codec<Expr> = Schema.Union([
  Schema.TaggedStruct("Lit", { value: Schema.Finite }),
  Schema.TaggedStruct("Add", {
    left: Schema.suspend((): Schema.Codec<Expr> => Expr),
    right: Schema.suspend((): Schema.Codec<Expr> => Expr)
  })
]).annotate({ identifier: "Expr" })

interface Tree {
  readonly name: string
  readonly children: ReadonlyArray<Tree>
}

/** A tree: its loop passes through the items of an array that may be empty, which Gemini takes. */
const Tree: Schema.Codec<Tree> = Schema.Struct({
  name: Schema.String,
  children: Schema.Array(Schema.suspend((): Schema.Codec<Tree> => Tree))
}).annotate({ identifier: "Tree" })

interface GenerationConfig {
  readonly responseMimeType?: string
  readonly responseJsonSchema?: unknown
}

interface Body {
  readonly generationConfig: GenerationConfig
  readonly systemInstruction?: { readonly parts: ReadonlyArray<{ readonly text: string }> }
}

const prompt = [{ role: "system", content: "Be brief." }, { role: "user", content: "Fill it in." }] as const

/** `generateStructured` over Gemini alone answering `answer`: the value, the attempts' errors and the body sent. */
const answered = <A>(answer: string, schema: Schema.Codec<A>) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const llm = yield* LlmManager.make({
      providers: [Gemini.layer({ apiKey, baseUrl: mock.baseUrl("gemini") })],
      policy: FallbackPolicy.make({ maxRetries: 0, retryBaseDelayMs: 1 }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 }
    })
    yield* mock.inject("gemini", MockFault.content(answer))
    const result = yield* llm.generateStructured({ prompt }, schema)
    const requests = yield* mock.received("gemini")
    return {
      value: result.value,
      errors: result.attempts.map((a) => a.error?._tag),
      body: requests.at(-1)?.body as Body
    }
  }).pipe(Effect.provide(Bench), Effect.scoped)

interface Node {
  readonly label: string
  readonly next: Node | null
  readonly child?: Node
}

/** A list: its loop passes through a nullable property and an optional one, which Gemini takes. */
const Node: Schema.Codec<Node> = Schema.Struct({
  label: Schema.String,
  next: Schema.NullOr(Schema.suspend((): Schema.Codec<Node> => Node)),
  child: Schema.optionalKey(Schema.suspend((): Schema.Codec<Node> => Node))
}).annotate({ identifier: "Node" })

interface Chain {
  readonly label: string
  readonly links: readonly [Chain | string, ...Array<Chain | string>]
}

/** A chain whose links may not be empty: its loop stops only through a union's other branch, which Gemini refuses. */
const Chain: Schema.Codec<Chain> = Schema.Struct({
  label: Schema.String,
  links: Schema.NonEmptyArray(Schema.Union([Schema.suspend((): Schema.Codec<Chain> => Chain), Schema.String]))
}).annotate({ identifier: "Chain" })

describe("Gemini recursive schemas", () => {
  it.live("a loop through a nullable or an optional property is sent as responseJsonSchema; one through a non-empty array is not", () =>
    Effect.gen(function*() {
      const list = yield* answered(JSON.stringify({ label: "a", next: null }), Node)
      assert.deepStrictEqual(
        list.body.generationConfig.responseJsonSchema,
        StructuredOutput.fromSchema(Node).jsonSchema
      )
      assert.deepStrictEqual(list.value, { label: "a", next: null })
      const chain = yield* answered(JSON.stringify({ label: "a", links: [{ label: "b", links: ["end"] }] }), Chain)
      assert.isUndefined(chain.body.generationConfig.responseJsonSchema)
      assert.deepStrictEqual(chain.value, { label: "a", links: [{ label: "b", links: ["end"] }] })
    }))

  it.live("a loop of required fields is not sent as responseJsonSchema: JSON mode, the schema in the system prompt", () =>
    Effect.gen(function*() {
      const Sum = Schema.Struct({ expr: Expr })
      const answer = {
        expr: { _tag: "Add", left: { _tag: "Lit", value: 1 }, right: { _tag: "Lit", value: 2 } }
      } as const
      const { body, errors, value } = yield* answered(JSON.stringify(answer), Sum)
      assert.isUndefined(body.generationConfig.responseJsonSchema)
      assert.strictEqual(body.generationConfig.responseMimeType, "application/json")
      const system = body.systemInstruction?.parts.map((part) => part.text).join("") ?? ""
      assert.include(system, "Be brief.")
      assert.include(system, JSON.stringify(StructuredOutput.fromSchema(Sum).jsonSchema))
      assert.deepStrictEqual(errors, [undefined])
      assert.deepStrictEqual(value, answer)
    }))

  it.live("a loop through an array that may be empty is sent as responseJsonSchema", () =>
    Effect.gen(function*() {
      const Root = Schema.Struct({ tree: Tree })
      const answer = { tree: { name: "r", children: [{ name: "c", children: [] }] } }
      const { body, errors, value } = yield* answered(JSON.stringify(answer), Root)
      assert.deepStrictEqual(body.generationConfig.responseJsonSchema, StructuredOutput.fromSchema(Root).jsonSchema)
      assert.deepStrictEqual(body.systemInstruction?.parts.map((part) => part.text), ["Be brief."])
      assert.deepStrictEqual(errors, [undefined])
      assert.deepStrictEqual(value, answer)
    }))
})
