/**
 * A configuration error as a shell user meets it, through the bin (on the
 * machine's Node 20 when there is one): it names the variable to fix, every
 * command judges a value alike, and it never shows a key's value.
 */
import * as NodeProcess from "@baton/testing/NodeProcess"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"

const baton = fileURLToPath(new URL("../bin/baton.js", import.meta.url))

/** The system's Node (20 here) when it is older than the workspace's, else this one. */
const node =
  ["/usr/bin/node", "/usr/local/bin/node"].find((path) =>
    existsSync(path) && execFileSync(path, ["--version"]).toString().startsWith("v20")
  ) ?? process.execPath

const run = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  NodeProcess.run(baton, args, { node, cwd: NodeProcess.freshDir("baton-config-"), env })

/** `serve` without `--config` needs client keys. */
const gatewayKeys = { BATON_GATEWAY_KEYS: `t:${createHash("sha256").update("k").digest("hex")}` }

const commands = [["check"], ["generate", "--json", "hi"], ["serve", "--port", "0"]] as const

describe("baton configuration errors", () => {
  it("with no key (the bundled mock's case), a bad value elsewhere is named, not a key the mock stands in for", async () => {
    // every command on one value, one command on each other
    const cases = [
      ...commands.map((command) => [command, "LLM_MAX_RETRIES", "-1"] as const),
      [["serve", "--port", "0"], "AI_QUOTA_TIMEZONE", "Mars/Olympus"],
      [["generate", "--json", "hi"], "LLM_USAGE_STORE_URL", "mysql://root@127.0.0.1/test"]
    ] as const
    await Promise.all(cases.map(async ([command, variable, value]) => {
      const label = `${command[0]} ${variable}=${value}`
      const ran = await run(command, { ...gatewayKeys, [variable]: value })
      assert.strictEqual(ran.code, 2, `${label}: ${ran.stdout}${ran.stderr}`)
      assert.match(ran.stderr, new RegExp(`^baton: ${variable}`, "m"), label)
      assert.notInclude(ran.stderr, "_API_KEY", label)
      assert.notInclude(ran.stderr, "bundled mock", label)
      if (command[0] !== "generate") return
      assert.strictEqual((JSON.parse(ran.stdout) as { error: { variable: string } }).error.variable, variable, label)
    }))
  })

  it("check refuses an LLM_PRICES provider that serve refuses: no provider of the chain bills under it", async () => {
    const env = {
      ...gatewayKeys,
      DEEPSEEK_API_KEY: "sk-test-key",
      GEMINI_API_KEY: "g-test-key",
      LLM_PRICES: JSON.stringify({ deepsek: { models: { "deepseek-flash": { input: 1, output: 2 } } } })
    }
    await Promise.all([["serve", "--port", "0"], ["check"]].map(async (command) => {
      const ran = await run(command, env)
      assert.strictEqual(ran.code, 2, `${command[0]}: ${ran.stdout}${ran.stderr}`)
      assert.notInclude(ran.stdout, "Configuration OK")
      assert.match(ran.stderr, /^baton: LLM_PRICES: prices provider "deepsek"/m, command[0])
    }))
  })

  it("a key pasted as an LLM_PRICES provider is [redacted] in check's error, its prefix too", async () => {
    const key = "sk-CANARY-1234567"
    const env = {
      DEEPSEEK_API_KEY: key,
      GEMINI_API_KEY: "g-test-key",
      LLM_PRICES: JSON.stringify({ [key]: { default: { input: 1, output: 2 } } })
    }
    const ran = await run(["check"], env)
    assert.strictEqual(ran.code, 2, `${ran.stdout}${ran.stderr}`)
    assert.match(ran.stderr, /^baton: LLM_PRICES: prices provider "\[redacted\]"/m)
    assert.notInclude(ran.stderr + ran.stdout, key.slice(0, 8))
  })

  it("check accepts prices for a hosted provider outside the chain and for an endpoint of the chain", async () => {
    const ran = await run(["check"], {
      DEEPSEEK_API_KEY: "sk-test-key",
      LLM_CHAIN: "deepseek,local",
      LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1",
      LLM_COMPAT_LOCAL_MODEL: "llama3",
      LLM_PRICES: JSON.stringify({
        openai: { default: { input: 1, output: 2 } },
        local: { default: { input: 0, output: 0 } }
      })
    })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.include(ran.stdout, "Configuration OK")
  })

  it("a key pasted into another variable is never shown by that variable's error, on any command", async () => {
    const key = "sk-CANARY-1234567"
    const compatKey = "local-CANARY-7654321"
    const keys = { DEEPSEEK_API_KEY: key, GEMINI_API_KEY: "g-test-key" }
    const compat = {
      LLM_CHAIN: "local",
      LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1",
      LLM_COMPAT_LOCAL_MODEL: "llama3",
      LLM_COMPAT_LOCAL_API_KEY: compatKey
    }
    // every command on one value, `generate --json` on each other
    const cases = [
      ...commands.map((command) => [command, keys, "DEEPSEEK_BASE_URL", key] as const),
      ...([
        [keys, "AI_GENERATION_ENABLED", key],
        [keys, "LLM_MAX_RETRIES", key],
        [keys, "LLM_USAGE_STORE_URL", `${key}:x`],
        [compat, "LLM_MAX_RETRIES", compatKey]
      ] as const).map(([configured, variable, value]) => [commands[1], configured, variable, value] as const)
    ]
    await Promise.all(cases.map(async ([command, configured, variable, value]) => {
      const label = `${command[0]} ${variable}`
      const ran = await run(command, { ...gatewayKeys, ...configured, [variable]: value })
      assert.strictEqual(ran.code, 2, `${label}: ${ran.stdout}${ran.stderr}`)
      assert.match(ran.stderr, new RegExp(`^baton: ${variable}: .*\\[redacted\\]`, "m"), label)
      assert.notInclude(ran.stderr + ran.stdout, "CANARY", label)
    }))
  })

  it("check refuses a key in quotes or with a line break inside, naming the variable, never showing the key, exit 2", async () => {
    const cases = [
      ["DEEPSEEK_API_KEY", `"sk-CANARY-1234567"`, "remove the quotes"],
      ["GEMINI_API_KEY", `'g-CANARY-1234567'`, "remove the quotes"],
      ["DEEPSEEK_API_KEY", "sk-CANARY\n-1234567", "a line break"]
    ] as const
    await Promise.all(cases.map(async ([variable, value, reason]) => {
      const label = `${variable}=${JSON.stringify(value)}`
      const ran = await run(["check"], {
        DEEPSEEK_API_KEY: "sk-test-key",
        GEMINI_API_KEY: "g-test-key",
        [variable]: value
      })
      assert.strictEqual(ran.code, 2, `${label}: ${ran.stdout}${ran.stderr}`)
      assert.notInclude(ran.stdout, "Configuration OK", label)
      assert.match(ran.stderr, new RegExp(`^baton: ${variable}: .*${reason}`, "m"), label)
      assert.notInclude(ran.stderr + ran.stdout, "CANARY", label)
    }))
  })

  it("a refusal of serve or generate comes before the bundled mock: no mock line, the refusal's own line and code", async () => {
    // no key (the mock's case) and LLM_FALLBACK_PROVIDER=none: the configuration reads, the mock would stand in
    const noKey = { LLM_FALLBACK_PROVIDER: "none" }
    const serve = ["serve", "--port", "0"] as const
    const cases = [
      [serve, {}, 2, /^baton: BATON_GATEWAY_KEYS: is required/m],
      [serve, { BATON_GATEWAY_KEYS: "t1:abc" }, 2, /^baton: BATON_GATEWAY_KEYS: expected/m],
      [
        serve,
        { ...gatewayKeys, LLM_PRICES: JSON.stringify({ deepsek: { default: { input: 1, output: 2 } } }) },
        2,
        /^baton: LLM_PRICES: prices provider "deepsek"/m
      ],
      [serve, { ...gatewayKeys, REDIS_URL: "redis://127.0.0.1:1" }, 2, /^baton: REDIS_URL: cannot connect to Redis/m],
      [
        serve,
        { ...gatewayKeys, LLM_USAGE_STORE_URL: "postgres://u@127.0.0.1:1/db" },
        2,
        /^baton: LLM_USAGE_STORE_URL: postgres:\/\/u@127\.0\.0\.1:1\/db: /m
      ],
      [["generate", "hi"], { AI_GENERATION_ENABLED: "false" }, 3, /^baton: AI generation is disabled/m],
      [
        ["generate", "hi"],
        { LLM_USAGE_STORE_URL: "postgres://u@127.0.0.1:1/db" },
        2,
        /^baton: LLM_USAGE_STORE_URL: postgres:\/\/u@127\.0\.0\.1:1\/db: /m
      ]
    ] as const
    await Promise.all(cases.map(async ([command, env, code, line]) => {
      const label = `${command[0]} ${JSON.stringify(env)}`
      const ran = await run(command, { ...noKey, ...env })
      assert.strictEqual(ran.code, code, `${label}: ${ran.stdout}${ran.stderr}`)
      assert.match(ran.stderr, line, label)
      assert.notInclude(ran.stderr, "bundled mock", label)
    }))
  })
})
