/**
 * The keys a config file's providers read (`apiKeyEnv`, `<NAME>_API_KEY`)
 * are secrets like the environment's: an endpoint that echoes one, even one
 * of a provider outside the chain it serves (two providers behind one
 * proxy), reaches neither the client nor the request log, which is built
 * from the environment as `Gateway.layerDefaults` builds it; nor does one a
 * client pasted into a prompt, when prompts are logged. One pasted as an
 * alias name, which `GET /v1/models` lists to every client, stops the
 * gateway before it serves; so does one pasted as a gateway key's subject
 * (in the file or `BATON_GATEWAY_KEYS`), which every request of that key
 * would write to the request log and the usage ledger.
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Result } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"
import * as Fixture from "./fixture.ts"

/** Not key-shaped: only the configured values can catch them. */
const prodKey = "canary-openai-prod-0123456789abcdef"
const localKey = "canary-local-key-fedcba9876543210"

// prompts logged (`LLM_LOG_PROMPTS`): a key a client pastes into one is scrubbed too
const environment = {
  ...Fixture.environment,
  OPENAI_KEY_PROD: prodKey,
  LOCAL_API_KEY: localKey,
  LLM_LOG_PROMPTS: "true"
}

const TestLayer = Layer.unwrap(Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const config = yield* GatewayConfig.parse(
    JSON.stringify({
      providers: {
        openai: { baseUrl: mock.baseUrl("openai"), models: ["gpt-4o-mini"], apiKeyEnv: "OPENAI_KEY_PROD" },
        // an OpenAI-compatible endpoint behind the same proxy, its key from LOCAL_API_KEY
        local: { baseUrl: mock.baseUrl("deepseek"), models: ["llama3"] }
      },
      models: { main: ["openai/gpt-4o-mini"], solo: ["local/llama3"] },
      keys: [{ sha256: GatewayConfig.hashKey(Fixture.clientKey), subject: "teacher-1" }]
    }),
    "json"
  )
  return Gateway.layer(config, { port: 0 })
})).pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      LlmConfig.layerPricing,
      // the request log `layerDefaults` builds (`RequestLog.layerFromConfig`), in memory
      Layer.unwrap(Effect.map(RequestLog.optionsFromConfig, RequestLog.layerMemory)),
      UsageLedger.layerMemory(),
      QuotaLimiter.layerStoreMemory,
      NodeHttpClient.layerUndici
    ).pipe(Layer.provideMerge(LlmConfig.layerFromRecord(environment)))
  ),
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(environment))),
  Layer.provideMerge(MockProviderServer.layer())
)

layer(TestLayer, { excludeTestServices: true })("Gateway: config-file provider keys", (it) => {
  it.effect("a key of another config-file provider echoed in an error reaches neither the client nor the log", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const log = yield* RequestLog.RequestLogMemory
      // the chain `solo` holds only `local`; its endpoint echoes openai's key (and its own)
      yield* mock.inject(
        "deepseek",
        MockFault.status(400, { message: `model not served for ${prodKey} (asked with ${localKey})` })
      )
      const response = yield* Fixture.post(url, { model: "solo", messages: [{ role: "user", content: "Hello" }] })
      assert.strictEqual(response.status, 400, response.text)
      const records = yield* log.records
      assert.deepStrictEqual(records.map((r) => [r.provider, r.errorTag]), [["local", "InvalidRequest"]])
      const seen = { response: response.text, log: JSON.stringify(records) }
      const leaks = Object.entries(seen).filter(([, text]) => text.includes(prodKey) || text.includes(localKey))
      assert.deepStrictEqual(leaks.map(([where]) => where), [])
      assert.include(seen.log, "[redacted]")
    }))

  it.effect("a config-file provider's key in a prompt is scrubbed from the logged prompt", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const log = yield* RequestLog.RequestLogMemory
      const before = (yield* log.records).length
      const response = yield* Fixture.post(url, {
        model: "solo",
        messages: [{ role: "user", content: `Are ${prodKey} and ${localKey} still valid?` }]
      })
      assert.strictEqual(response.status, 200, response.text)
      const prompts = (yield* log.records).slice(before).map((record) => record.prompt)
      assert.deepStrictEqual(prompts, ["user: Are [redacted] and [redacted] still valid?"])
    }))
})

/**
 * The gateway `baton serve --config` runs on the YAML file `textOf` writes
 * for the mock server's OpenAI URL, its `openai` key `prodKey`, and the mock.
 */
const gatewayOfYaml = (textOf: (openaiUrl: string) => string) => {
  const extra = { OPENAI_KEY_PROD: prodKey }
  return Layer.unwrap(Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const path = join(mkdtempSync(join(tmpdir(), "baton-gateway-secrets-")), "baton.yaml")
    writeFileSync(path, textOf(mock.baseUrl("openai")))
    return Gateway.layer(yield* GatewayConfig.load(path), { port: 0 })
  })).pipe(
    Layer.provideMerge(Fixture.services({ environment: extra })),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ...Fixture.environment, ...extra }))),
    Layer.provideMerge(MockProviderServer.layer())
  )
}

describe("Gateway: a provider key pasted as an alias name", () => {
  it.effect("refuses the file without showing the key, so GET /v1/models, which lists every alias, never serves it", () =>
    Effect.gen(function*() {
      const listed = Fixture.gatewayUrl.pipe(
        Effect.flatMap((url) => Effect.promise(() => Fixture.client(url).models.list())),
        Effect.map((page) => page.data.map((model) => model.id)),
        Effect.provide(gatewayOfYaml((openaiUrl) =>
          `providers:
  openai: { baseUrl: "${openaiUrl}", models: [gpt-4o-mini], apiKeyEnv: OPENAI_KEY_PROD }
models:
  ${prodKey}: [openai/gpt-4o-mini]
keys:
  - { sha256: ${GatewayConfig.hashKey(Fixture.clientKey)}, subject: teacher-1 }
`
        ))
      )
      const served = yield* Effect.result(listed)
      assert.isTrue(Result.isFailure(served), `GET /v1/models: ${JSON.stringify(Result.getOrUndefined(served))}`)
      const error = Result.isFailure(served) ? served.failure : undefined
      assert.instanceOf(error, GatewayConfig.GatewayConfigError)
      assert.strictEqual(error.field, "models")
      assert.notInclude(error.message, prodKey.slice(0, 8))
    }))
})

describe("Gateway: a provider key pasted as a gateway key's subject", () => {
  it.effect("refuses the file, naming the entry and line without the key, so no request logs the key as its subject", () =>
    Effect.gen(function*() {
      const logged = Effect.gen(function*() {
        const response = yield* Fixture.post(yield* Fixture.gatewayUrl, {
          model: "main",
          messages: [{ role: "user", content: "Hello" }]
        })
        const records = yield* (yield* RequestLog.RequestLogMemory).records
        return { status: response.status, recordsHoldingTheKey: records.filter((r) => r.subjectId === prodKey).length }
      }).pipe(Effect.provide(gatewayOfYaml((openaiUrl) =>
        `providers:
  openai: { baseUrl: "${openaiUrl}", models: [gpt-4o-mini], apiKeyEnv: OPENAI_KEY_PROD }
models:
  main: [openai/gpt-4o-mini]
keys:
  - sha256: ${GatewayConfig.hashKey("gw-other-key")}
    subject: teacher-2
  - sha256: ${GatewayConfig.hashKey(Fixture.clientKey)}
    subject: ${prodKey}
`
      )))
      const served = yield* Effect.result(logged)
      assert.isTrue(Result.isFailure(served), `served: ${JSON.stringify(Result.getOrUndefined(served))}`)
      const error = Result.isFailure(served) ? served.failure : undefined
      assert.instanceOf(error, GatewayConfig.GatewayConfigError)
      assert.strictEqual(error.field, "keys[1].subject")
      assert.strictEqual(error.line, 9)
      assert.include(error.message, "holds an API key")
      assert.notInclude(error.message, prodKey.slice(0, 8))
    }))

  it.effect("refuses a subject holding the key as a provider key's name would be: within it, cut, or masked", () =>
    Effect.gen(function*() {
      for (const subject of [`teacher-${prodKey}`, prodKey.slice(0, 12), `${prodKey.slice(0, 10)}****cdef`]) {
        const file = {
          providers: { openai: { models: ["gpt-4o-mini"], apiKeyEnv: "OPENAI_KEY_PROD" } },
          keys: [{ sha256: GatewayConfig.hashKey(Fixture.clientKey), subject }]
        }
        const error = yield* Effect.flip(GatewayConfig.parse(JSON.stringify(file), "json")).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ OPENAI_KEY_PROD: prodKey })))
        )
        assert.strictEqual(error.field, "keys[0].subject", subject)
        assert.notInclude(error.message, prodKey.slice(0, 8), subject)
      }
    }))

  it.live("BATON_GATEWAY_KEYS: Gateway.serve refuses, naming the variable and the entry without the key", () =>
    Effect.gen(function*() {
      const deepseekKey = "sk-canary-deepseek-0123456789abcdef"
      const usage = join(mkdtempSync(join(tmpdir(), "baton-gateway-secrets-")), "usage.sqlite")
      const error = yield* Effect.flip(
        Gateway.serve({ port: 0 }).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
            LLM_CHAIN: "deepseek/deepseek-flash",
            DEEPSEEK_API_KEY: deepseekKey,
            LLM_USAGE_STORE_URL: `sqlite:${usage}`,
            BATON_GATEWAY_KEYS: `teacher-1:${GatewayConfig.hashKey("gw-a")},ops-${deepseekKey}:${
              GatewayConfig.hashKey(Fixture.clientKey)
            }`
          }))),
          // without the check, serve starts listening: a timeout, not the config's error
          Effect.timeout("10 seconds")
        )
      )
      assert.instanceOf(error, GatewayConfig.GatewayConfigError)
      assert.strictEqual(error.field, "BATON_GATEWAY_KEYS")
      assert.match(error.message, /^BATON_GATEWAY_KEYS: entry 2: .*holds an API key/)
      assert.notInclude(error.message, deepseekKey.slice(0, 8))
    }))
})
