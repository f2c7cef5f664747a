import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmConfig from "../src/LlmConfig.ts"
import * as Pricing from "../src/Pricing.ts"
import { Bench, managerFromEnv } from "./utils/chain.ts"

const keys = { DEEPSEEK_API_KEY: "sk-deepseek", GEMINI_API_KEY: "g-key" }

const load = (variables: Record<string, string>) =>
  Effect.service(LlmConfig.LlmConfig).pipe(Effect.provide(LlmConfig.layerFromRecord(variables)))

const failsOn = (variables: Record<string, string>, variable: string, text: string) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(load(variables))
    assert.strictEqual(error._tag, "LlmConfigError")
    assert.strictEqual(error.variable, variable)
    assert.include(error.message, variable)
    assert.include(error.message, text)
  })

describe("LlmConfig", () => {
  it.effect("reads the defaults", () =>
    Effect.gen(function*() {
      const config = yield* load(keys)
      assert.deepStrictEqual(config.chain, ["deepseek", "gemini"])
      assert.strictEqual(config.generationEnabled, true)
      assert.strictEqual(config.maxQuestionsPerRequest, 20)
      assert.strictEqual(config.dailyLimitPerTeacher, 100)
      assert.strictEqual(config.quotaTimeZone, "UTC")
      assert.strictEqual(config.providers.deepseek.model, "deepseek-flash")
      assert.strictEqual(config.providers.deepseek.baseUrl, "https://api.deepseek.com")
      assert.isTrue(Option.isNone(config.providers.openai.apiKey))
      assert.strictEqual(Redacted.value(Option.getOrThrow(config.providers.deepseek.apiKey)), "sk-deepseek")
      assert.notInclude(JSON.stringify(config.providers), "sk-deepseek")
      assert.isTrue(Option.isNone(config.redisUrl))
    }))

  it.effect("reads every setting", () =>
    Effect.gen(function*() {
      const config = yield* load({
        ...keys,
        OPENAI_API_KEY: "sk-openai",
        LLM_PRIMARY_PROVIDER: "OpenAI",
        LLM_FALLBACK_PROVIDERS: "gemini, deepseek",
        AI_GENERATION_ENABLED: "false",
        AI_MAX_QUESTIONS_PER_REQUEST: "5",
        AI_DAILY_LIMIT_PER_TEACHER: "500",
        AI_QUOTA_TIMEZONE: "Asia/Tokyo",
        OPENAI_MODEL: "gpt-4.1",
        OPENAI_BASE_URL: "http://127.0.0.1:8080/openai/v1/",
        LLM_REQUEST_TIMEOUT_MS: "10000",
        LLM_MAX_RETRIES: "0",
        REDIS_URL: "redis://127.0.0.1:6379",
        LLM_PRICES: JSON.stringify({ openai: { models: { "gpt-4.1": { input: 1, output: 4 } } } })
      })
      assert.deepStrictEqual(config.chain, ["openai", "gemini", "deepseek"])
      assert.strictEqual(config.generationEnabled, false)
      assert.strictEqual(config.maxQuestionsPerRequest, 5)
      assert.strictEqual(config.dailyLimitPerTeacher, 500)
      assert.strictEqual(config.quotaTimeZone, "Asia/Tokyo")
      assert.strictEqual(config.providers.openai.model, "gpt-4.1")
      assert.strictEqual(config.providers.openai.baseUrl, "http://127.0.0.1:8080/openai/v1")
      assert.strictEqual(config.requestTimeoutMs, 10_000)
      assert.strictEqual(config.maxRetries, 0)
      assert.isTrue(Option.isSome(config.redisUrl))
      const price = Pricing.lookup(config.prices, ProviderName.make("openai"), ModelId.make("gpt-4.1"))
      // a row without cachedInput keeps the default row's cached rate (at most its input)
      assert.deepStrictEqual(price.price, { input: 1, cachedInput: 0.5, output: 4 })
    }))

  it.effect("allows no fallback", () =>
    Effect.gen(function*() {
      const config = yield* load({ DEEPSEEK_API_KEY: "k", LLM_FALLBACK_PROVIDER: "none" })
      assert.deepStrictEqual(config.chain, ["deepseek"])
    }))

  it.effect("builds the pricing service from the configured table", () =>
    Effect.gen(function*() {
      const pricing = yield* Pricing.Pricing
      const usage = pricing.usage(ProviderName.make("gemini"), ModelId.make("x"), {
        promptTokens: 1e6,
        completionTokens: 0
      })
      assert.strictEqual(usage.costNanoUsd, 10_000_000)
    }).pipe(Effect.provide(LlmConfig.layerPricing.pipe(
      Layer.provide(
        LlmConfig.layerFromRecord({
          ...keys,
          LLM_PRICES: "{\"gemini\":{\"default\":{\"input\":0.01,\"output\":0.02}}}"
        })
      )
    ))))

  it.effect("names an unknown primary provider and lists the valid ones", () =>
    failsOn(
      { ...keys, LLM_PRIMARY_PROVIDER: "mistral" },
      "LLM_PRIMARY_PROVIDER",
      "deepseek, gemini, openai, anthropic"
    ))
  it.effect("a blank primary provider is said to be blank, not an unknown provider \" \"", () =>
    Effect.gen(function*() {
      for (const blank of [" ", "\t\n"]) {
        const error = yield* Effect.flip(managerFromEnv({ LLM_PRIMARY_PROVIDER: blank }))
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, "LLM_PRIMARY_PROVIDER", JSON.stringify(blank))
        assert.include(error.message, "is blank", JSON.stringify(blank))
        assert.notInclude(error.message, "unknown provider", JSON.stringify(blank))
      }
    }).pipe(Effect.provide(Bench)))
  it.effect("names an unknown fallback provider", () =>
    failsOn({ ...keys, LLM_FALLBACK_PROVIDER: "grok" }, "LLM_FALLBACK_PROVIDER", "unknown provider \"grok\""))
  it.effect("names an unknown provider in a longer chain", () =>
    failsOn({ ...keys, LLM_FALLBACK_PROVIDERS: "gemini,nope" }, "LLM_FALLBACK_PROVIDERS", "unknown provider \"nope\""))
  it.effect("reads a blank fallback variable as unset: the default fallback, not none", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* load({ ...keys, LLM_FALLBACK_PROVIDER: " " })).chain, ["deepseek", "gemini"])
      const list = yield* load({
        ...keys,
        OPENAI_API_KEY: "o",
        LLM_FALLBACK_PROVIDER: "openai",
        LLM_FALLBACK_PROVIDERS: " "
      })
      assert.deepStrictEqual(list.chain, ["deepseek", "openai"])
    }))
  it.effect("rejects a fallback list that names no provider", () =>
    failsOn({ ...keys, LLM_FALLBACK_PROVIDERS: " , " }, "LLM_FALLBACK_PROVIDERS", "names no provider"))
  it.effect("rejects an empty entry in a fallback list, as LLM_CHAIN rejects an empty step", () =>
    Effect.gen(function*() {
      yield* failsOn({ ...keys, LLM_FALLBACK_PROVIDERS: "gemini,,openai" }, "LLM_FALLBACK_PROVIDERS", "empty entry")
      yield* failsOn({ ...keys, LLM_FALLBACK_PROVIDERS: "gemini," }, "LLM_FALLBACK_PROVIDERS", "empty entry")
    }))
  it.effect("rejects none listed with providers", () =>
    failsOn({ ...keys, LLM_FALLBACK_PROVIDERS: "gemini,none" }, "LLM_FALLBACK_PROVIDERS", "stands alone"))
  it.effect("rejects a primary that is also the fallback", () =>
    failsOn({ ...keys, LLM_FALLBACK_PROVIDER: "deepseek" }, "LLM_FALLBACK_PROVIDER", "already the primary"))
  it.effect("rejects a provider listed twice", () =>
    failsOn({ ...keys, LLM_FALLBACK_PROVIDERS: "gemini,gemini" }, "LLM_FALLBACK_PROVIDERS", "listed twice"))
  it.effect("names the missing key of the primary", () =>
    failsOn({ GEMINI_API_KEY: "g" }, "DEEPSEEK_API_KEY", "primary"))
  it.effect("names the missing key of a fallback", () =>
    failsOn({ DEEPSEEK_API_KEY: "d" }, "GEMINI_API_KEY", "fallback"))
  it.effect("treats an empty key as missing", () =>
    failsOn({ ...keys, DEEPSEEK_API_KEY: "" }, "DEEPSEEK_API_KEY", "required"))
  it.effect("names the missing key of a longer chain", () =>
    failsOn({ ...keys, LLM_FALLBACK_PROVIDERS: "gemini,anthropic" }, "ANTHROPIC_API_KEY", "required"))
  it.effect("rejects a zero daily limit", () =>
    failsOn({ ...keys, AI_DAILY_LIMIT_PER_TEACHER: "0" }, "AI_DAILY_LIMIT_PER_TEACHER", "positive"))
  it.effect("rejects a negative per-request limit", () =>
    failsOn({ ...keys, AI_MAX_QUESTIONS_PER_REQUEST: "-3" }, "AI_MAX_QUESTIONS_PER_REQUEST", "positive"))
  it.effect("rejects a malformed number", () =>
    failsOn({ ...keys, AI_DAILY_LIMIT_PER_TEACHER: "lots" }, "AI_DAILY_LIMIT_PER_TEACHER", "lots"))
  it.effect("rejects a fractional number", () =>
    failsOn({ ...keys, LLM_REQUEST_TIMEOUT_MS: "1.5" }, "LLM_REQUEST_TIMEOUT_MS", "1.5"))
  it.effect("rejects a negative retry count", () =>
    failsOn({ ...keys, LLM_MAX_RETRIES: "-1" }, "LLM_MAX_RETRIES", "0 or more"))
  it.effect("rejects a malformed boolean", () =>
    failsOn({ ...keys, AI_GENERATION_ENABLED: "maybe" }, "AI_GENERATION_ENABLED", "maybe"))
  it.effect("rejects a malformed URL", () =>
    failsOn({ ...keys, DEEPSEEK_BASE_URL: "not a url" }, "DEEPSEEK_BASE_URL", "not a url"))
  it.effect("rejects a usage store URL no database takes, naming the variable and not the password", () =>
    Effect.gen(function*() {
      for (const url of ["mysql://u:S3CRET@h/db", "not a url", "postgres:/u:S3CRET@h/db", "sqlite:"]) {
        yield* failsOn({ ...keys, LLM_USAGE_STORE_URL: url }, "LLM_USAGE_STORE_URL", "unsupported database URL")
        const error = yield* Effect.flip(load({ ...keys, LLM_USAGE_STORE_URL: url }))
        assert.notInclude(error.message, "S3CRET", url)
        assert.include(error.message, LlmConfig.databaseUrlForms)
      }
      for (const url of ["sqlite:usage.db", "file:usage.db", "sqlite::memory:", "postgresql://u:S3CRET@h/db"]) {
        const config = yield* load({ ...keys, LLM_USAGE_STORE_URL: url })
        assert.isTrue(Option.isSome(config.usageStoreUrl), url)
      }
    }))
  it.effect("rejects a REDIS_URL that is no Redis URL at layer build, naming it and not the password", () =>
    Effect.gen(function*() {
      const urls = [
        "not a url",
        "http://127.0.0.1:6379",
        "redis://127.0.0.1:99999",
        "redis://127.0.0.1:notaport",
        "redis://:S3CRET-zq9@127.0.0.1:99999",
        "https://user:S3CRET-zq9@127.0.0.1:6379",
        "redis://user:S3CRET-zq9@127.0.0.1:6379/not-a-db"
      ]
      for (const url of urls) {
        const error = yield* Effect.flip(
          LlmConfig.layer.pipe(
            Layer.build,
            Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ...keys, REDIS_URL: url }))),
            Effect.scoped
          )
        )
        assert.strictEqual(error._tag, "LlmConfigError", url)
        assert.strictEqual(error.variable, "REDIS_URL", url)
        assert.match(error.message, /^REDIS_URL: not a Redis URL/, url)
        assert.notInclude(error.message, "S3CRET", url)
        assert.strictEqual(LlmConfig.redisUrlProblem(url) !== undefined, true, url)
      }
      for (const url of ["redis://127.0.0.1:6379", "rediss://user:S3CRET@cache.internal:6380/2", "redis://localhost"]) {
        const config = yield* load({ ...keys, REDIS_URL: url })
        assert.strictEqual(Redacted.value(Option.getOrThrow(config.redisUrl)), url)
        assert.isUndefined(LlmConfig.redisUrlProblem(url), url)
      }
    }))
  it.effect("rejects an unknown time zone", () =>
    failsOn({ ...keys, AI_QUOTA_TIMEZONE: "Mars/Olympus" }, "AI_QUOTA_TIMEZONE", "Mars/Olympus"))
  it.effect("reads the per-attempt limits and the manager options", () =>
    Effect.gen(function*() {
      const defaults = yield* load(keys)
      assert.strictEqual(defaults.firstByteTimeoutMs, 10_000)
      assert.strictEqual(defaults.firstTokenTimeoutMs, 10_000)
      assert.strictEqual(defaults.streamIdleTimeoutMs, 15_000)
      assert.isTrue(Option.isNone(defaults.hedgeDelayMs))
      assert.strictEqual(defaults.structuredOutputRetries, 1)
      assert.strictEqual(defaults.continueOnInterruption, true)
      const config = yield* load({
        ...keys,
        LLM_FIRST_BYTE_TIMEOUT_MS: "500",
        LLM_FIRST_TOKEN_TIMEOUT_MS: "800",
        LLM_STREAM_IDLE_TIMEOUT_MS: "300",
        LLM_HEDGE_DELAY_MS: "1500",
        LLM_STRUCTURED_OUTPUT_RETRIES: "0",
        LLM_CONTINUE_ON_INTERRUPTION: "false"
      })
      assert.strictEqual(config.firstByteTimeoutMs, 500)
      assert.strictEqual(config.firstTokenTimeoutMs, 800)
      assert.strictEqual(config.streamIdleTimeoutMs, 300)
      assert.deepStrictEqual(config.hedgeDelayMs, Option.some(1500))
      assert.strictEqual(config.structuredOutputRetries, 0)
      assert.strictEqual(config.continueOnInterruption, false)
    }))
  it.effect("rejects a zero hedge delay", () =>
    failsOn({ ...keys, LLM_HEDGE_DELAY_MS: "0" }, "LLM_HEDGE_DELAY_MS", "positive"))
  it.effect("rejects a malformed stream idle limit", () =>
    failsOn({ ...keys, LLM_STREAM_IDLE_TIMEOUT_MS: "soon" }, "LLM_STREAM_IDLE_TIMEOUT_MS", "soon"))
  it.effect("rejects malformed prices", () =>
    failsOn({ ...keys, LLM_PRICES: "{\"openai\":{\"default\":{\"input\":-1,\"output\":2}}}" }, "LLM_PRICES", "input"))

  it.effect("LLM_CHAIN: steps of any provider and model, OpenAI-compatible endpoints included", () =>
    Effect.gen(function*() {
      const config = yield* load({
        ...keys,
        LLM_CHAIN: "deepseek/deepseek-chat, DeepSeek/deepseek-reasoner,gemini,ollama,ollama/qwen3, my-proxy",
        LLM_COMPAT_OLLAMA_BASE_URL: "http://127.0.0.1:11434/v1/",
        LLM_COMPAT_OLLAMA_MODEL: "llama3.2",
        LLM_COMPAT_MY_PROXY_BASE_URL: "https://proxy.example/v1",
        LLM_COMPAT_MY_PROXY_MODEL: "meta-llama/llama-3-8b",
        LLM_COMPAT_MY_PROXY_API_KEY: "sk-proxy"
      })
      assert.deepStrictEqual(config.steps.map((step) => [step.provider, step.kind, step.model]), [
        ["deepseek", "deepseek", "deepseek-chat"],
        ["deepseek", "deepseek", "deepseek-reasoner"],
        ["gemini", "gemini", "gemini-2.5-flash"],
        ["ollama", "openai-compatible", "llama3.2"],
        ["ollama", "openai-compatible", "qwen3"],
        ["my-proxy", "openai-compatible", "meta-llama/llama-3-8b"]
      ])
      assert.deepStrictEqual(config.chain, ["deepseek", "gemini"])
      assert.strictEqual(config.compatible["ollama"]?.baseUrl, "http://127.0.0.1:11434/v1")
      assert.isTrue(config.compatible["ollama"] !== undefined && Option.isNone(config.compatible["ollama"].apiKey))
      assert.notInclude(JSON.stringify(config.compatible), "sk-proxy")
      // the model of the first step that names one, when the endpoint has no _MODEL
      const named = yield* load({ LLM_CHAIN: "local/qwen3", LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1" })
      assert.strictEqual(named.compatible["local"]?.model, "qwen3")
    }))
  it.effect("LLM_CHAIN names an unknown provider and how to declare an endpoint", () =>
    failsOn({ ...keys, LLM_CHAIN: "deepseek,olama" }, "LLM_CHAIN", "LLM_COMPAT_OLAMA_BASE_URL"))
  it.effect("LLM_CHAIN: an endpoint named like an Object property (constructor) is an endpoint like any other", () =>
    Effect.gen(function*() {
      yield* failsOn({ ...keys, LLM_CHAIN: "deepseek,constructor" }, "LLM_CHAIN", "LLM_COMPAT_CONSTRUCTOR_BASE_URL")
      const declared = yield* load({
        LLM_CHAIN: "constructor/m",
        LLM_COMPAT_CONSTRUCTOR_BASE_URL: "http://127.0.0.1:1/v1"
      })
      assert.deepStrictEqual(
        [declared.compatible["constructor"]?.baseUrl, declared.compatible["constructor"]?.model],
        ["http://127.0.0.1:1/v1", "m"]
      )
    }))
  it.effect("LLM_CHAIN rejects two endpoints whose names share their variables (my-llm, my_llm)", () =>
    failsOn(
      {
        ...keys,
        LLM_CHAIN: "my-llm,my_llm",
        LLM_COMPAT_MY_LLM_BASE_URL: "http://127.0.0.1:1/v1",
        LLM_COMPAT_MY_LLM_MODEL: "m"
      },
      "LLM_CHAIN",
      `"my-llm" and "my_llm" share the variables LLM_COMPAT_MY_LLM_*`
    ))
  it.effect("LLM_CHAIN rejects the same step twice", () =>
    failsOn({ ...keys, LLM_CHAIN: "gemini,deepseek,gemini/gemini-2.5-flash" }, "LLM_CHAIN", "listed twice"))
  it.effect("LLM_CHAIN rejects a blank model and an empty step", () =>
    Effect.gen(function*() {
      yield* failsOn({ ...keys, LLM_CHAIN: "deepseek/ ,gemini" }, "LLM_CHAIN", "must not be blank")
      yield* failsOn({ ...keys, LLM_CHAIN: "deepseek,,gemini" }, "LLM_CHAIN", "provider/model")
    }))
  it.effect("LLM_COMPAT_<KIND>_BASE_URL for a hosted provider of the chain is an error, not silently ignored", () =>
    Effect.gen(function*() {
      for (
        const variables of [
          { LLM_CHAIN: "deepseek", LLM_COMPAT_DEEPSEEK_BASE_URL: "http://127.0.0.1:1/v1" },
          { LLM_CHAIN: "gemini,openai/gpt-4.1", LLM_COMPAT_OPENAI_BASE_URL: "http://127.0.0.1:1/v1" },
          { LLM_PRIMARY_PROVIDER: "deepseek", LLM_COMPAT_DEEPSEEK_BASE_URL: "http://127.0.0.1:1/v1" }
        ]
      ) {
        const variable = Object.keys(variables)[1] ?? ""
        const error = yield* Effect.flip(managerFromEnv(variables))
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, variable, error.message)
        assert.include(error.message, variable.replace("LLM_COMPAT_", ""))
        assert.notInclude(error.message, "127.0.0.1")
      }
    }).pipe(Effect.provide(Bench)))

  it.effect("LLM_CHAIN next to LLM_PRIMARY_PROVIDER is an error", () =>
    failsOn({ ...keys, LLM_CHAIN: "gemini", LLM_PRIMARY_PROVIDER: "deepseek" }, "LLM_CHAIN", "LLM_PRIMARY_PROVIDER"))
  it.effect("LLM_CHAIN names the missing key of a hosted step", () =>
    failsOn({ ...keys, LLM_CHAIN: "gemini,openai/gpt-4.1" }, "OPENAI_API_KEY", "fallback"))
  it.effect("an OpenAI-compatible endpoint needs a model and a valid URL", () =>
    Effect.gen(function*() {
      yield* failsOn(
        { ...keys, LLM_CHAIN: "local", LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1" },
        "LLM_COMPAT_LOCAL_MODEL",
        "required"
      )
      yield* failsOn(
        { ...keys, LLM_CHAIN: "local/qwen3", LLM_COMPAT_LOCAL_BASE_URL: "nowhere" },
        "LLM_COMPAT_LOCAL_BASE_URL",
        "nowhere"
      )
    }))
  it.effect("reads the size caps; unset leaves the adapters' defaults", () =>
    Effect.gen(function*() {
      const defaults = yield* load(keys)
      assert.isTrue(Option.isNone(defaults.maxBodyBytes))
      assert.isTrue(Option.isNone(defaults.maxEventBytes))
      const config = yield* load({ ...keys, LLM_MAX_BODY_BYTES: "65536", LLM_MAX_EVENT_BYTES: "4096" })
      assert.deepStrictEqual(config.maxBodyBytes, Option.some(65_536))
      assert.deepStrictEqual(config.maxEventBytes, Option.some(4096))
    }))
  it.effect("rejects a zero, negative or malformed size cap", () =>
    Effect.gen(function*() {
      yield* failsOn({ ...keys, LLM_MAX_BODY_BYTES: "0" }, "LLM_MAX_BODY_BYTES", "positive")
      yield* failsOn({ ...keys, LLM_MAX_EVENT_BYTES: "-1" }, "LLM_MAX_EVENT_BYTES", "positive")
      yield* failsOn({ ...keys, LLM_MAX_BODY_BYTES: "16MB" }, "LLM_MAX_BODY_BYTES", "16MB")
    }))
})

describe("LlmConfig keys", () => {
  const compatible = {
    LLM_CHAIN: "deepseek,gemini,openai,anthropic,local",
    LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1",
    LLM_COMPAT_LOCAL_MODEL: "qwen3"
  }
  const keyOf = (key: Option.Option<Redacted.Redacted> | undefined) =>
    key === undefined ? undefined : Option.map(key, Redacted.value)
  /** The error of every provider keyed, `variable` set to `value`. */
  const keyError = (variable: string, value: string) =>
    Effect.flip(load({
      ...compatible,
      DEEPSEEK_API_KEY: "sk-deepseek",
      GEMINI_API_KEY: "g-key",
      OPENAI_API_KEY: "sk-openai",
      ANTHROPIC_API_KEY: "sk-ant",
      [variable]: value
    }))

  it.effect("trims the whitespace around every key (a secret file's trailing newline)", () =>
    Effect.gen(function*() {
      const config = yield* load({
        ...compatible,
        DEEPSEEK_API_KEY: "sk-deepseek\n",
        GEMINI_API_KEY: "  g-key\r\n",
        OPENAI_API_KEY: "\tsk-openai ",
        ANTHROPIC_API_KEY: "\uFEFFsk-ant\n",
        LLM_COMPAT_LOCAL_API_KEY: "sk-local\n"
      })
      assert.deepStrictEqual(
        [
          ...LlmConfig.ProviderKind.literals.map((kind) => keyOf(config.providers[kind].apiKey)),
          keyOf(config.compatible["local"]?.apiKey)
        ],
        ["sk-deepseek", "g-key", "sk-openai", "sk-ant", "sk-local"].map(Option.some)
      )
    }))

  it.effect("rejects a key in matching quotes (a .env value copied as is), naming it, saying to remove them, never echoing it", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<readonly [string, string]> = [
        ["DEEPSEEK_API_KEY", `"sk-zq9canary"`],
        ["GEMINI_API_KEY", `'g-zq9canary'`],
        ["OPENAI_API_KEY", ` "sk-zq9canary"\n`],
        ["ANTHROPIC_API_KEY", `''`],
        ["LLM_COMPAT_LOCAL_API_KEY", `'sk-local-zq9canary'`]
      ]
      for (const [variable, value] of bad) {
        const error = yield* keyError(variable, value)
        assert.strictEqual(error.variable, variable, value)
        assert.include(error.message, variable)
        assert.include(error.message, "remove the quotes", error.message)
        assert.notInclude(error.message, "zq9canary", error.message)
      }
      // a quote that is no pair around the key is a character of it
      const config = yield* load({ ...keys, DEEPSEEK_API_KEY: `sk-"x"`, GEMINI_API_KEY: `"g-key'` })
      assert.deepStrictEqual(
        [keyOf(config.providers.deepseek.apiKey), keyOf(config.providers.gemini.apiKey)],
        [Option.some(`sk-"x"`), Option.some(`"g-key'`)]
      )
    }))

  it.effect("rejects a key with whitespace, a control or a non-ASCII character inside, naming it, never echoing it", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<readonly [string, string]> = [
        ["DEEPSEEK_API_KEY", "sk-dee pseek-zq9canary"],
        ["GEMINI_API_KEY", "g-key\nzq9canary-part"],
        ["OPENAI_API_KEY", "sk-open\u0000zq9canary"],
        ["ANTHROPIC_API_KEY", "sk-ant\u200Bzq9canary"],
        ["LLM_COMPAT_LOCAL_API_KEY", "sk-lo\u0007cal-zq9canary"]
      ]
      for (const [variable, value] of bad) {
        const error = yield* keyError(variable, value)
        assert.strictEqual(error.variable, variable)
        assert.include(error.message, variable)
        assert.notInclude(error.message, "zq9canary", error.message)
      }
    }))
})

describe("LlmConfig base URLs", () => {
  const local = { ...keys, LLM_CHAIN: "local/qwen3" }

  it.effect("accepts http and https URLs only, naming the variable", () =>
    Effect.gen(function*() {
      const config = yield* load({
        ...keys,
        DEEPSEEK_BASE_URL: "HTTPS://Proxy.Example/deepseek/",
        GEMINI_BASE_URL: "http://127.0.0.1:8080/gemini/v1beta"
      })
      assert.strictEqual(config.providers.deepseek.baseUrl, "https://proxy.example/deepseek")
      assert.strictEqual(config.providers.gemini.baseUrl, "http://127.0.0.1:8080/gemini/v1beta")
      yield* failsOn({ ...keys, DEEPSEEK_BASE_URL: "file:///etc/passwd" }, "DEEPSEEK_BASE_URL", "http")
      yield* failsOn({ ...keys, OPENAI_BASE_URL: "javascript:alert(1)" }, "OPENAI_BASE_URL", "http")
      yield* failsOn({ ...local, LLM_COMPAT_LOCAL_BASE_URL: "ftp://x/v1" }, "LLM_COMPAT_LOCAL_BASE_URL", "http")
    }))

  it.effect("rejects credentials in a base URL (the adapters send to its origin), never echoing them", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Record<string, string>, string, string]> = [
        [
          { ...keys, OPENAI_BASE_URL: "https://user:pw-zq9canary@proxy.example/v1" },
          "OPENAI_BASE_URL",
          "OPENAI_API_KEY"
        ],
        [
          { ...local, LLM_COMPAT_LOCAL_BASE_URL: "https://token-zq9canary@proxy.example/v1" },
          "LLM_COMPAT_LOCAL_BASE_URL",
          "LLM_COMPAT_LOCAL_API_KEY"
        ]
      ]
      for (const [variables, variable, keyVariable] of cases) {
        const error = yield* Effect.flip(load(variables))
        assert.strictEqual(error.variable, variable)
        assert.include(error.message, variable)
        assert.include(error.message, keyVariable)
        assert.notInclude(error.message, "zq9canary", error.message)
      }
    }))

  it.effect("a malformed base URL is named, its password masked", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ ...keys, DEEPSEEK_BASE_URL: "https://user:hunter2-zq9canary@[proxy/v1" }, "DEEPSEEK_BASE_URL"],
        [{ ...local, LLM_COMPAT_LOCAL_BASE_URL: "http://tok:en-zq9canary@proxy:port/v1" }, "LLM_COMPAT_LOCAL_BASE_URL"]
      ]
      for (const [variables, variable] of cases) {
        const error = yield* Effect.flip(load(variables))
        assert.strictEqual(error.variable, variable)
        assert.include(error.message, variable)
        assert.include(error.message, "proxy")
        assert.notInclude(error.message, "zq9canary", error.message)
      }
    }))
})

describe("LlmConfig booleans", () => {
  it.effect("accept true and false in any case, with surrounding spaces", () =>
    Effect.gen(function*() {
      const config = yield* load({
        ...keys,
        LLM_CHAIN: "deepseek,local/qwen3",
        LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1",
        AI_GENERATION_ENABLED: "FALSE",
        LLM_CONTINUE_ON_INTERRUPTION: " false ",
        LLM_FALLBACK_ON_CONTENT_FILTER: "True",
        LLM_LOG_PROMPTS: "TRUE\n",
        DEEPSEEK_ASSISTANT_PREFILL: "False",
        LLM_COMPAT_LOCAL_ASSISTANT_PREFILL: " true"
      })
      assert.deepStrictEqual(
        [config.generationEnabled, config.continueOnInterruption, config.fallbackOnContentFilter, config.logPrompts],
        [false, false, true, true]
      )
      assert.deepStrictEqual(config.providers.deepseek.assistantPrefill, Option.some(false))
      assert.deepStrictEqual(config.compatible["local"]?.assistantPrefill, Option.some(true))
      // the spellings Effect's Config.Boolean took keep working
      const older = yield* load({ ...keys, AI_GENERATION_ENABLED: "0", LLM_LOG_PROMPTS: "yes" })
      assert.deepStrictEqual([older.generationEnabled, older.logPrompts], [false, true])
      yield* failsOn({ ...keys, LLM_LOG_PROMPTS: "maybe" }, "LLM_LOG_PROMPTS", "true or false")
      yield* failsOn({ ...keys, OPENAI_ASSISTANT_PREFILL: "nope" }, "OPENAI_ASSISTANT_PREFILL", "nope")
    }))
})
