/**
 * Before Gemini 3, function declarations beside JSON mode
 * (`responseMimeType: "application/json"`) are a 400 INVALID_ARGUMENT
 * ("Function calling with a response mime type: 'application/json' is
 * unsupported"); Gemini 3 takes both. Through `LlmManager` over
 * `Gemini.layer`, against the mock server, with the request bodies read back.
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

const tools = [{ name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }]
const Weather = Schema.Struct({ city: Schema.String, celsius: Schema.Finite })
const answer = { city: "Oslo", celsius: 4 }

interface Body {
  readonly generationConfig: { readonly responseMimeType?: string; readonly responseJsonSchema?: unknown }
  readonly systemInstruction?: { readonly parts: ReadonlyArray<{ readonly text: string }> }
  readonly tools?: ReadonlyArray<unknown>
  readonly toolConfig?: { readonly functionCallingConfig: { readonly mode: string } }
}

/**
 * On `model`: `generate` with tools and `responseFormat: "json"`,
 * `generateStructured` with tools and `toolChoice: "none"`, and
 * `generateStructured` without tools; the bodies sent and the structured
 * values.
 */
const sent = (model: string) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const llm = yield* LlmManager.make({
      providers: [Gemini.layer({ apiKey: Redacted.make("sk-test"), baseUrl: mock.baseUrl("gemini"), model })],
      policy: FallbackPolicy.make({ maxRetries: 0 })
    })
    const prompt = [{ role: "system", content: "Be brief." }, { role: "user", content: "Weather in Oslo?" }] as const
    yield* mock.inject("gemini", MockFault.content(JSON.stringify(answer)), { times: 3 })
    yield* llm.generate({ prompt, tools, options: { responseFormat: "json" } })
    const withTools = yield* llm.generateStructured({ prompt, tools, toolChoice: "none" }, Weather)
    const alone = yield* llm.generateStructured({ prompt }, Weather)
    const requests = yield* mock.received("gemini")
    assert.deepStrictEqual([withTools.value, alone.value], [answer, answer])
    assert.strictEqual(requests.length, 3)
    const [json, structured, plain] = requests.map((request) => request.body) as [Body, Body, Body]
    return { json, structured, plain }
  }).pipe(Effect.provide(Bench), Effect.scoped)

const systemOf = (body: Body): string => body.systemInstruction?.parts.map((part) => part.text).join("") ?? ""

const schema = StructuredOutput.fromSchema(Weather).jsonSchema

describe("Gemini JSON mode beside function declarations", () => {
  it.live("gemini-2.5-flash: tools keep their declarations, JSON is asked for in the system prompt", () =>
    Effect.gen(function*() {
      const { json, plain, structured } = yield* sent("gemini-2.5-flash")
      for (const body of [json, structured]) {
        assert.isUndefined(body.generationConfig.responseMimeType)
        assert.isUndefined(body.generationConfig.responseJsonSchema)
        assert.strictEqual(body.tools?.length, 1)
        assert.include(systemOf(body), "Be brief.")
      }
      assert.include(systemOf(json), StructuredOutput.jsonInstruction)
      assert.strictEqual(structured.toolConfig?.functionCallingConfig.mode, "NONE")
      assert.include(systemOf(structured), JSON.stringify(schema))
      // without tools, JSON mode and the schema as before
      assert.strictEqual(plain.generationConfig.responseMimeType, "application/json")
      assert.deepStrictEqual(plain.generationConfig.responseJsonSchema, schema)
      assert.strictEqual(systemOf(plain), "Be brief.")
    }))

  it.live("gemini-3.5-flash: tools beside JSON mode and the schema", () =>
    Effect.gen(function*() {
      const { json, structured } = yield* sent("gemini-3.5-flash")
      assert.strictEqual(json.generationConfig.responseMimeType, "application/json")
      assert.strictEqual(structured.generationConfig.responseMimeType, "application/json")
      assert.deepStrictEqual(structured.generationConfig.responseJsonSchema, schema)
      assert.strictEqual(json.tools?.length, 1)
      assert.strictEqual(structured.tools?.length, 1)
      assert.strictEqual(systemOf(json), "Be brief.")
      assert.strictEqual(systemOf(structured), "Be brief.")
    }))
})
