/**
 * `response_format: {type: "json_schema"}` from a client: the dialects the
 * SDKs send (draft-07 from the OpenAI SDK's `zodResponseFormat` and the
 * Vercel AI SDK, 2019-09, 2020-12), and the client's `pattern`s, which the
 * gateway runs in linear time (lookarounds included) and refuses, before any
 * provider call, when they need backtracking (a backreference).
 */
import * as RequestLog from "@baton/core/RequestLog"
import * as StructuredOutput from "@baton/core/StructuredOutput"
import type * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import OpenAI from "openai"
import * as Fixture from "./fixture.ts"

// one decode per call: an answer that does not match is not re-asked
const TestLayer = Fixture.gatewayWithMock({ environment: { LLM_STRUCTURED_OUTPUT_RETRIES: "0" } })

const decodeError = Schema.decodeUnknownSync(Schema.fromJsonString(Fixture.ErrorResponse))

const providerRequests = (mock: MockProviderServer.MockProviderServer["Service"]) =>
  Effect.map(mock.stats("openai"), (stats) => stats.requests)

/** An object with one required string property: any answer is longer than 2 tokens. */
const cityObject = {
  type: "object",
  properties: { city: { type: "string" } },
  required: ["city"],
  additionalProperties: false
}

/** A body asking `openai/gpt-4o-mini` for `schema`. */
const asking = (schema: unknown, content = "Name a city") => ({
  model: "openai/gpt-4o-mini",
  messages: [{ role: "user", content }],
  response_format: { type: "json_schema", json_schema: { name: "answer", strict: true, schema } }
})

/** Asks for `schema`: a 400 `invalid_schema` whose message says `said`, before any provider call. */
const refusesSchema = (schema: unknown, said: string) =>
  Effect.gen(function*() {
    const { mock, url } = yield* Fixture.setup
    const response = yield* Fixture.post(url, asking(schema))
    assert.strictEqual(response.status, 400, response.text)
    const { error } = decodeError(response.text)
    assert.strictEqual(error.code, "invalid_schema")
    assert.strictEqual(error.param, "response_format.json_schema")
    assert.include(error.message, said)
    assert.strictEqual(yield* providerRequests(mock), 0)
  })

/** The answer's content, parsed. */
const contentOf = (text: string): unknown => {
  const Completion = Schema.Struct({
    choices: Schema.Tuple([Schema.Struct({ message: Schema.Struct({ content: Schema.String }) })])
  })
  return JSON.parse(Schema.decodeUnknownSync(Schema.fromJsonString(Completion))(text).choices[0].message.content)
}

/** What `zodResponseFormat(z.object({ root: Node }), "tree")` sends for a recursive `Node`, less its recursion. */
const zodTree = {
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object",
  properties: { root: { $ref: "#/definitions/__schema0" } },
  required: ["root"],
  additionalProperties: false,
  definitions: {
    __schema0: {
      type: "object",
      properties: { name: { type: "string" }, tags: { type: "array", items: { type: "string" } } },
      required: ["name", "tags"],
      additionalProperties: false
    }
  }
}

/** zod 4's hostname pattern (`zod/v4/core/regexes.js`), what `z.toJSONSchema` sends: a lookahead bounds its length. */
const zodHostname =
  "^(?=.{1,253}\\.?$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[-0-9a-zA-Z]{0,61}[0-9a-zA-Z])?)*\\.?$"

const word = (pattern: string, extra: Record<string, unknown> = {}) => ({
  type: "object",
  properties: { topic: { type: "string", pattern, ...extra } },
  required: ["topic"],
  additionalProperties: false
})

layer(TestLayer, { excludeTestServices: true })("Gateway json_schema response_format", (it) => {
  const dialects = [
    "http://json-schema.org/draft-07/schema#",
    "https://json-schema.org/draft/2019-09/schema",
    "https://json-schema.org/draft/2020-12/schema"
  ]
  for (const dialect of dialects) {
    it.effect(`a schema with $schema ${dialect} (definitions, $ref) is answered`, () =>
      Effect.gen(function*() {
        const { url } = yield* Fixture.setup
        const response = yield* Fixture.post(url, asking({ ...zodTree, $schema: dialect }))
        assert.strictEqual(response.status, 200, response.text)
        const Tree = Schema.Struct({ root: Schema.Struct({ name: Schema.String, tags: Schema.Array(Schema.String) }) })
        assert.isString(Schema.decodeUnknownSync(Tree)(contentOf(response.text)).root.name)
      }))
  }

  it.effect("the OpenAI SDK's draft-07 zodResponseFormat, through the SDK", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const completion = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({
          model: "openai/gpt-4o-mini",
          messages: [{ role: "user", content: "Name a thing" }],
          response_format: {
            type: "json_schema",
            json_schema: {
              name: "thing",
              strict: true,
              schema: {
                $schema: "http://json-schema.org/draft-07/schema#",
                type: "object",
                properties: { name: { type: "string" } },
                required: ["name"],
                additionalProperties: false
              }
            }
          }
        })
      )
      const value: unknown = JSON.parse(completion.choices[0]?.message.content ?? "null")
      assert.isString(Schema.decodeUnknownSync(Schema.Struct({ name: Schema.String }))(value).name)
    }))

  it.effect("the json_schema's description reaches the model, as the schema's own description", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const described = (schema: Record<string, unknown>) =>
        Effect.promise(() =>
          Fixture.client(url).chat.completions.create({
            model: "openai/gpt-4o-mini",
            messages: [{ role: "user", content: "Name a city" }],
            response_format: {
              type: "json_schema",
              json_schema: { name: "city", description: "A city of Europe, in English", strict: true, schema }
            }
          })
        )
      const sentSchema = Effect.map(mock.received("openai"), (requests) => {
        const format = Fixture.record(Fixture.record(requests.at(-1)?.body).response_format)
        return Fixture.record(Fixture.record(format.json_schema).schema)
      })
      const city = {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
        additionalProperties: false
      }
      yield* described(city)
      assert.strictEqual((yield* sentSchema).description, "A city of Europe, in English")
      // a schema with a description of its own keeps it, after the format's
      yield* described({ ...city, description: "Where the user lives" })
      assert.strictEqual((yield* sentSchema).description, "A city of Europe, in English\n\nWhere the user lives")
    }))

  it.effect("a safe pattern is checked and answered: ^[a-z]+$", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const response = yield* Fixture.post(url, asking(word("^[a-z]+$"), "Name a city about paris"))
      assert.strictEqual(response.status, 200, response.text)
      assert.deepStrictEqual(contentOf(response.text), { topic: "paris" })
    }))

  it.effect("zod's email pattern (a quantified group holding a quantifier) is run, not refused", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const email =
        "^(?:[A-Za-z0-9_'+\\-]+\\.)*[A-Za-z0-9_'+\\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$"
      const response = yield* Fixture.post(url, asking(word(email, { format: "email" })))
      assert.strictEqual(response.status, 200, response.text)
      assert.deepStrictEqual(contentOf(response.text), { topic: "mock@example.com" })
    }))

  it.effect("zod's hostname pattern (a lookahead) is run, not refused", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const response = yield* Fixture.post(url, asking(word(zodHostname, { format: "hostname" })))
      assert.strictEqual(response.status, 200, response.text)
      assert.deepStrictEqual(contentOf(response.text), { topic: "example.com" })
    }))

  it.effect("zod's hostname pattern, against an answer over 253 characters: its lookahead says no", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const log = yield* RequestLog.RequestLogMemory
      const before = (yield* log.records).length
      // the mock answers the `const`: a well-formed name, 257 characters long
      const response = yield* Fixture.post(url, asking(word(zodHostname, { const: `${"a.".repeat(127)}com` })))
      assert.strictEqual(response.status, 503, response.text)
      assert.strictEqual(yield* providerRequests(mock), 1)
      const logged = (yield* log.records).slice(before)
      assert.include(logged[0]?.errorMessage ?? "", "/topic must match pattern")
    }))

  const refused: ReadonlyArray<readonly [string, string]> = [
    ["a backreference", "^(a+)\\1$"]
  ]
  for (const [what, pattern] of refused) {
    it.effect(`a pattern with ${what} is a 400 naming it, before any provider call`, () =>
      refusesSchema(word(pattern), "/properties/topic/pattern"))
  }

  it.effect("a pattern that backtracks exponentially, against an answer that does not match: refused promptly", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const log = yield* RequestLog.RequestLogMemory
      const before = (yield* log.records).length
      // the mock answers the `const`: `RegExp` takes 2^29 steps to refuse it (68 s here, the event loop held, the test
      // timed out); the linear matcher a few dozen
      const response = yield* Fixture.post(url, asking(word("^(a+)+$", { const: `${"a".repeat(29)}!` })))
      assert.strictEqual(response.status, 503, response.text)
      assert.strictEqual(decodeError(response.text).error.code, "upstream_unavailable")
      assert.strictEqual(yield* providerRequests(mock), 1)
      const logged = (yield* log.records).slice(before)
      assert.deepStrictEqual(logged.map((record) => record.errorTag), ["StructuredOutputInvalid"])
      assert.include(logged[0]?.errorMessage ?? "", "/topic must match pattern")
    }))

  it.effect("a schema nested over 100 levels is a 400 invalid_schema before it is compiled or sent", () =>
    Effect.suspend(() => {
      // 60 schemas deep is 120 JSON levels (2 KB, under this gateway's 4 KB body limit); some hundreds take Ajv seconds
      let schema: unknown = { type: "string" }
      for (let i = 0; i < 60; i++) schema = { type: "object", properties: { a: schema } }
      return refusesSchema(schema, "nested deeper than 100 levels")
    }))

  it.effect("a $ref loop that reads no input is a 400 invalid_schema naming it, before any provider call", () =>
    // checked against such a schema, an answer overflowed Ajv's stack: a defect, so a 503 "every provider failed"
    refusesSchema({
      $defs: { D0: { anyOf: [{ $ref: "#/$defs/D0" }, { $ref: "#/$defs/D1" }, { type: "string" }] }, D1: {} },
      $ref: "#/$defs/D0"
    }, "#/$defs/D0 -> #/$defs/D0"))

  it.effect("a $dynamicAnchor below another one not at the root is a 400 invalid_schema naming it, not compiled", () =>
    Effect.suspend(() => {
      // Ajv compiles each such holder again within each above it: 16 levels, 711 characters, took 3.4 s
      let schema: Record<string, unknown> = { type: "string" }
      for (let level = 15; level >= 0; level--) schema = { $dynamicAnchor: `a${level}`, properties: { x: schema } }
      return refusesSchema(schema, "#/properties/x/properties/x: a $dynamicAnchor below another one at #/properties/x")
    }))

  it.effect("a generic $dynamicRef schema (a tree: its children are leaves or the root's nodes) is answered", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const response = yield* Fixture.post(
        url,
        asking({
          $dynamicAnchor: "node",
          type: "object",
          properties: {
            data: { type: "string" },
            children: { type: "array", items: { anyOf: [{ type: "string" }, { $dynamicRef: "#node" }] } }
          },
          required: ["data", "children"],
          additionalProperties: false
        })
      )
      assert.strictEqual(response.status, 200, response.text)
      assert.hasAllKeys(contentOf(response.text), ["data", "children"])
    }))

  it.effect("answers cut at max_tokens before they match: a 400 naming max_tokens, which the SDK does not retry", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const before = yield* providerRequests(mock)
      // the SDK's own default retries (2): a 503 would be sent three times, each billed
      const client = new OpenAI({ apiKey: Fixture.clientKey, baseURL: `${url}/v1` })
      const failure = yield* Effect.promise(() =>
        client.chat.completions.create({ ...asking({ ...cityObject }), max_tokens: 2 } as never).then(
          () => undefined,
          (error: unknown) => error
        )
      )
      assert.instanceOf(failure, OpenAI.APIError)
      const error = failure as InstanceType<typeof OpenAI.APIError>
      assert.deepStrictEqual([error.status, error.param], [400, "max_tokens"])
      assert.include(error.message, "raise maxTokens")
      assert.strictEqual((yield* providerRequests(mock)) - before, 1)
    }))
})

/** An object of string properties whose canonical JSON is `chars` characters long (its keys in sorted order). */
const ofSize = (chars: number) => {
  const names = Array.from({ length: Math.floor(chars / 40) }, (_, i) => `city${i}`)
  const bare = {
    additionalProperties: false,
    description: "",
    properties: Object.fromEntries(names.map((name) => [name, { type: "string" }])),
    required: names,
    type: "object"
  }
  return { ...bare, description: "x".repeat(chars - JSON.stringify(bare).length) }
}

// a body the size of the bound, under the gateway's default limit (1 MiB) as under this one
layer(Fixture.gatewayWithMock({ maxBodyBytes: 65_536 }), { excludeTestServices: true })(
  "Gateway json_schema response_format: a client's schema is bounded",
  (it) => {
    const max = StructuredOutput.maxUntrustedJsonSchemaChars

    it.effect("a schema one character over the bound is a 400 invalid_schema saying so, not compiled or sent", () =>
      refusesSchema(ofSize(max + 1), `${max + 1} characters of JSON, at most ${max} for a client's schema`))

    it.effect("json_schema.description counts toward the bound: it is merged into the schema's own", () =>
      Effect.gen(function*() {
        const { mock, url } = yield* Fixture.setup
        const body = asking(ofSize(max - 200))
        const described = { ...body.response_format.json_schema, description: "d".repeat(300) }
        const response = yield* Fixture.post(url, {
          ...body,
          response_format: { type: "json_schema", json_schema: described }
        })
        assert.strictEqual(response.status, 400, response.text)
        assert.include(decodeError(response.text).error.message, `at most ${max} for a client's schema`)
        assert.strictEqual(yield* providerRequests(mock), 0)
      }))

    it.effect("$refs that would make Ajv compile a chain's bottom once a ref are a 400 invalid_schema, not compiled", () =>
      Effect.suspend(() => {
        // an $anchor at each of 90 levels, 1,000 properties at the bottom, a $ref to each: 28,708 characters, 10-15 s
        let chain: Record<string, unknown> = {
          type: "object",
          properties: Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`p${i}`, { type: "string" }]))
        }
        for (let level = 89; level >= 0; level--) chain = { $anchor: `a${level}`, items: chain }
        const allOf = Array.from({ length: 90 }, (_, level) => ({ $ref: `#a${level}` }))
        return refusesSchema(
          { $defs: { c: chain }, allOf },
          `at most ${StructuredOutput.maxUntrustedCompiledChars} for a client's schema`
        )
      }))

    it.effect("a schema at the bound is compiled, sent and answered", () =>
      Effect.gen(function*() {
        const { mock, url } = yield* Fixture.setup
        const schema = ofSize(max)
        const response = yield* Fixture.post(url, asking(schema))
        assert.strictEqual(response.status, 200, response.text)
        assert.hasAllKeys(contentOf(response.text), schema.required)
        assert.strictEqual(yield* providerRequests(mock), 1)
      }))
  }
)
