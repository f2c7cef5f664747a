/**
 * `baton usage` run in-process, as a program embeds the command under its
 * own `ConfigProvider`: the quota zone (`AI_QUOTA_TIMEZONE`) and the ledger
 * (`LLM_USAGE_STORE_URL`) are read from that provider, with `LlmConfig`'s
 * checks and defaults, never from `process.env` behind its back. The command prints with
 * `process.stdout.write` and ends with `process.exitCode`, so both are
 * captured here and restored after each test.
 */
import * as UsageLedger from "@baton/core/UsageLedger"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { ConfigProvider, DateTime, Effect, Layer } from "effect"
import { Command } from "effect/cli"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, beforeEach, describe, it, vi } from "vitest"
import * as Usage from "../src/Usage.ts"

interface Ran {
  readonly stdout: string
  readonly stderr: string
  readonly code: number | string | null | undefined
}

/** Runs `baton usage args` under a `ConfigProvider` of `env`: what it printed, and the exit code it set. */
const usage = async (args: ReadonlyArray<string>, env: Record<string, string>): Promise<Ran> => {
  const stdout: Array<string> = []
  const stderr: Array<string> = []
  // the code this run sets, not an earlier one's
  process.exitCode = undefined
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => stdout.push(String(chunk)) > 0)
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => stderr.push(String(chunk)) > 0)
  await Command.runWith(Usage.command, { version: "0.1.0" })(args).pipe(
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))),
    Effect.provide(NodeServices.layer),
    Effect.runPromise
  )
  vi.restoreAllMocks()
  return { stdout: stdout.join(""), stderr: stderr.join(""), code: process.exitCode }
}

describe("baton usage under a program's ConfigProvider", () => {
  let exitCode: Ran["code"]
  beforeEach(() => {
    exitCode = process.exitCode
    // what the command must not read: the ledger in process.env
    vi.stubEnv("LLM_USAGE_STORE_URL", "sqlite::memory:")
  })
  afterEach(() => {
    vi.restoreAllMocks()
    vi.unstubAllEnvs()
    process.exitCode = exitCode
  })

  it("the ledger is the provider's LLM_USAGE_STORE_URL, not process.env's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-usage-"))
    try {
      const file = join(dir, "usage.sqlite")
      // usage reads a ledger and never creates one: the provider's file, until it exists, is an error
      const missing = await usage([], { LLM_USAGE_STORE_URL: `sqlite:${file}` })
      assert.strictEqual(missing.code, 2, missing.stdout)
      assert.match(missing.stderr, /^baton: LLM_USAGE_STORE_URL: no ledger at /m)
      assert.include(missing.stderr, file)
      assert.isFalse(existsSync(file))
      await Effect.runPromise(Effect.scoped(Layer.build(SqlUsageLedger.layerUrl(`sqlite:${file}`))))
      const opened = await usage([], { LLM_USAGE_STORE_URL: `sqlite:${file}` })
      assert.isUndefined(opened.code, opened.stderr)
      assert.match(opened.stdout, /^No usage recorded for /m)
      const refused = await usage([], { LLM_USAGE_STORE_URL: "mysql://db/usage" })
      assert.strictEqual(refused.code, 2, refused.stdout)
      assert.match(refused.stderr, /^baton: LLM_USAGE_STORE_URL: /m)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("the default day is today in the provider's AI_QUOTA_TIMEZONE, not in process.env's", async () => {
    // 26 hours apart: the two zones are never on the same day
    vi.stubEnv("AI_QUOTA_TIMEZONE", "Etc/GMT+12")
    const zone = "Etc/GMT-14"
    const before = Date.now()
    const ran = await usage([], { LLM_USAGE_STORE_URL: "sqlite::memory:", AI_QUOTA_TIMEZONE: zone })
    const after = Date.now()
    assert.isUndefined(ran.code, ran.stderr)
    const day = /^No usage recorded for (\d{4}-\d{2}-\d{2})\.$/m.exec(ran.stdout)?.[1]
    const expected = [before, after].map((ms) => UsageLedger.dayOf(DateTime.makeUnsafe(ms), zone))
    assert.include(expected, day, ran.stdout)
  })

  it("a zone in the provider that is not an IANA zone names AI_QUOTA_TIMEZONE and sets exit code 2", async () => {
    vi.stubEnv("AI_QUOTA_TIMEZONE", "UTC")
    const ran = await usage([], { LLM_USAGE_STORE_URL: "sqlite::memory:", AI_QUOTA_TIMEZONE: "Mars/Olympus" })
    assert.strictEqual(ran.code, 2, ran.stdout)
    assert.match(ran.stderr, /^baton: AI_QUOTA_TIMEZONE: unknown time zone "Mars\/Olympus"/m)
    assert.strictEqual(ran.stdout, "")
  })

  it("without AI_QUOTA_TIMEZONE in the provider the day is UTC's, whatever process.env says", async () => {
    vi.stubEnv("AI_QUOTA_TIMEZONE", "Etc/GMT-14")
    const before = Date.now()
    const ran = await usage([], { LLM_USAGE_STORE_URL: "sqlite::memory:" })
    const after = Date.now()
    assert.isUndefined(ran.code, ran.stderr)
    const day = /^No usage recorded for (\d{4}-\d{2}-\d{2})\.$/m.exec(ran.stdout)?.[1]
    const expected = [before, after].map((ms) => UsageLedger.dayOf(DateTime.makeUnsafe(ms), "UTC"))
    assert.include(expected, day, ran.stdout)
  })
})
