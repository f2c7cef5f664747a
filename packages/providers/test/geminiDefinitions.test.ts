/**
 * Gemini's `responseJsonSchema` documents `$defs` for named subschemas, not
 * draft-07's `definitions` (what zod-to-json-schema and the OpenAI SDK's
 * `zodResponseFormat` write). Through `LlmManager` over `Gemini.layer`,
 * against the mock server, with the answer's text chosen and the request
 * body read back.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"
import * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-test-key")

const gemini = Manager.alone((baseUrl) => Gemini.layer({ apiKey, baseUrl }))

/** Two addresses by one definition, and a tree of itself, in draft-07. */
const Addresses = {
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object",
  properties: {
    home: { $ref: "#/definitions/Address" },
    work: { $ref: "#/definitions/Address" },
    tree: { $ref: "#/definitions/Tree" }
  },
  required: ["home", "work", "tree"],
  additionalProperties: false,
  definitions: {
    Address: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
      additionalProperties: false
    },
    Tree: {
      type: "object",
      properties: { name: { type: "string" }, children: { type: "array", items: { $ref: "#/definitions/Tree" } } },
      required: ["name", "children"],
      additionalProperties: false
    }
  }
}

const answer = { home: { city: "A" }, work: { city: "B" }, tree: { name: "r", children: [] } }

interface Body {
  readonly generationConfig: { readonly responseJsonSchema?: { readonly [key: string]: unknown } }
}

const refsOf = (schema: unknown): ReadonlyArray<string> =>
  typeof schema !== "object" || schema === null
    ? []
    : Object.entries(schema).flatMap(([key, value]) =>
      key === "$ref" && typeof value === "string" ? [value] : refsOf(value)
    )

/** `generateStructured` with `schema` through Gemini, answered `answer`: the value decoded and the schema sent. */
const asked = (schema: { readonly [key: string]: unknown }, answer: unknown) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const llm = yield* gemini(mock.baseUrl("gemini"))
    yield* mock.inject("gemini", MockFault.content(JSON.stringify(answer)))
    const result = yield* llm.generateStructured({ prompt: "Where?" }, schema)
    const body = (yield* mock.received("gemini")).at(-1)?.body as Body
    return { value: result.value, sent: body.generationConfig.responseJsonSchema ?? {} }
  })

describe("Gemini responseJsonSchema with draft-07 definitions", () => {
  it.live("is sent with its definitions under $defs, every $ref pointing there, and its answer decoded", () =>
    Effect.gen(function*() {
      const { sent, value } = yield* asked(Addresses, answer)
      assert.isUndefined(sent.definitions)
      assert.deepStrictEqual(Object.keys(sent.$defs ?? {}), ["Address", "Tree"])
      assert.deepStrictEqual(refsOf(sent.properties), ["#/$defs/Address", "#/$defs/Address", "#/$defs/Tree"])
      assert.deepStrictEqual(refsOf(sent.$defs), ["#/$defs/Tree"])
      assert.deepStrictEqual(value, answer)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("is sent without its root $schema, its definitions merged into its $defs, one named alike renamed", () =>
    Effect.gen(function*() {
      const Country = { type: "object", properties: { code: { type: "string" } }, required: ["code"] }
      const Mixed = {
        ...Addresses,
        properties: { ...Addresses.properties, country: { $ref: "#/$defs/Address" } },
        required: [...Addresses.required, "country"],
        $defs: { Address: Country }
      }
      const mixedAnswer = { ...answer, country: { code: "FR" } }
      const { sent, value } = yield* asked(Mixed, mixedAnswer)
      assert.isFalse("$schema" in sent)
      assert.isUndefined(sent.definitions)
      const defs = (sent.$defs ?? {}) as { readonly [name: string]: unknown }
      assert.deepStrictEqual(Object.keys(defs).length, 3)
      assert.deepStrictEqual(defs.Address, Country)
      const [home, work, tree, country] = refsOf(sent.properties)
      assert.strictEqual(home, work)
      assert.strictEqual(country, "#/$defs/Address")
      assert.deepStrictEqual(defs[home?.slice("#/$defs/".length) ?? ""], Addresses.definitions.Address)
      assert.strictEqual(tree, "#/$defs/Tree")
      assert.deepStrictEqual(refsOf(defs.Tree), ["#/$defs/Tree"])
      assert.deepStrictEqual(value, mixedAnswer)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("is sent with a $ref into a renamed definition's inside pointing into it under its new name", () =>
    Effect.gen(function*() {
      const Inside = {
        type: "object",
        properties: { city: { $ref: "#/definitions/Address/properties/city" } },
        required: ["city"],
        definitions: Addresses.definitions,
        $defs: { Address: { type: "object", properties: { code: { type: "string" } }, required: ["code"] } }
      }
      const { sent, value } = yield* asked(Inside, { city: "A" })
      assert.deepStrictEqual(refsOf(sent.properties), ["#/$defs/_Address/properties/city"])
      assert.deepStrictEqual(value, { city: "A" })
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
