/**
 * The keys a config file's providers read (`apiKeyEnv`, `<NAME>_API_KEY`)
 * are secrets like the environment's: an endpoint that echoes one, even one
 * of a provider outside the chain it serves (two providers behind one
 * proxy), reaches neither the client nor the request log, which is built
 * from the environment as `Gateway.layerDefaults` builds it; nor does one a
 * client pasted into a prompt, when prompts are logged. Any key the
 * gateway holds (its file's or the environment's, whether it calls their
 * provider or not) pasted as an alias name, which `GET /v1/models` lists to
 * every client, a model or a step, which the request log records, or a
 * gateway key's subject, which every request of that key would write to the
 * request log and the usage ledger, stops the gateway before it serves,
 * whether the config came from a file, `BATON_GATEWAY_KEYS` or code.
 */
import { ModelId, ProviderName, SubjectId } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Redacted, Result } from "effect"
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
 * The gateway `baton serve --config` runs on the config `configOf` gives
 * (for the mock server), with the environment's `LlmConfig` read without a
 * chain (`layerWithoutChain`, as `Gateway.layerDefaults` reads it) from
 * `extra` and `openai`'s key `prodKey` (`OPENAI_KEY_PROD`) over the
 * fixture's variables, and the mock.
 */
const gatewayOver = (
  configOf: (
    mock: MockProviderServer.MockProviderServer["Service"]
  ) => Effect.Effect<GatewayConfig.GatewayConfig, GatewayConfig.GatewayConfigError>,
  extra: Readonly<Record<string, string>> = {}
) =>
  Layer.unwrap(
    Effect.map(MockProviderServer.MockProviderServer.use(configOf), (config) => Gateway.layer(config, { port: 0 }))
  ).pipe(
    Layer.provideMerge(Fixture.services({ llmConfig: LlmConfig.layerWithoutChain })),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
      ...Fixture.environment,
      OPENAI_KEY_PROD: prodKey,
      ...extra
    }))),
    Layer.provideMerge(MockProviderServer.layer())
  )

/** `gatewayOver` the YAML file `textOf` writes for the mock server's OpenAI URL, loaded as `baton serve` loads it. */
const gatewayOfYaml = (textOf: (openaiUrl: string) => string, extra: Readonly<Record<string, string>> = {}) =>
  gatewayOver((mock) => {
    const path = join(mkdtempSync(join(tmpdir(), "baton-gateway-secrets-")), "baton.yaml")
    writeFileSync(path, textOf(mock.baseUrl("openai")))
    return GatewayConfig.load(path)
  }, extra)

/**
 * A request of the client's key to the gateway of `gateway`: its status and
 * the request-log records whose subject holds `secret`, or the error that
 * stopped the gateway.
 */
const served = (gateway: ReturnType<typeof gatewayOver>, secret: string) =>
  Effect.result(
    Effect.gen(function*() {
      const response = yield* Fixture.post(yield* Fixture.gatewayUrl, {
        model: "main",
        messages: [{ role: "user", content: "Hello" }]
      })
      const records = yield* (yield* RequestLog.RequestLogMemory).records
      return { status: response.status, recordsHoldingTheKey: records.filter((r) => r.subjectId === secret).length }
    }).pipe(Effect.provide(gateway))
  )

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
  /** A file serving `main` on OpenAI (key `prodKey`), the client's key of subject `subject`. */
  const fileWithSubject = (subject: string) => (openaiUrl: string) =>
    `providers:
  openai: { baseUrl: "${openaiUrl}", models: [gpt-4o-mini], apiKeyEnv: OPENAI_KEY_PROD }
models:
  main: [openai/gpt-4o-mini]
keys:
  - sha256: ${GatewayConfig.hashKey("gw-other-key")}
    subject: teacher-2
  - sha256: ${GatewayConfig.hashKey(Fixture.clientKey)}
    subject: ${subject}
`

  /** The entry as `Gateway.make` names it, not knowing the config's source (`parse` names it `keys[1]`). */
  const inConfig = "entry 2 of BATON_GATEWAY_KEYS, or keys\\[1\\] of a file or a config built in code"

  /**
   * The gateway of `gateway` stopped before it served, by an error naming the
   * entry (`place`, a pattern) and not showing `secret`.
   */
  const assertRefused = (result: Effect.Success<ReturnType<typeof served>>, secret: string, place = "keys\\[1\\]") => {
    assert.isTrue(Result.isFailure(result), `served: ${JSON.stringify(Result.getOrUndefined(result))}`)
    const error = Result.isFailure(result) ? result.failure : undefined
    assert.instanceOf(error, GatewayConfig.GatewayConfigError)
    assert.strictEqual(error.field, "keys")
    assert.match(
      error.message,
      new RegExp(
        `^gateway config: keys( \\(line \\d+\\))?: the gateway key [0-9a-f]{12}\\.\\.\\. \\(${place}\\): ` +
          "its subject holds \\(the start of\\) the value of [A-Z0-9_]+ \\(an API key; not shown\\)"
      )
    )
    assert.notInclude(error.message, secret.slice(0, 8))
  }

  it.effect("refuses a file whose subject holds the key of one of its providers", () =>
    Effect.gen(function*() {
      assertRefused(yield* served(gatewayOfYaml(fileWithSubject(prodKey)), prodKey), prodKey)
    }))

  it.effect("refuses a file whose subject holds a key of the environment, whichever provider or endpoint it is for", () =>
    Effect.gen(function*() {
      const environmentKeys = {
        // a hosted provider the file does not list
        GEMINI_API_KEY: "AIzaSyCanary-gemini-0123456789abcdef",
        // the file's openai reads OPENAI_KEY_PROD: the environment's own OpenAI key is another
        OPENAI_API_KEY: Fixture.providerKeys.OPENAI_API_KEY,
        // an OpenAI-compatible endpoint neither the file nor a chain names
        LLM_COMPAT_LOCAL_API_KEY: "canary-compat-local-0123456789abcdef"
      }
      for (const [variable, secret] of Object.entries(environmentKeys)) {
        const result = yield* served(gatewayOfYaml(fileWithSubject(secret), { [variable]: secret }), secret)
        assertRefused(result, secret)
      }
    }))

  it.effect("refuses a subject holding the key as a provider key's name would be: within it, cut, or masked", () =>
    Effect.gen(function*() {
      for (const subject of [`teacher-${prodKey}`, prodKey.slice(0, 12), `${prodKey.slice(0, 10)}****cdef`]) {
        assertRefused(yield* served(gatewayOfYaml(fileWithSubject(subject)), subject), prodKey)
      }
    }))

  it.effect("does not show the subject in the error on its keys' limits", () =>
    Effect.gen(function*() {
      // a key no variable of this environment holds, so no key check refuses the subject: the limits' error must not show it
      const geminiKey = "AIzaSyCanary-gemini-0123456789abcdef"
      const file = {
        providers: { openai: { models: ["gpt-4o-mini"], apiKeyEnv: "OPENAI_KEY_PROD" } },
        keys: [
          { sha256: GatewayConfig.hashKey("gw-a"), subject: geminiKey, daily: 1 },
          { sha256: GatewayConfig.hashKey("gw-b"), subject: geminiKey, daily: 2 }
        ]
      }
      const error = yield* Effect.flip(GatewayConfig.parse(JSON.stringify(file), "json")).pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ OPENAI_KEY_PROD: prodKey })))
      )
      assert.strictEqual(error.field, "keys[1].daily")
      assert.notInclude(error.message, geminiKey.slice(0, 8))
    }))

  it.effect("refuses a config built in code", () =>
    Effect.gen(function*() {
      const keyed = { sha256: GatewayConfig.hashKey(Fixture.clientKey), subject: SubjectId.make(prodKey) }
      const gateway = gatewayOver((mock) =>
        Effect.map(
          GatewayConfig.parse(
            JSON.stringify({
              providers: {
                openai: { baseUrl: mock.baseUrl("openai"), models: ["gpt-4o-mini"], apiKeyEnv: "OPENAI_KEY_PROD" }
              },
              models: { main: ["openai/gpt-4o-mini"] },
              keys: [{ sha256: GatewayConfig.hashKey("gw-other-key"), subject: "teacher-2" }]
            }),
            "json"
          ),
          (config) => ({ ...config, keys: new Map([...config.keys, [keyed.sha256, keyed]]) })
        )
      )
      assertRefused(yield* served(gateway, prodKey), prodKey, inConfig)
    }))

  it.live("BATON_GATEWAY_KEYS: Gateway.serve refuses, naming the entry without the key", () =>
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
      assert.strictEqual(error.field, "keys")
      assert.match(
        error.message,
        /\(entry 2 of BATON_GATEWAY_KEYS, or keys\[1\] of a file or a config built in code\): its subject holds \(the start of\) the value of DEEPSEEK_API_KEY \(an API key; not shown\)/
      )
      assert.notInclude(error.message, deepseekKey.slice(0, 8))
    }))

  it.effect("names the variable whose value the subject holds, a placeholder's too, never the value", () =>
    Effect.gen(function*() {
      // an endpoint the gateway never calls, its variable holding a placeholder the subject begins with
      const result = yield* served(
        gatewayOfYaml(fileWithSubject("local-llm"), { LLM_COMPAT_X_API_KEY: "local-llm-key" }),
        "local-llm"
      )
      const error = Result.isFailure(result) ? result.failure : undefined
      assert.instanceOf(error, GatewayConfig.GatewayConfigError)
      assert.include(
        error.message,
        "its subject holds (the start of) the value of LLM_COMPAT_X_API_KEY (an API key; not shown)"
      )
      assert.include(error.message, "or change LLM_COMPAT_X_API_KEY if its value is a placeholder")
      assert.notInclude(error.message, "local-llm-key")
    }))
})

describe("Gateway: an environment key pasted as a name, a model or a step", () => {
  /** A key of the environment for a provider the file does not list. */
  const geminiKey = "AIzaSyCanary-gemini-0123456789abcdef"

  /** A file serving `main` on OpenAI (key `prodKey`, models `openaiModels`), `extraAliases` (YAML lines) under `models`. */
  const fileWith = (openaiModels: string, extraAliases: string) => (openaiUrl: string) =>
    `providers:
  openai: { baseUrl: "${openaiUrl}", models: [${openaiModels}], apiKeyEnv: OPENAI_KEY_PROD }
models:
  main: [openai/gpt-4o-mini]
${extraAliases}keys:
  - { sha256: ${GatewayConfig.hashKey(Fixture.clientKey)}, subject: teacher-1 }
`

  /** The gateway stopped before it served, by an error naming `field` and not showing the key. */
  const assertRefusedAt = (result: Effect.Success<ReturnType<typeof served>>, field: string) => {
    assert.isTrue(Result.isFailure(result), `served: ${JSON.stringify(Result.getOrUndefined(result))}`)
    const error = Result.isFailure(result) ? result.failure : undefined
    assert.instanceOf(error, GatewayConfig.GatewayConfigError)
    assert.strictEqual(error.field, field)
    assert.include(error.message, "API key")
    assert.notInclude(error.message, geminiKey.slice(0, 8))
  }

  const environment = { GEMINI_API_KEY: geminiKey }

  it.effect("refuses an alias name holding it (GET /v1/models lists every alias)", () =>
    Effect.gen(function*() {
      const gateway = gatewayOfYaml(fileWith("gpt-4o-mini", `  ${geminiKey}: [openai/gpt-4o-mini]\n`), environment)
      assertRefusedAt(yield* served(gateway, geminiKey), "models")
    }))

  it.effect("refuses a provider's model and a step's model holding it (the request log's model)", () =>
    Effect.gen(function*() {
      const gateway = gatewayOfYaml(
        fileWith(`gpt-4o-mini, ${geminiKey}`, `  keyed: [openai/${geminiKey}]\n`),
        environment
      )
      assertRefusedAt(yield* served(gateway, geminiKey), "providers.openai.models[1]")
    }))

  it.effect("refuses a step whose provider holds it, advising a provider name there", () =>
    Effect.gen(function*() {
      const gateway = gatewayOfYaml(fileWith("gpt-4o-mini", `  keyed: [${geminiKey}/gpt-4o-mini]\n`), environment)
      const result = yield* served(gateway, geminiKey)
      assertRefusedAt(result, "models.keyed[0]")
      const error = Result.isFailure(result) ? result.failure : undefined
      assert.instanceOf(error, GatewayConfig.GatewayConfigError)
      assert.include(
        error.message,
        "the provider before \"/\" holds (the start of) the value of GEMINI_API_KEY (an API key; not shown); " +
          "put a provider name here and the key in its key variable"
      )
    }))

  it.effect("refuses a step's model holding it in a config built in code", () =>
    Effect.gen(function*() {
      const gateway = gatewayOver((mock) =>
        Effect.map(
          GatewayConfig.parse(fileWith("gpt-4o-mini", "")(mock.baseUrl("openai")), "yaml"),
          (config) => ({
            ...config,
            aliases: new Map([
              ...config.aliases,
              ["keyed", [{ provider: ProviderName.make("openai"), model: ModelId.make(`${geminiKey}-mini`) }]]
            ])
          })
        ), environment)
      assertRefusedAt(yield* served(gateway, geminiKey), "models.keyed[0]")
    }))
})

describe("Gateway: a provider key pasted as a property name the schema refuses", () => {
  it.effect("the error shows the field with the key's segment hidden, and the line", () =>
    Effect.gen(function*() {
      const key = "sk-proj-canary0123456789abcdef"
      const openai = `providers:\n  openai: { models: [gpt-4o-mini] }\n`
      const entry = `{ sha256: ${GatewayConfig.hashKey(Fixture.clientKey)}, subject: t1`
      const cases = [
        { text: `${openai}keys:\n  - ${entry}, ${key}: 1 }\n`, field: "keys[0].<a key: not shown>" },
        { text: `${openai}keys: []\n${key}: 1\n`, field: "<a key: not shown>" }
      ]
      for (const { field, text } of cases) {
        const path = join(mkdtempSync(join(tmpdir(), "baton-gateway-secrets-")), "baton.yaml")
        writeFileSync(path, text)
        const error = yield* Effect.flip(GatewayConfig.load(path)).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ OPENAI_API_KEY: key })))
        )
        assert.strictEqual(error.field, field)
        assert.strictEqual(error.line, 4)
        assert.strictEqual(error.message, `gateway config: ${field} (line 4): Expected no excess property`)
      }
    }))
})

describe("Gateway: an environment key the file does not read, in an error of the file", () => {
  const geminiKey = "AIzaSyCanary-gemini-0123456789abcdef"
  const compatKey = "canary-compat-local-0123456789abcdef"
  const environment = { OPENAI_API_KEY: prodKey, GEMINI_API_KEY: geminiKey, LLM_COMPAT_LOCAL_API_KEY: compatKey }
  const openai = "providers:\n  openai: { models: [gpt-4o-mini] }\n"

  const holds = (variable: string) => `holds (the start of) the value of ${variable} (an API key; not shown)`

  /**
   * Files listing only openai, each pasting a key of the environment where an
   * error of the file repeats it: the field the file is refused at, and what
   * the message says there.
   */
  const files = {
    "a step's model not in its provider's models": [
      `${openai}models:\n  main: [openai/${geminiKey}]\nkeys: []\n`,
      "models.main[0]",
      `the model after "/" ${holds("GEMINI_API_KEY")}`
    ],
    "a step's unknown provider": [
      `${openai}models:\n  main: [${compatKey}/x]\nkeys: []\n`,
      "models.main[0]",
      `the provider before "/" ${holds("LLM_COMPAT_LOCAL_API_KEY")}`
    ],
    "an alias with '/'": [
      `${openai}models:\n  ${compatKey}/x: [openai/gpt-4o-mini]\nkeys: []\n`,
      "models",
      `an alias name ${holds("LLM_COMPAT_LOCAL_API_KEY")}`
    ],
    "a provider name without its baseUrl": [
      `${openai}  ${compatKey}: { models: [a] }\nkeys: []\n`,
      "providers",
      `a provider name ${holds("LLM_COMPAT_LOCAL_API_KEY")}`
    ],
    "a provider name the schema refuses": [
      `${openai}  ${geminiKey}: { models: [a] }\nkeys: []\n`,
      "providers",
      `a provider name ${holds("GEMINI_API_KEY")}`
    ],
    "an alias the schema refuses": [
      `${openai}models:\n  ${geminiKey}: []\nkeys: []\n`,
      "models",
      `an alias name ${holds("GEMINI_API_KEY")}`
    ],
    "a top-level property": [
      `${openai}keys: []\n${geminiKey}: 1\n`,
      "<a key: not shown>",
      "Expected no excess property"
    ]
  } as const

  it.effect("GatewayConfig.load (baton serve --config) refuses each file where expected without showing the key", () =>
    Effect.gen(function*() {
      for (const [name, [text, field, said]] of Object.entries(files)) {
        const path = join(mkdtempSync(join(tmpdir(), "baton-gateway-secrets-")), "baton.yaml")
        writeFileSync(path, text)
        const error = yield* Effect.flip(GatewayConfig.load(path)).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(environment)))
        )
        assert.strictEqual(error.field, field, name)
        assert.include(error.message, said, name)
        for (const key of [geminiKey, compatKey]) {
          assert.notInclude(`${error.field} ${error.message}`, key.slice(0, 8), name)
        }
      }
    }))

  /** Files the parser refuses, its message naming the key. */
  const unparsed = {
    "baton.yaml: a duplicate key": [
      `${openai}models:\n  ${geminiKey}: []\n  ${geminiKey}: []\nkeys: []\n`,
      /^gateway config: not valid YAML \(Duplicate key '\[redacted\]' at line 5\b/
    ],
    "baton.yaml: an unknown alias": [
      `${openai}models:\n  x: *${geminiKey}\nkeys: []\n`,
      /^gateway config: not valid YAML \(Unknown YAML alias '\*\[redacted\]'/
    ],
    "baton.json: a key unquoted": [
      `{"providers": {"openai": {"models": ["gpt-4o-mini"], "apiKeyEnv": ${geminiKey}}}, "keys": []}`,
      /^gateway config: not valid JSON \(Unexpected token 'A'\)$/
    ]
  } as const

  it.effect("GatewayConfig.load refuses a file that does not parse without showing the key, saying where", () =>
    Effect.gen(function*() {
      for (const [name, [text, expected]] of Object.entries(unparsed)) {
        const path = join(mkdtempSync(join(tmpdir(), "baton-gateway-secrets-")), name.slice(0, name.indexOf(":")))
        writeFileSync(path, text)
        const error = yield* Effect.flip(GatewayConfig.load(path)).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(environment)))
        )
        assert.notInclude(error.message, geminiKey.slice(0, 8), name)
        assert.match(error.message, expected, name)
      }
    }))
})

describe("GatewayConfig.heldKeys", () => {
  it.effect("lists a key both the file's provider and the environment hold once", () =>
    Effect.gen(function*() {
      const config = yield* GatewayConfig.parse(
        JSON.stringify({ providers: { openai: { models: ["gpt-4o-mini"] } }, keys: [] }),
        "json"
      )
      const settings = yield* LlmConfig.LlmConfig
      const held = GatewayConfig.heldKeys(config, settings).map(Redacted.value)
      assert.deepStrictEqual(held, [prodKey])
    }).pipe(
      // the gateway's settings (no chain), read from the environment the file's provider reads too
      Effect.provide(LlmConfig.layerWithoutChain),
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ OPENAI_API_KEY: prodKey })))
    ))
})
