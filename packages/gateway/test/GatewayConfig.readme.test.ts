/**
 * The minimal config the gateway's README shows (the root README points to
 * it) is one the gateway takes: parsed as it is written, the client key's
 * placeholder replaced by a digest, with what it says it holds.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as GatewayConfig from "../src/GatewayConfig.ts"

const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "README.md"), "utf8")

/** The keys the config reads from the environment. */
const keys = ConfigProvider.layer(ConfigProvider.fromUnknown({ DEEPSEEK_API_KEY: "sk-ds", OPENAI_API_KEY: "sk-oa" }))

/** The first YAML block after the "A minimal config" heading. */
const minimal = (): string => {
  const section = readme.slice(readme.indexOf("## A minimal config"))
  const start = section.indexOf("```yaml\n") + "```yaml\n".length
  return section.slice(start, section.indexOf("```", start))
}

describe("the README's minimal config", () => {
  it.effect("is taken by the gateway as written", () =>
    Effect.gen(function*() {
      const text = minimal().replace(/<sha256[^>]*>/, GatewayConfig.hashKey("the key"))
      const config = yield* GatewayConfig.parse(text, "yaml")
      assert.deepStrictEqual([...config.providers.keys()], ["deepseek", "openai", "ollama"])
      assert.deepStrictEqual([...config.aliases.keys()], ["fast", "careful"])
      assert.strictEqual(config.keys.size, 1)
    }).pipe(Effect.provide(keys)))
})
