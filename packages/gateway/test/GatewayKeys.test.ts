/**
 * Per-key limits are the subject's limits: a revoked key's entry never sets
 * them (the usual rotation keeps the old key listed, revoked, after the new
 * one), and two active keys of one subject must agree on them, or the config
 * is refused naming the field.
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import OpenAI from "openai"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"
import * as Fixture from "./fixture.ts"

const newKey = "gw-rotated-new-9"
const oldKey = "gw-rotated-old-9"
const plainKey = "gw-plain-7"
const staleKey = "gw-stale-7"
const firstTwin = "gw-twin-a-8"
const secondTwin = "gw-twin-b-8"

const keys = [
  // rotation: the new key with its limit, then the old one kept, revoked, without it
  { sha256: GatewayConfig.hashKey(newKey), subject: "teacher-9", daily: 2 },
  { sha256: GatewayConfig.hashKey(oldKey), subject: "teacher-9", revoked: true },
  // a key without limits, then a revoked one that had a limit: the default applies
  { sha256: GatewayConfig.hashKey(plainKey), subject: "teacher-7" },
  { sha256: GatewayConfig.hashKey(staleKey), subject: "teacher-7", daily: 1, revoked: true },
  // two active keys of one subject with the same limit share it
  { sha256: GatewayConfig.hashKey(firstTwin), subject: "teacher-8", daily: 3 },
  { sha256: GatewayConfig.hashKey(secondTwin), subject: "teacher-8", daily: 3 }
]

const TestLayer = Layer.unwrap(Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const config = yield* GatewayConfig.parse(JSON.stringify({ ...Fixture.configFile(mock), keys }), "json")
  return Gateway.layer(config, { port: 0 })
})).pipe(
  Layer.provideMerge(Fixture.services()),
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(Fixture.environment))),
  Layer.provideMerge(MockProviderServer.layer())
)

/** One call with the official client: its status and, when it succeeded, `RateLimit-Limit`. */
const call = (url: string, apiKey: string) =>
  Effect.promise(async () => {
    try {
      const { response } = await Fixture.client(url, apiKey).chat.completions.create({
        model: "fast",
        messages: [{ role: "user", content: "Say hello" }]
      }).withResponse()
      return { status: response.status, limit: response.headers.get("ratelimit-limit") }
    } catch (error) {
      if (!(error instanceof OpenAI.APIError)) throw error
      const status: unknown = error.status
      return { status: typeof status === "number" ? status : 0, limit: undefined }
    }
  })

layer(TestLayer, { excludeTestServices: true })("Gateway keys: limits per subject (openai client)", (it) => {
  it.effect("rotation: the new key's daily limit holds though the old key, revoked and listed last, has none", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      assert.deepStrictEqual(yield* call(url, newKey), { status: 200, limit: "2" })
      assert.deepStrictEqual(yield* call(url, newKey), { status: 200, limit: "2" })
      assert.strictEqual((yield* call(url, newKey)).status, 429)
      assert.strictEqual((yield* call(url, oldKey)).status, 401)
    }))

  it.effect("a revoked key's limit is not the subject's: the active key without one gets the default", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      assert.deepStrictEqual(yield* call(url, plainKey), { status: 200, limit: "1000" })
      assert.deepStrictEqual(yield* call(url, plainKey), { status: 200, limit: "1000" })
    }))

  it.effect("two active keys of one subject with the same limit spend one quota", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      assert.deepStrictEqual(yield* call(url, firstTwin), { status: 200, limit: "3" })
      assert.deepStrictEqual(yield* call(url, secondTwin), { status: 200, limit: "3" })
      assert.deepStrictEqual(yield* call(url, firstTwin), { status: 200, limit: "3" })
      assert.strictEqual((yield* call(url, secondTwin)).status, 429)
    }))
})

const providerKeys = ConfigProvider.layer(ConfigProvider.fromUnknown({ DEEPSEEK_API_KEY: "sk-ds" }))

const yamlWith = (keyLines: string) =>
  `providers:
  deepseek:
    models: [deepseek-flash]
keys:
${keyLines}`

const parseYaml = (text: string) => GatewayConfig.parse(text, "yaml").pipe(Effect.provide(providerKeys))

const sha = (key: string) => GatewayConfig.hashKey(key)

describe("GatewayConfig keys: one set of limits per subject", () => {
  it.effect("two active keys of one subject with different limits: refused, naming the field and line", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(parseYaml(yamlWith(`  - sha256: ${sha("a")}
    subject: teacher-9
    daily: 2
  - sha256: ${sha("b")}
    subject: teacher-9
    daily: 5
`)))
      assert.strictEqual(error._tag, "GatewayConfigError")
      assert.strictEqual(error.field, "keys[1].daily")
      assert.strictEqual(error.line, 10)
      assert.match(error.message, /keys\[1\]\.daily \(line 10\)/)
      // the subject is not repeated (it might hold a key, refused only once the environment's keys are known)
      assert.notMatch(error.message, /teacher-9/)
      assert.match(error.message, /keys\[0\] \(another active key of the same subject\)/)
    }))

  it.effect("an active key without the limit another active key of its subject sets: refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        GatewayConfig.parse(
          JSON.stringify({
            providers: { deepseek: { models: ["deepseek-flash"] } },
            keys: [
              { sha256: sha("a"), subject: "teacher-9", daily: 2, dailyTokens: 500 },
              { sha256: sha("b"), subject: "teacher-9", daily: 2 }
            ]
          }),
          "json"
        ).pipe(Effect.provide(providerKeys))
      )
      assert.strictEqual(error.field, "keys[1].dailyTokens")
      assert.match(error.message, /dailyTokens/)
    }))

  it.effect("revoked keys may differ: the rotation config parses", () =>
    Effect.gen(function*() {
      const config = yield* parseYaml(yamlWith(`  - sha256: ${sha("new")}
    subject: teacher-9
    daily: 2
  - sha256: ${sha("old")}
    subject: teacher-9
    daily: 7
    revoked: true
  - sha256: ${sha("older")}
    subject: teacher-9
    revoked: true
`))
      assert.strictEqual(config.keys.size, 3)
    }))
})

/** `path` in a fresh temporary folder, holding `text`. */
const configFileWith = (name: string, text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), "baton-keys-")), name)
  writeFileSync(path, text)
  return path
}

const loadFile = (name: string, text: string) =>
  GatewayConfig.load(configFileWith(name, text)).pipe(Effect.provide(providerKeys))

describe("GatewayConfig keys: one entry per key", () => {
  it.effect("a hash listed twice in a YAML file (revoked, then active again): refused at load, naming the field and line", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(loadFile(
        "baton.yaml",
        yamlWith(`  - sha256: ${sha("gw-secret-a")}
    subject: teacher-a
    revoked: true
  - sha256: ${sha("gw-secret-a")}
    subject: teacher-a
`)
      ))
      assert.strictEqual(error._tag, "GatewayConfigError")
      assert.strictEqual(error.field, "keys[1].sha256")
      assert.strictEqual(error.line, 8)
      assert.match(error.message, /keys\[1\]\.sha256 \(line 8\)/)
      assert.match(error.message, /keys\[0\]\.sha256/)
      assert.notInclude(error.message, "gw-secret-a")
    }))

  it.effect("a hash listed for two subjects in a JSON file: refused, not the last subject winning", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(loadFile(
        "baton.json",
        JSON.stringify({
          providers: { deepseek: { models: ["deepseek-flash"] } },
          keys: [
            { sha256: sha("other"), subject: "teacher-c" },
            { sha256: sha("gw-secret-b"), subject: "teacher-a", daily: 5 },
            { sha256: sha("gw-secret-b"), subject: "teacher-b", daily: 500 }
          ]
        })
      ))
      assert.strictEqual(error.field, "keys[2].sha256")
      assert.isUndefined(error.line)
      assert.match(error.message, /keys\[2\]\.sha256: .*keys\[1\]\.sha256/)
      assert.notInclude(error.message, "gw-secret-b")
    }))

  it.live("a hash listed twice in BATON_GATEWAY_KEYS: Gateway.serve refuses, naming the variable and the entry", () =>
    Effect.gen(function*() {
      const digest = sha("gw-secret-c")
      const error = yield* Effect.flip(
        Gateway.serve({ port: 0 }).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
            LLM_CHAIN: "deepseek/deepseek-flash",
            DEEPSEEK_API_KEY: "sk-ds",
            LLM_USAGE_STORE_URL: `sqlite:${configFileWith("usage.sqlite", "")}`,
            BATON_GATEWAY_KEYS: `teacher-c:${sha("other")},teacher-a:${digest},teacher-b:${digest}`
          }))),
          // before the check, serve started listening: a timeout, not the config's error
          Effect.timeout("10 seconds")
        )
      )
      assert.instanceOf(error, GatewayConfig.GatewayConfigError)
      assert.strictEqual(error.field, "BATON_GATEWAY_KEYS")
      assert.match(error.message, /^BATON_GATEWAY_KEYS: entry 3 .*entry 2/)
      assert.notInclude(error.message, "gw-secret-c")
    }))
})
