/**
 * Names in a config file that cannot be a `ProviderName` or a `ModelId` (a
 * provider key starting with a digit or over 64 characters, an alias step
 * with an upper-case provider or an over-long model) are a
 * `GatewayConfigError` naming the field, never a thrown exception, and
 * neither the message nor the field repeats a long name whole or a control
 * character in it.
 */
import { excerpt } from "@baton/core/Redact"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as GatewayConfig from "../src/GatewayConfig.ts"

const keys = ConfigProvider.layer(ConfigProvider.fromUnknown({ OPENAI_API_KEY: "sk-oa" }))

const file = (providers: Record<string, unknown>, fast: ReadonlyArray<unknown>) =>
  JSON.stringify({
    providers: { openai: { models: ["gpt-4o-mini"] }, ...providers },
    models: { fast },
    keys: [{ sha256: GatewayConfig.hashKey("gw-key"), subject: "teacher-42" }]
  })

const refused = (providers: Record<string, unknown>, fast: ReadonlyArray<unknown>) =>
  Effect.flip(GatewayConfig.parse(file(providers, fast), "json").pipe(Effect.provide(keys)))

const local = (models: ReadonlyArray<string> = ["llama3"]) => ({ baseUrl: "http://127.0.0.1:11434/v1", models })

describe("GatewayConfig: names that are not valid ids", () => {
  it.effect("a provider key that is not a provider name is an error naming it", () =>
    Effect.gen(function*() {
      for (const name of ["1local", "-local", "l".repeat(65)]) {
        const error = yield* refused({ [name]: local() }, ["openai/gpt-4o-mini"])
        assert.strictEqual(error._tag, "GatewayConfigError", name)
        assert.strictEqual(error.field, `providers.${excerpt(name)}`, name)
        assert.include(error.message, "1-64 lower-case letters", name)
      }
    }))

  it.effect("a long provider key is cut in the field and the message, the YAML line still given", () =>
    Effect.gen(function*() {
      const name = "l".repeat(3000)
      const error = yield* refused({ [name]: local() }, ["openai/gpt-4o-mini"])
      assert.strictEqual(error.field, `providers.${"l".repeat(64)}...[2936 more characters]`)
      assert.include(error.message, "1-64 lower-case letters")
      assert.notInclude(error.message, name)
      assert.isBelow(error.message.length, 300, error.message)
      const yaml = `providers:\n  ${name}:\n    baseUrl: http://127.0.0.1:11434/v1\n    models: [llama3]\nkeys: []\n`
      const fromYaml = yield* Effect.flip(GatewayConfig.parse(yaml, "yaml").pipe(Effect.provide(keys)))
      assert.strictEqual(fromYaml.field, error.field)
      assert.strictEqual(fromYaml.line, 2)
      assert.notInclude(fromYaml.message, name)
    }))

  it.effect("a provider key or alias with control or bidirectional characters is escaped in the field and message", () =>
    Effect.gen(function*() {
      const error = yield* refused({ "local\u001b\u202e\n": local() }, ["openai/gpt-4o-mini"])
      assert.strictEqual(error.field, "providers.local\\u001b\\u202e\\u000a")
      assert.include(error.message, "providers.local\\u001b\\u202e\\u000a")
      const alias = yield* Effect.flip(
        GatewayConfig.parse(
          JSON.stringify({ providers: {}, models: { [`f/\u061c${"a".repeat(3000)}`]: ["x/y"] }, keys: [] }),
          "json"
        ).pipe(Effect.provide(keys))
      )
      assert.strictEqual(alias.field, `models.f/\\u061c${"a".repeat(61)}...[2939 more characters]`)
      assert.include(alias.message, "may not contain '/'")
      for (const { field, message } of [error, alias]) {
        assert.notMatch(`${field}${message}`, /[\p{Cc}\p{Bidi_Control}]/u)
      }
    }))

  it.effect("an alias step whose provider is not a provider name is an unknown provider", () =>
    Effect.gen(function*() {
      for (const step of ["OpenAI/gpt-4o-mini", { model: "OpenAI/gpt-4o-mini", retries: 1 }]) {
        const error = yield* refused({}, [step])
        assert.strictEqual(error._tag, "GatewayConfigError")
        assert.match(error.field, /^models\.fast\[0\]/)
        assert.include(error.message, "unknown provider")
      }
    }))

  it.effect("an alias step whose model is over 256 characters says so, without repeating it", () =>
    Effect.gen(function*() {
      const long = "x".repeat(300)
      for (const step of [`openai/${long}`, { model: `openai/${long}`, retries: 1 }]) {
        const error = yield* refused({}, [step])
        assert.strictEqual(error._tag, "GatewayConfigError")
        assert.match(error.field, /^models\.fast\[0\]/)
        assert.include(error.message, "at most 256 characters")
        assert.notInclude(error.message, long)
        assert.isBelow(error.message.length, 300, error.message)
      }
    }))

  it.effect("an alias step whose model has a control character says so", () =>
    Effect.gen(function*() {
      const error = yield* refused({}, ["openai/gpt\u0000-4o-mini"])
      assert.strictEqual(error.field, "models.fast[0]")
      assert.include(error.message, "control characters")
    }))

  it.effect("a listed model over 256 characters is refused by the schema, naming the field", () =>
    Effect.gen(function*() {
      const error = yield* refused({ local: local(["x".repeat(300)]) }, ["openai/gpt-4o-mini"])
      assert.strictEqual(error.field, "providers.local.models[0]")
      assert.include(error.message, "at most 256 characters")
    }))
})
