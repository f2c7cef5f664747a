/**
 * The quiz service started as a user starts it (`node src/main.ts`) with a
 * variable to fix: it stops at once with one line on stderr naming the
 * variable, no stack trace, and a non-zero exit code. A service that starts
 * instead is stopped as soon as it says it listens.
 */
import * as NodeProcess from "@baton/testing/NodeProcess"
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync } from "node:fs"
import { createServer, type Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "quiz-startup-"))

/** A port this test holds while it runs. */
let heldPort = 0
const holder: Server = createServer()
beforeAll(() =>
  new Promise<void>((resolve) => {
    holder.listen(0, "127.0.0.1", () => {
      const address = holder.address()
      heldPort = typeof address === "object" && address !== null ? address.port : 0
      resolve()
    })
  })
)
afterAll(() =>
  new Promise<void>((resolve) => {
    holder.close(() => {
      resolve()
    })
  })
)

interface Ran {
  /** The exit code, or "listening" when the service started (and was stopped). */
  readonly code: number | null | "listening"
  /** The exit code, once stopped if it started. */
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Keys for a chain nobody calls at startup, an in-memory ledger, any free port. */
const usual: Record<string, string> = {
  ...NodeProcess.baseEnv,
  DEEPSEEK_API_KEY: "startup-deepseek-key",
  GEMINI_API_KEY: "startup-gemini-key",
  LLM_USAGE_STORE_URL: "sqlite::memory:",
  PORT: "0"
}

/** Runs the service in `dir` with the usual variables and `variables`, stopped by `signal` once it listens. */
const start = (variables: Record<string, string>, signal: NodeJS.Signals = "SIGINT") =>
  new Promise<Ran>((resolve) => {
    const child = spawn(process.execPath, [main], { cwd: dir, env: { ...usual, ...variables } })
    let stdout = ""
    let stderr = ""
    let started = false
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      if (!started && stdout.includes("quiz-service listening on")) {
        started = true
        child.kill(signal)
      }
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on("exit", (code) => {
      resolve({ code: started ? "listening" : code, exitCode: code, stdout, stderr })
    })
  })

/** The service refused `variables` with exactly one line on stderr naming `variable`, and no stack trace. */
const assertRefused = (ran: Ran, variable: string, label: string) => {
  const lines = ran.stderr.split("\n").filter((line) => line.length > 0)
  assert.notStrictEqual(ran.code, "listening", `${label}: the service started`)
  assert.notStrictEqual(ran.code, 0, label)
  assert.notMatch(`${ran.stdout}${ran.stderr}`, /^\s+at /m, `${label}: no stack trace`)
  assert.strictEqual(lines.length, 1, `${label}: one line, got:\n${ran.stderr}\n${ran.stdout}`)
  assert.match(lines[0] ?? "", new RegExp(`^quiz-service: ${variable}: `), label)
}

describe("quiz service at startup", () => {
  it("refuses a QUIZ_REQUEST_LOG it cannot write (a missing directory, a directory) naming it", async () => {
    const missing = await start({ QUIZ_REQUEST_LOG: join(dir, "no-such-dir", "requests.log") })
    assertRefused(missing, "QUIZ_REQUEST_LOG", "missing directory")
    mkdirSync(join(dir, "logs"), { recursive: true })
    const directory = await start({ QUIZ_REQUEST_LOG: join(dir, "logs") })
    assertRefused(directory, "QUIZ_REQUEST_LOG", "a directory")
  })

  it("refuses a PORT that is not decimal digits 0 to 65535 naming it", async () => {
    for (const port of ["0x50", "8e1", " 80", "+80", "80.0", "70000"]) {
      assertRefused(await start({ PORT: port }), "PORT", JSON.stringify(port))
    }
  })

  it("refuses a PORT in use and a HOST that does not resolve naming each", async () => {
    const ran = await start({ PORT: String(heldPort) })
    assertRefused(ran, "PORT", "port in use")
    assert.include(ran.stderr, `cannot listen on 127.0.0.1:${heldPort}: address in use`)
    const host = await start({ HOST: "no-such-host.invalid" })
    assertRefused(host, "HOST", "unresolvable host")
    assert.include(host.stderr, "no-such-host.invalid: host not found")
  })

  it("refuses a store it cannot reach (Postgres, Redis) naming its variable, never the password", async () => {
    // port 1 (tcpmux): nothing listens there, and only root could bind it
    const closed = 1
    const ledger = await start({ LLM_USAGE_STORE_URL: `postgres://quiz:pw-secret@127.0.0.1:${closed}/quiz` })
    assertRefused(ledger, "LLM_USAGE_STORE_URL", "unreachable Postgres")
    assert.strictEqual(ledger.exitCode, 1)
    assert.notInclude(`${ledger.stdout}${ledger.stderr}`, "pw-secret")
    const quota = await start({ REDIS_URL: `redis://:pw-secret@127.0.0.1:${closed}` })
    assertRefused(quota, "REDIS_URL", "unreachable Redis")
    assert.strictEqual(quota.exitCode, 1)
    assert.notInclude(`${quota.stdout}${quota.stderr}`, "pw-secret")
  })

  it("reads a blank HOST as unset: it listens on 127.0.0.1, not on every interface", async () => {
    for (const host of ["", "  "]) {
      const ran = await start({ HOST: host })
      assert.strictEqual(ran.code, "listening", `${JSON.stringify(host)}: ${ran.stderr}`)
      assert.match(ran.stdout, /quiz-service listening on http:\/\/127\.0\.0\.1:\d+/, JSON.stringify(host))
    }
  })

  it("refuses an AI_QUOTA_TIMEZONE that is an offset, not an IANA zone, naming it", async () => {
    for (const zone of ["+05:00", "-0500"]) {
      assertRefused(await start({ AI_QUOTA_TIMEZONE: zone }), "AI_QUOTA_TIMEZONE", zone)
    }
  })

  it("says it uses the configured providers only when their configuration reads", async () => {
    const bad = await start({ LLM_MAX_RETRIES: "many" })
    assertRefused(bad, "LLM_MAX_RETRIES", "a bad LLM_MAX_RETRIES")
    assert.notInclude(bad.stdout, "Using the configured providers")
    const good = await start({})
    assert.strictEqual(good.code, "listening", good.stderr)
    assert.include(good.stdout, "Using the configured providers")
  })

  it("stopped by SIGTERM exits 143, by SIGINT 130, as a shell reports each signal", async () => {
    for (const [signal, expected] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      const ran = await start({}, signal)
      assert.strictEqual(ran.code, "listening", ran.stderr)
      assert.strictEqual(ran.exitCode, expected, `${signal}: ${ran.stderr}`)
      assert.notMatch(`${ran.stdout}${ran.stderr}`, /^\s+at /m, signal)
    }
  })
})
