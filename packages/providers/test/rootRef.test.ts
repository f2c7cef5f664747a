/**
 * An Effect Schema with an identifier at its root (a `Schema.Class`, or
 * `.annotate({ identifier })`), as a structured output and as a tool's
 * parameters, through `LlmManager` over the real adapters and the mock
 * server: `Schema.toJsonSchemaDocument` makes such a root a `$ref` into
 * `$defs`, which OpenAI's strict mode, its `function.parameters` and
 * Anthropic's `input_schema` refuse (each wants `type: "object"` at the
 * root). What each provider received is read back.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"

class Quiz extends Schema.Class<Quiz>("Quiz")({ question: Schema.String, answer: Schema.Int }) {}

/** A recursive `Schema.Class`: its definition is named again inside it, and stays. */
class Folder extends Schema.Class<Folder>("Folder")({
  name: Schema.String,
  folders: Schema.Array(Schema.suspend((): Schema.Codec<Folder, unknown> => Folder))
}) {}

class WeatherArgs extends Schema.Class<WeatherArgs>("WeatherArgs")({ city: Schema.String }) {}

const layers = { openai: OpenAi.layer, anthropic: Anthropic.layer, gemini: Gemini.layer } as const

type Kind = keyof typeof layers

/** A manager over `kind` alone, on a freshly reset mock server. */
const managerOf = (kind: Kind) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    yield* mock.reset
    return yield* LlmManager.make({
      providers: [layers[kind]({ apiKey: Redacted.make("sk-test"), baseUrl: mock.baseUrl(kind) })],
      policy: FallbackPolicy.make({ maxRetries: 0 })
    })
  })

/** The body of the one request `kind` received. */
const sentBody = (kind: Kind) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const requests = yield* mock.received(kind)
    assert.lengthOf(requests, 1)
    return requests[0]?.body
  })

interface OpenAiBody {
  readonly response_format: { readonly json_schema: { readonly strict: boolean; readonly schema: unknown } }
  readonly tools: ReadonlyArray<{ readonly function: { readonly parameters: unknown } }>
}

interface AnthropicBody {
  readonly tools: ReadonlyArray<{ readonly input_schema: unknown }>
}

interface GeminiBody {
  readonly tools: ReadonlyArray<
    { readonly functionDeclarations: ReadonlyArray<{ readonly parametersJsonSchema: unknown }> }
  >
}

/** OpenAI's `response_format.json_schema` for a structured answer `answer` to `schema`, and the value. */
const openAiFormat = <A>(schema: Schema.Codec<A, unknown>, answer: unknown) =>
  Effect.gen(function*() {
    const llm = yield* managerOf("openai")
    const mock = yield* MockProviderServer.MockProviderServer
    yield* mock.inject("openai", MockFault.content(JSON.stringify(answer)))
    const result = yield* llm.generateStructured({ prompt: "Fill it in." }, schema)
    const body = (yield* sentBody("openai")) as OpenAiBody
    return { format: body.response_format.json_schema, value: result.value }
  })

/** Where each provider's codec puts a tool's parameters. */
const toolParameters = {
  openai: (body: unknown) => (body as OpenAiBody).tools[0]?.function.parameters,
  anthropic: (body: unknown) => (body as AnthropicBody).tools[0]?.input_schema,
  gemini: (body: unknown) => (body as GeminiBody).tools[0]?.functionDeclarations[0]?.parametersJsonSchema
}

const folderDefinition = {
  type: "object",
  properties: { name: { type: "string" }, folders: { type: "array", items: { $ref: "#/$defs/FolderEncoded" } } },
  required: ["name", "folders"],
  additionalProperties: false
}

describe("an Effect Schema with an identifier at its root", () => {
  it.live("a Schema.Class as a structured output is sent to OpenAI strict, its definition inlined at the root", () =>
    Effect.gen(function*() {
      const { format, value } = yield* openAiFormat(Quiz, { question: "2 + 2?", answer: 4 })
      assert.strictEqual(format.strict, true)
      assert.deepStrictEqual(format.schema, {
        type: "object",
        properties: {
          question: { type: "string" },
          answer: { type: "integer", minimum: -9007199254740991, maximum: 9007199254740991 }
        },
        required: ["question", "answer"],
        additionalProperties: false
      })
      assert.instanceOf(value, Quiz)
      assert.deepStrictEqual([value.question, value.answer], ["2 + 2?", 4])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("a recursive Schema.Class keeps the definition it names inside itself", () =>
    Effect.gen(function*() {
      const { format, value } = yield* openAiFormat(Folder, { name: "root", folders: [{ name: "leaf", folders: [] }] })
      assert.strictEqual(format.strict, true)
      assert.deepStrictEqual(format.schema, { ...folderDefinition, $defs: { FolderEncoded: folderDefinition } })
      assert.instanceOf(value.folders[0], Folder)
      assert.deepStrictEqual([value.name, value.folders[0].name], ["root", "leaf"])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  for (const kind of ["openai", "anthropic", "gemini"] as const) {
    it.live(`a Schema.Class as a tool's parameters is sent to ${kind} with an object root`, () =>
      Effect.gen(function*() {
        const llm = yield* managerOf(kind)
        yield* llm.generate({ prompt: "Weather in Oslo?", tools: [{ name: "get_weather", parameters: WeatherArgs }] })
        assert.deepStrictEqual(toolParameters[kind](yield* sentBody(kind)), {
          type: "object",
          properties: { city: { type: "string" } },
          required: ["city"],
          additionalProperties: false
        })
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})

describe("tool parameters whose root names no type, or only its own definition", () => {
  // what MCP servers and SDKs send for a tool without parameters, or with properties alone
  const sent: ReadonlyArray<readonly [given: Record<string, unknown>, sent: Record<string, unknown>]> = [
    [{}, { type: "object", properties: {} }],
    [{ type: "object" }, { type: "object", properties: {} }],
    [{ properties: { city: { type: "string" } } }, { type: "object", properties: { city: { type: "string" } } }],
    // effect/ai's JSON Schema of a Schema.Class: its root a $ref to its own definition
    [
      {
        $ref: "#/$defs/ArgsEncoded",
        $defs: { ArgsEncoded: { type: "object", properties: { city: { type: "string" } } } }
      },
      { type: "object", properties: { city: { type: "string" } } }
    ]
  ]
  for (const kind of ["openai", "anthropic", "gemini"] as const) {
    it.live(`are sent to ${kind} as object schemas with properties`, () =>
      Effect.gen(function*() {
        for (const [parameters, expected] of sent) {
          const llm = yield* managerOf(kind)
          yield* llm.generate({ prompt: "What time is it?", tools: [{ name: "now", parameters }] })
          assert.deepStrictEqual(toolParameters[kind](yield* sentBody(kind)), expected)
        }
        // Effect's way to say "no parameters", generated as { not: { type: "null" } }
        const llm = yield* managerOf(kind)
        yield* llm.generate({ prompt: "What time is it?", tools: [{ name: "now", parameters: Schema.Struct({}) }] })
        assert.deepStrictEqual(toolParameters[kind](yield* sentBody(kind)), { type: "object", properties: {} })
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})
