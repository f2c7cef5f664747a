/**
 * How much a reasoning model thinks, from the command line: `baton generate
 * --reasoning none|low|medium|high` reaches the provider as Baton's
 * `reasoning` (left out, nothing is asked), a level it does not know is
 * refused naming the flag, and `baton check --ping` asks for no thinking, so
 * that its few tokens go to the answer.
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeProcess from "@baton/testing/NodeProcess"
import { Effect, Exit, Scope } from "effect"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const baton = fileURLToPath(new URL("../bin/baton.js", import.meta.url))

/** A JSON value as an object, `{}` when it is none. */
const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? { ...value } : {}

/** The reasoning tokens of `generate --json`'s answer. */
const reasoningTokensOf = (stdout: string) => record(record(JSON.parse(stdout))["usage"])["reasoningTokens"]

/** Gemini's thinking budget in `body`, if any. */
const budgetOf = (body: Record<string, unknown>) =>
  record(record(body["generationConfig"])["thinkingConfig"])["thinkingBudget"]

describe("baton and reasoning", () => {
  const scope = Effect.runSync(Scope.make())
  let server: MockProviderServer.MockProviderServer["Service"]

  beforeAll(async () => {
    server = await Effect.runPromise(Scope.provide(MockProviderServer.start(), scope))
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  /** DeepSeek then Gemini 2.5 Flash, both on the mock server; a ledger in memory. */
  const env = () => ({
    DEEPSEEK_API_KEY: "sk-test",
    GEMINI_API_KEY: "g-test",
    DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
    GEMINI_BASE_URL: server.baseUrl("gemini"),
    LLM_USAGE_STORE_URL: "sqlite::memory:"
  })

  /** Runs `baton args`, and the bodies `provider` received meanwhile. */
  const run = async (args: ReadonlyArray<string>, provider: MockProviderServer.MockProvider) => {
    const seen = (await Effect.runPromise(server.received(provider))).length
    const ran = await NodeProcess.run(baton, args, { env: env() })
    const received = (await Effect.runPromise(server.received(provider))).slice(seen)
    const bodies = received.map((request) => record(request.body))
    return { ...ran, bodies }
  }

  it("generate --reasoning none turns DeepSeek's thinking off: no reasoning billed", async () => {
    const ran = await run(["generate", "hi", "--provider", "deepseek", "--reasoning", "none", "--json"], "deepseek")
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.deepStrictEqual(ran.bodies.map((body) => body["thinking"]), [{ type: "disabled" }])
    assert.strictEqual(reasoningTokensOf(ran.stdout), 0)
  })

  it("generate without --reasoning asks nothing: DeepSeek thinks, as its API does by default", async () => {
    const ran = await run(["generate", "hi", "--provider", "deepseek", "--json"], "deepseek")
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.deepStrictEqual(ran.bodies.map((body) => "thinking" in body), [false])
    assert.isAbove(Number(reasoningTokensOf(ran.stdout)), 0)
  })

  it("generate --reasoning each level, streamed too: Gemini 2.5 Flash's thinking budgets", async () => {
    const runs = [
      { flags: ["--reasoning", "none"], budget: 0 },
      { flags: ["--reasoning", "low"], budget: 1024 },
      { flags: ["--reasoning", "medium"], budget: 4096 },
      { flags: ["--reasoning", "high"], budget: 16_384 },
      { flags: ["--reasoning", "high", "--stream"], budget: 16_384 }
    ]
    for (const { budget, flags } of runs) {
      const ran = await run(["generate", "hi", "--provider", "gemini", ...flags], "gemini")
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.deepStrictEqual(ran.bodies.map(budgetOf), [budget], flags.join(" "))
    }
  })

  it("generate --reasoning with another level shows the levels, exit 1, and calls no provider", async () => {
    const ran = await run(["generate", "hi", "--provider", "deepseek", "--reasoning", "xhigh"], "deepseek")
    assert.strictEqual(ran.code, 1, ran.stderr)
    assert.include(ran.stderr, "--reasoning")
    for (const level of ["none", "low", "medium", "high"]) assert.include(ran.stderr, level)
    assert.deepStrictEqual(ran.bodies, [])
  })

  it("generate --help describes --reasoning", async () => {
    const ran = await NodeProcess.run(baton, ["generate", "--help"])
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.match(ran.stdout, /--reasoning/)
  })

  it("check --ping asks every provider for no thinking", async () => {
    const seen = (await Effect.runPromise(server.received())).length
    const ran = await NodeProcess.run(baton, ["check", "--ping"], { env: env() })
    assert.strictEqual(ran.code, 0, `${ran.stdout}${ran.stderr}`)
    const received = (await Effect.runPromise(server.received())).slice(seen)
    const bodies = received.map((request) => record(request.body))
    assert.deepStrictEqual(bodies.map((body) => body["thinking"] ?? budgetOf(body)), [{ type: "disabled" }, 0])
  })
})
