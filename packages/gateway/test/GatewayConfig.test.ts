import * as LlmConfig from "@baton/core/LlmConfig"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option, Redacted } from "effect"
import { Yaml } from "effect/encoding"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as GatewayConfig from "../src/GatewayConfig.ts"

const keys = ConfigProvider.layer(ConfigProvider.fromUnknown({ DEEPSEEK_API_KEY: "sk-ds", OPENAI_KEY_PROD: "sk-oa" }))

const digest = GatewayConfig.hashKey("gw-key")

const yaml = `# the gateway
providers:
  deepseek:
    models: [deepseek-flash, deepseek-pro]
  openai:
    apiKeyEnv: OPENAI_KEY_PROD
    models:
      - gpt-4o-mini
  ollama:
    baseUrl: "http://127.0.0.1:11434/v1"
    models: [llama3]
models:
  fast:
    - deepseek/deepseek-flash
    - openai/gpt-4o-mini
keys:
  - sha256: ${digest}
    subject: teacher-42
    daily: 200
  - sha256: ${GatewayConfig.hashKey("old")}
    subject: teacher-7
    revoked: true
maxBodyBytes: 65536
`

const steps = (chain: ReadonlyArray<GatewayConfig.Step> | undefined) =>
  chain?.map((step) => `${step.provider}/${step.model}`)

const parseYaml = (text: string) => GatewayConfig.parse(text, "yaml").pipe(Effect.provide(keys))

describe("GatewayConfig", () => {
  it.effect("parses YAML: providers, aliases, hashed keys, limits; resolves aliases and provider/models", () =>
    Effect.gen(function*() {
      const config = yield* parseYaml(yaml)
      assert.strictEqual(config.maxBodyBytes, 65536)
      assert.strictEqual(config.providers.get("ollama")?.kind, "openai-compatible")
      assert.strictEqual(config.providers.get("openai")?.apiKeyVariable, "OPENAI_KEY_PROD")
      assert.deepStrictEqual(steps(GatewayConfig.resolveModel(config, "fast")), [
        "deepseek/deepseek-flash",
        "openai/gpt-4o-mini"
      ])
      assert.deepStrictEqual(steps(GatewayConfig.resolveModel(config, "ollama/llama3")), ["ollama/llama3"])
      assert.isUndefined(GatewayConfig.resolveModel(config, "ollama/llama4"))
      assert.isUndefined(GatewayConfig.resolveModel(config, "slow"))
      assert.strictEqual(Option.getOrUndefined(GatewayConfig.authenticate(config, "gw-key"))?.subject, "teacher-42")
      assert.isTrue(Option.isNone(GatewayConfig.authenticate(config, "old")))
      assert.isTrue(Option.isNone(GatewayConfig.authenticate(config, "nope")))
    }))

  it.effect("the same config as JSON", () =>
    Effect.gen(function*() {
      const config = yield* GatewayConfig.parse(
        JSON.stringify({
          providers: { deepseek: { models: ["deepseek-flash"] } },
          models: { fast: ["deepseek/deepseek-flash"] },
          keys: [{ sha256: digest, subject: "teacher-42" }]
        }),
        "json"
      ).pipe(Effect.provide(keys))
      assert.strictEqual(config.maxBodyBytes, GatewayConfig.defaultMaxBodyBytes)
      assert.strictEqual(config.aliases.get("fast")?.length, 1)
    }))

  it.effect("a wrong type names the field and its YAML line", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(parseYaml(yaml.replace("daily: 200", "daily: many")))
      assert.strictEqual(error.field, "keys[0].daily")
      assert.strictEqual(error.line, 19)
      assert.match(error.message, /keys\[0\]\.daily \(line 19\)/)
    }))

  it.effect("an unknown field is an error naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        parseYaml(yaml.replace("    apiKeyEnv: OPENAI_KEY_PROD", "    apiKey: sk-inline"))
      )
      assert.strictEqual(error.field, "providers.openai.apiKey")
      assert.strictEqual(error.line, 6)
    }))

  it.effect("an alias step must name a configured provider and one of its models", () =>
    Effect.gen(function*() {
      const unknownModel = yield* Effect.flip(parseYaml(yaml.replace("- openai/gpt-4o-mini", "- openai/gpt-5")))
      assert.strictEqual(unknownModel.field, "models.fast[1]")
      assert.strictEqual(unknownModel.line, 15)
      assert.match(unknownModel.message, /gpt-5.*providers\.openai\.models/)
      const unknownProvider = yield* Effect.flip(parseYaml(yaml.replace("- deepseek/deepseek-flash", "- groq/llama")))
      assert.strictEqual(unknownProvider.field, "models.fast[0]")
      assert.match(unknownProvider.message, /unknown provider "groq"/)
    }))

  it.effect("a step with its own policy: retries and first-token limit, checked and named by field and line", () =>
    Effect.gen(function*() {
      const withPolicy = (step: string) =>
        yaml.replace("    - openai/gpt-4o-mini\n", `    - openai/gpt-4o-mini\n  careful:\n    - ${step}\n`)
      const config = yield* parseYaml(withPolicy("{ model: deepseek/deepseek-pro, retries: 0, firstTokenMs: 20000 }"))
      const [step] = GatewayConfig.resolveModel(config, "careful") ?? []
      assert.deepStrictEqual({ ...step }, {
        provider: "deepseek",
        model: "deepseek-pro",
        retries: 0,
        firstTokenMs: 20000
      })
      const negative = yield* Effect.flip(parseYaml(withPolicy("{ model: deepseek/deepseek-pro, retries: -1 }")))
      assert.strictEqual(negative.field, "models.careful[0].retries")
      assert.strictEqual(negative.line, 17)
      const unknown = yield* Effect.flip(parseYaml(withPolicy("{ model: deepseek/deepseek-pro, backoff: 3 }")))
      assert.strictEqual(unknown.field, "models.careful[0].backoff")
      const unlisted = yield* Effect.flip(parseYaml(withPolicy("{ model: deepseek/deepseek-max, retries: 1 }")))
      assert.strictEqual(unlisted.field, "models.careful[0].model")
      assert.strictEqual(unlisted.line, 17)
    }))

  it.effect("a hosted provider without its key, a compatible one without a URL", () =>
    Effect.gen(function*() {
      const missingKey = yield* Effect.flip(parseYaml(yaml.replace("OPENAI_KEY_PROD", "OPENAI_KEY_MISSING")))
      assert.strictEqual(missingKey.field, "providers.openai.apiKeyEnv")
      assert.match(missingKey.message, /OPENAI_KEY_MISSING is not set/)
      const missingUrl = yield* Effect.flip(parseYaml(yaml.replace("    baseUrl: \"http://127.0.0.1:11434/v1\"\n", "")))
      assert.strictEqual(missingUrl.field, "providers.ollama.baseUrl")
    }))

  it.effect("provider keys are read as LlmConfig reads them: trimmed, refused with a space inside, never shown", () =>
    Effect.gen(function*() {
      const withKeys = (env: Record<string, string>) =>
        GatewayConfig.parse(yaml, "yaml").pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))))
      // a mounted secret's final newline
      const config = yield* withKeys({ DEEPSEEK_API_KEY: "sk-ds\n", OPENAI_KEY_PROD: "sk-oa" })
      const deepseek = config.providers.get("deepseek")?.apiKey
      assert.deepStrictEqual(
        deepseek === undefined ? undefined : Option.getOrUndefined(Option.map(deepseek, Redacted.value)),
        "sk-ds"
      )
      const bad = yield* Effect.flip(withKeys({ DEEPSEEK_API_KEY: "sk-canary key", OPENAI_KEY_PROD: "sk-oa" }))
      assert.strictEqual(bad.field, "providers.deepseek.apiKeyEnv")
      assert.include(bad.message, "DEEPSEEK_API_KEY")
      assert.notInclude(bad.message, "canary")
    }))

  it.effect("a base URL with credentials is refused without showing them", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        parseYaml(yaml.replace("http://127.0.0.1:11434/v1", "http://u:s3cret@127.0.0.1:11434/v1"))
      )
      assert.strictEqual(error.field, "providers.ollama.baseUrl")
      assert.include(error.message, "credentials")
      assert.notInclude(error.message, "s3cret")
    }))

  it.effect("a provider key pasted as a model, a step's provider, a provider's or an alias's name is refused naming the field, neither the key nor its prefix shown", () =>
    Effect.gen(function*() {
      const key = "sk-CANARY-openai-1234567"
      // a DeepSeek key (sk- and lower-case hex) reads as a provider name
      const hexKey = "sk-0123456789abcdef0123456789abcdef"
      const env = ConfigProvider.layer(ConfigProvider.fromUnknown({ DEEPSEEK_API_KEY: hexKey, OPENAI_KEY_PROD: key }))
      const dir = mkdtempSync(join(tmpdir(), "baton-gateway-config-"))
      const cases = [
        // the provider's own key, another provider's, a cut paste, and an alias step's model (listed nowhere)
        [yaml.replace("      - gpt-4o-mini", `      - ${key}`), "providers.openai.models[0]", key],
        [
          yaml.replace("[deepseek-flash, deepseek-pro]", `[deepseek-flash, ${key}]`),
          "providers.deepseek.models[1]",
          key
        ],
        [yaml.replace("[llama3]", `[llama3, ${key.slice(0, 12)}]`), "providers.ollama.models[1]", key],
        [yaml.replace("- openai/gpt-4o-mini", `- openai/${key}`), "models.fast[1]", key],
        // a step's provider: a key, a cut paste; a provider named by another's key
        [yaml.replace("- openai/gpt-4o-mini", `- ${key}/gpt-4o-mini`), "models.fast[1]", key],
        [yaml.replace("- openai/gpt-4o-mini", `- ${hexKey.slice(0, 12)}/gpt-4o-mini`), "models.fast[1]", hexKey],
        [yaml.replace("  ollama:", `  ${hexKey}:`), "providers", hexKey],
        // a provider named by a key whose entry (or name) the file's schema refuses, before any key is read
        [yaml.replace("  ollama:", `  ${hexKey}:`).replace("[llama3]", "[]"), "providers", hexKey],
        [yaml.replace("  ollama:", `  ${hexKey.slice(0, 12)}:`).replace("[llama3]", "[3]"), "providers", hexKey],
        [yaml.replace("  ollama:", `  ${key}:`), "providers", key],
        // an alias named by a key: whole, cut with an entry the schema refuses, or with a '/' an alias may not hold
        [yaml.replace("  fast:", `  ${key}:`), "models", key],
        [yaml.replace("  fast:", `  ${hexKey.slice(0, 12)}: []\n  fast:`), "models", hexKey],
        [yaml.replace("  fast:", `  ${key}/gpt-4o-mini:`), "models", key]
      ] as const
      for (const [index, [text, field, secret]] of cases.entries()) {
        const path = join(dir, `gateway-${index}.yaml`)
        writeFileSync(path, text)
        const fromYaml = yield* Effect.flip(GatewayConfig.load(path).pipe(Effect.provide(env)))
        const fromJson = yield* Effect.flip(
          GatewayConfig.parse(JSON.stringify(Yaml.parse(text)), "json").pipe(Effect.provide(env))
        )
        for (const error of [fromYaml, fromJson]) {
          assert.strictEqual(error.field, field, error.message)
          assert.include(error.message, "API key", field)
          assert.notInclude(error.message, secret.slice(0, 8), field)
        }
        assert.isDefined(fromYaml.line, field)
      }
    }))

  it.effect("malformed YAML and JSON are errors", () =>
    Effect.gen(function*() {
      const badYaml = yield* Effect.flip(parseYaml("providers: [a, b\nkeys: ]"))
      assert.match(badYaml.message, /not valid YAML/)
      const badJson = yield* Effect.flip(GatewayConfig.parse("{", "json"))
      assert.match(badJson.message, /not valid JSON/)
    }))

  it.effect("fromEnvironment: the LlmConfig chain as the alias default, keys from BATON_GATEWAY_KEYS", () =>
    Effect.gen(function*() {
      const env = {
        LLM_PRIMARY_PROVIDER: "deepseek",
        LLM_FALLBACK_PROVIDER: "gemini",
        DEEPSEEK_API_KEY: "sk-ds",
        GEMINI_API_KEY: "sk-gm",
        BATON_GATEWAY_KEYS: `teacher-42:${digest}`
      }
      const settings = yield* LlmConfig.make.pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env)))
      )
      const config = yield* GatewayConfig.fromEnvironment(settings).pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env)))
      )
      assert.deepStrictEqual(steps(GatewayConfig.resolveModel(config, "default")), [
        "deepseek/deepseek-flash",
        "gemini/gemini-2.5-flash"
      ])
      assert.strictEqual(Option.getOrUndefined(GatewayConfig.authenticate(config, "gw-key"))?.subject, "teacher-42")
      // a subject SubjectId refuses (too long, a control character) is the variable's error, not a defect
      for (const keys of ["teacher-42", `${"t".repeat(257)}:${digest}`, `teacher\u0001:${digest}`]) {
        const bad = yield* Effect.flip(
          GatewayConfig.fromEnvironment(settings).pipe(
            Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ BATON_GATEWAY_KEYS: keys })))
          )
        )
        assert.strictEqual(bad.field, "BATON_GATEWAY_KEYS")
        assert.include(bad.message, "1-256 characters")
        assert.notInclude(bad.message, "is required")
      }
      // unset: said to be required; an upper-case digest: said to be lower-case
      const unset = yield* Effect.flip(
        GatewayConfig.fromEnvironment(settings).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({})))
        )
      )
      assert.include(unset.message, "BATON_GATEWAY_KEYS: is required")
      const upper = yield* Effect.flip(
        GatewayConfig.fromEnvironment(settings).pipe(
          Effect.provide(
            ConfigProvider.layer(ConfigProvider.fromUnknown({ BATON_GATEWAY_KEYS: `t:${digest.toUpperCase()}` }))
          )
        )
      )
      assert.include(upper.message, "lower-case hex")
    }))
})
