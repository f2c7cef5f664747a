/**
 * The `baton` command as a shell user runs it: the bin as a subprocess (on the
 * machine's Node 20 when there is one, to prove the launcher), its output and
 * its exit code.
 */
import * as UsageLedger from "@baton/core/UsageLedger"
import * as GatewayConfig from "@baton/gateway/GatewayConfig"
import * as SqlDatabase from "@baton/sql/SqlDatabase"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeProcess from "@baton/testing/NodeProcess"
import * as RawServer from "@baton/testing/RawServer"
import * as TcpProbe from "@baton/testing/TcpProbe"
import { ConfigProvider, DateTime, Effect, Exit, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { execFileSync, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:net"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const baton = fileURLToPath(new URL("../bin/baton.js", import.meta.url))
const mockServerBin = fileURLToPath(new URL("../../testing/bin/baton-mock-server.js", import.meta.url))

/** The system's Node (20 here) when it is older than the workspace's, else this one. */
const node =
  ["/usr/bin/node", "/usr/local/bin/node"].find((path) =>
    existsSync(path) && execFileSync(path, ["--version"]).toString().startsWith("v20")
  ) ?? process.execPath

const { baseEnv } = NodeProcess

const freshDir = () => NodeProcess.freshDir("baton-cli-")

/** The URL of a new, empty SQLite ledger (migrated, no rows): `usage` reads a ledger and never creates one. */
const emptyLedger = async () => {
  const url = `sqlite:${join(freshDir(), "usage.sqlite")}`
  await Effect.runPromise(Effect.scoped(Layer.build(SqlUsageLedger.layerUrl(url))))
  return url
}

/** The SHA-256 of a file's bytes. */
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex")

/** The PostgreSQL of `DATABASE_URL` (the one the sql package's tests use), when one answers. */
const postgresUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
const postgresAvailable = await TcpProbe.reachable(postgresUrl, 5432)
if (!postgresAvailable) console.warn(`SKIPPING usage on PostgreSQL: nothing answers at ${new URL(postgresUrl).host}`)

/** Runs statements on the PostgreSQL database of `url`. */
const onPostgres = <A, E>(url: string, statements: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.flatMap(SqlClient.SqlClient, statements).pipe(Effect.provide(SqlDatabase.layerUrl(url))))

const run = (
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly cwd?: string; readonly bin?: string } = {}
) => NodeProcess.run(options.bin ?? baton, args, { node, cwd: options.cwd ?? freshDir(), env: options.env })

/**
 * Starts a long-running command, sends it `signal` once its stdout matches
 * `ready`, and resolves once it exited: its exit code and what it printed.
 * Rejects if it exits before ready.
 */
const stopOnceReady = (
  args: ReadonlyArray<string>,
  ready: RegExp,
  signal: NodeJS.Signals,
  options: { readonly bin?: string | undefined; readonly env?: Record<string, string>; readonly cwd?: string } = {}
) =>
  new Promise<NodeProcess.Ran>((resolve, reject) => {
    const child = spawn(node, [options.bin ?? baton, ...args], {
      cwd: options.cwd ?? freshDir(),
      env: { ...baseEnv, ...options.env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      const before = stdout
      stdout += chunk.toString()
      if (!ready.test(before) && ready.test(stdout)) child.kill(signal)
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("exit", (code) => {
      if (ready.test(stdout)) resolve({ code, stdout, stderr })
      else reject(new Error(`exited with ${code} before ready:\n${stdout}${stderr}`))
    })
  })

/** A TCP server holding a port on 127.0.0.1, so that listening there fails with EADDRINUSE. */
const occupy = () =>
  new Promise<{ readonly port: number; readonly server: Server }>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      if (address === null || typeof address === "string") {
        reject(new Error("no port"))
        return
      }
      resolve({ port: address.port, server })
    })
  })

const closeServer = (server: Server) =>
  new Promise<void>((resolve) =>
    server.close(() => {
      resolve()
    })
  )

/**
 * `baton serve` with `args` on a spare port, in `cwd`, with `env`, once it
 * listens: its port, what it printed on stderr so far, and `stop` (SIGINT to
 * its pid, resolved once it exited). Rejects if it exits before listening.
 */
const startServe = async (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  cwd = freshDir()
) => {
  const port = await TcpProbe.sparePort()
  const child = spawn(node, [baton, "serve", "--port", String(port), ...args], { cwd, env: { ...baseEnv, ...env } })
  const exited = new Promise((resolve) => child.once("exit", resolve))
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  await new Promise<void>((resolve, reject) => {
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Listening on")) resolve()
    })
    child.on("exit", (code) => {
      reject(new Error(`exited with ${code} before listening:\n${output}${stderr}`))
    })
  })
  const stop = async () => {
    child.kill("SIGINT")
    await exited
  }
  return { port, stderr: () => stderr, stop }
}

/** A chat completion for `model` from the gateway on `port`, sent with `authorization`. */
const chat = (port: number, authorization: string, model: string) =>
  fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Hello about Mars" }] })
  })

describe("baton", () => {
  const scope = Effect.runSync(Scope.make())
  let server: MockProviderServer.MockProviderServer["Service"]

  beforeAll(async () => {
    server = await Effect.runPromise(Scope.provide(MockProviderServer.start(), scope))
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  /** DeepSeek and Gemini keys, both providers on the mock server. */
  const onMock = () => ({
    DEEPSEEK_API_KEY: "sk-test",
    GEMINI_API_KEY: "g-test",
    DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
    GEMINI_BASE_URL: server.baseUrl("gemini")
  })

  it("--help on every command, exit 0", async () => {
    const commands = ["generate", "usage", "check", "mock-server", "serve"]
    const root = await run(["--help"])
    assert.strictEqual(root.code, 0)
    for (const command of commands) {
      assert.include(root.stdout, command)
      const ran = await run([command, "--help"])
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.include(ran.stdout, `baton ${command}`)
    }
  })

  it("--help lists each command on one line: serve's long description (its sample config) only in serve --help", async () => {
    const root = await run(["--help"])
    assert.strictEqual(root.code, 0, root.stderr)
    const subcommands = root.stdout.slice(root.stdout.indexOf("SUBCOMMANDS")).trimEnd().split("\n").slice(1)
    assert.deepStrictEqual(subcommands.map((line) => line.trim().split(/\s+/)[0]), [
      "generate",
      "usage",
      "check",
      "mock-server",
      "serve"
    ])
    assert.match(subcommands[4] ?? "", /^ +serve +Run the OpenAI-compatible gateway with Baton's policies$/)
    const serve = await run(["serve", "--help"])
    assert.include(serve.stdout, "A minimal config")
  })

  it("no command prints the help and exits 1 (a bad command line); --help and --version still exit 0", async () => {
    const bare = await run([])
    assert.strictEqual(bare.code, 1, bare.stderr)
    assert.include(bare.stdout, "USAGE")
    assert.match(bare.stderr, /^baton: a command is needed/m)
    const version = await run(["--version"])
    assert.strictEqual(version.code, 0, version.stderr)
    assert.include(version.stdout, "0.1.0")
    const help = await run(["--help"])
    assert.strictEqual(help.code, 0, help.stderr)
    assert.strictEqual(help.stderr, "")
  })

  it("a bad flag shows the usage and exits 1", async () => {
    const ran = await run(["usage", "--by", "nope"])
    assert.strictEqual(ran.code, 1)
    assert.include(ran.stdout, "USAGE")
    assert.include(ran.stderr, "--by")
  })

  it("a bad day names the flag and exits 1", async () => {
    const ran = await run(["usage", "--day", "2026-13-01"], {
      env: { LLM_USAGE_STORE_URL: `sqlite:${join(freshDir(), "u.sqlite")}` }
    })
    assert.strictEqual(ran.code, 1)
    assert.include(ran.stderr, "baton: --day 2026-13-01")
  })

  it("a teacher id no subject can have names the flag and exits 1", async () => {
    for (const teacher of ["", "t".repeat(257)]) {
      const ran = await run(["usage", "--teacher", teacher], {
        env: { LLM_USAGE_STORE_URL: `sqlite:${join(freshDir(), "u.sqlite")}` }
      })
      assert.strictEqual(ran.code, 1, ran.stderr)
      assert.include(ran.stderr, "baton: --teacher")
    }
  })

  it("a blank teacher id is refused as an empty one: named in one line, exit 1, the ledger not read", async () => {
    const env = { LLM_USAGE_STORE_URL: await emptyLedger() }
    for (const teacher of [" ", "\t  ", ""]) {
      const ran = await run(["usage", "--teacher", teacher], { env })
      const label = `${JSON.stringify(teacher)}: ${ran.stderr}`
      assert.strictEqual(ran.code, 1, label)
      assert.strictEqual(ran.stdout, "", label)
      assert.match(ran.stderr, /^baton: --teacher "[^"]*": a subject id must not be (empty|blank)/, label)
      assert.strictEqual(ran.stderr.split("\n").length, 2, label)
    }
  })

  it("a missing key names the variable and exits 2", async () => {
    for (const command of [["check"], ["generate", "hi"]]) {
      const ran = await run(command, { env: { DEEPSEEK_API_KEY: "sk-test" } })
      assert.strictEqual(ran.code, 2)
      assert.match(ran.stderr, /^baton: GEMINI_API_KEY/m)
    }
  })

  it("usage's default day is today in AI_QUOTA_TIMEZONE, the quotas' zone, not UTC's", async () => {
    // UTC+14 and UTC-12: at any instant at least one of them is on another day than UTC
    for (const zone of ["Pacific/Kiritimati", "Etc/GMT+12"]) {
      const before = Date.now()
      const ran = await run(["usage"], { env: { AI_QUOTA_TIMEZONE: zone, LLM_USAGE_STORE_URL: await emptyLedger() } })
      const after = Date.now()
      assert.strictEqual(ran.code, 0, ran.stderr)
      // the day the command saw, at an instant between the two readings (either one's day at midnight)
      const day = /^No usage recorded for (\d{4}-\d{2}-\d{2})\.$/m.exec(ran.stdout)?.[1]
      const expected = [before, after].map((ms) => UsageLedger.dayOf(DateTime.makeUnsafe(ms), zone))
      assert.include(expected, day, `${zone}: ${ran.stdout}`)
    }
  })

  it("usage with a zone that is not an IANA zone names AI_QUOTA_TIMEZONE and exits 2", async () => {
    const ran = await run(["usage"], {
      env: { AI_QUOTA_TIMEZONE: "Mars/Olympus", LLM_USAGE_STORE_URL: `sqlite:${join(freshDir(), "u.sqlite")}` }
    })
    assert.strictEqual(ran.code, 2, ran.stderr)
    assert.match(ran.stderr, /^baton: AI_QUOTA_TIMEZONE/m)
  })

  it("a ledger URL no driver takes fails check, generate and serve, naming LLM_USAGE_STORE_URL, exit 2", async () => {
    const env = {
      ...onMock(),
      LLM_USAGE_STORE_URL: "mysql://root@127.0.0.1/test",
      BATON_GATEWAY_KEYS: `t:${createHash("sha256").update("k").digest("hex")}`
    }
    for (const command of [["check"], ["generate", "hi"], ["serve", "--port", "0"]]) {
      const ran = await run(command, { env })
      assert.strictEqual(ran.code, 2, `${command[0]}: ${ran.stdout}${ran.stderr}`)
      assert.notInclude(ran.stdout, "Configuration OK")
      assert.match(ran.stderr, /^baton: LLM_USAGE_STORE_URL: unsupported database URL/m, command[0])
    }
  })

  it("a REDIS_URL that is no Redis URL fails check, generate and serve alike, naming REDIS_URL, exit 2", async () => {
    // check on every URL; generate and serve (which refused already) on one each
    const cases = [
      [["check"], "not a url"],
      [["check"], "http://127.0.0.1:6379"],
      [["check"], "redis://127.0.0.1:99999"],
      [["check"], "redis://u:S3CRET-zq9@127.0.0.1:99999"],
      [["generate", "hi"], "http://127.0.0.1:6379"],
      [["serve", "--port", "0"], "redis://u:S3CRET-zq9@127.0.0.1:99999"]
    ] as const
    for (const [command, url] of cases) {
      const env = {
        ...onMock(),
        REDIS_URL: url,
        BATON_GATEWAY_KEYS: `t:${createHash("sha256").update("k").digest("hex")}`
      }
      const ran = await run(command, { env })
      assert.strictEqual(ran.code, 2, `${command[0]} ${url}: ${ran.stdout}${ran.stderr}`)
      assert.notInclude(ran.stdout, "Configuration OK")
      assert.match(ran.stderr, /^baton: REDIS_URL: not a Redis URL/m, `${command[0]} ${url}`)
      assert.notInclude(`${ran.stdout}${ran.stderr}`, "S3CRET", `${command[0]} ${url}`)
    }
  })

  it("check accepts a ledger URL a driver takes, and creates no ledger when the variable is unset", async () => {
    const keys = { DEEPSEEK_API_KEY: "sk-test", GEMINI_API_KEY: "g-test" }
    // PostgreSQL, reached or not: Check.test.ts
    const inMemory = await run(["check"], { env: { ...keys, LLM_USAGE_STORE_URL: "sqlite::memory:" } })
    assert.strictEqual(inMemory.code, 0, inMemory.stderr)
    assert.include(inMemory.stdout, "Configuration OK")
    const cwd = freshDir()
    const ran = await run(["check"], { env: keys, cwd })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.isFalse(existsSync(join(cwd, ".baton")))
    assert.match(ran.stdout, /usage ledger +sqlite:\.baton\/usage\.sqlite: not there yet; generate and serve create it/)
    // the limit the manager applies: 30 s, and 30 + (60 - 10) s for a model that thinks first
    assert.match(ran.stdout, /attempt limit +30000 ms; 80000 ms for a model that thinks first/)
  })

  it("an empty ledger says so and exits 0", async () => {
    const ran = await run(["usage"], { env: { LLM_USAGE_STORE_URL: await emptyLedger() } })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.match(ran.stdout, /^No usage recorded for \d{4}-\d{2}-\d{2}\.$/m)
  })

  it("usage creates no ledger: a missing SQLite file names LLM_USAGE_STORE_URL, exit 2, nothing created", async () => {
    const dir = freshDir()
    const missing = join(dir, "missing", "x.db")
    const named = await run(["usage"], { env: { LLM_USAGE_STORE_URL: `sqlite:${missing}` } })
    assert.strictEqual(named.code, 2, `${named.stdout}${named.stderr}`)
    assert.match(named.stderr, new RegExp(`^baton: LLM_USAGE_STORE_URL: no ledger at ${missing}`, "m"))
    assert.strictEqual(named.stdout, "")
    assert.isFalse(existsSync(join(dir, "missing")))
    // the default ledger, .baton/usage.sqlite in the working directory
    const cwd = freshDir()
    const unset = await run(["usage"], { cwd })
    assert.strictEqual(unset.code, 2, `${unset.stdout}${unset.stderr}`)
    assert.match(unset.stderr, /^baton: LLM_USAGE_STORE_URL: no ledger at \.baton\/usage\.sqlite/m)
    assert.isFalse(existsSync(join(cwd, ".baton")))
  })

  it("usage refuses an SQLite file that is not a Baton ledger and writes nothing to it: exit 2", async () => {
    const dir = freshDir()
    /** Another application's database, in each journal mode. */
    const foreign = (name: string, mode: "DELETE" | "WAL") => {
      const file = join(dir, name)
      const db = new DatabaseSync(file)
      db.exec(`PRAGMA journal_mode = ${mode}`)
      db.exec("CREATE TABLE grades (student TEXT NOT NULL, grade INTEGER NOT NULL)")
      db.exec("INSERT INTO grades VALUES ('ada', 6)")
      db.close()
      return file
    }
    const text = join(dir, "notes.txt")
    writeFileSync(text, "not a database\n".repeat(200))
    const empty = join(dir, "empty.db")
    writeFileSync(empty, "")
    const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
      [`sqlite:${foreign("grades.db", "DELETE")}`, "grades.db", /no baton_usage table/],
      [`file:${foreign("grades-wal.db", "WAL")}`, "grades-wal.db", /no baton_usage table/],
      [`sqlite:${text}`, "notes.txt", /not an SQLite database/],
      [`sqlite:${empty}`, "empty.db", /an empty file/]
    ]
    for (const [url, name, why] of cases) {
      const file = join(dir, name)
      const before = sha256(file)
      const files = readdirSync(dir).toSorted()
      const ran = await run(["usage"], { env: { LLM_USAGE_STORE_URL: url } })
      assert.strictEqual(ran.code, 2, `${url}: ${ran.stdout}${ran.stderr}`)
      assert.strictEqual(ran.stdout, "")
      // one line, no stack trace
      assert.match(ran.stderr, new RegExp(`^baton: LLM_USAGE_STORE_URL: ${file} is not a Baton usage ledger \\(`))
      assert.match(ran.stderr, why)
      assert.strictEqual(ran.stderr.trim().split("\n").length, 1, ran.stderr)
      assert.strictEqual(sha256(file), before, `${name} was modified`)
      assert.deepStrictEqual(readdirSync(dir).toSorted(), files, `files were added next to ${name}`)
    }
    // a ledger another connection holds open in WAL mode (its -wal file next to it, as while serve runs) is read
    const ledger = join(freshDir(), "usage.sqlite")
    const open = Effect.runSync(Scope.make())
    try {
      await Effect.runPromise(Scope.provide(Layer.build(SqlUsageLedger.layerUrl(`sqlite:${ledger}`)), open))
      assert.isTrue(existsSync(`${ledger}-wal`))
      const ran = await run(["usage"], { env: { LLM_USAGE_STORE_URL: `sqlite:${ledger}` } })
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.match(ran.stdout, /^No usage recorded for /)
    } finally {
      await Effect.runPromise(Scope.close(open, Exit.void))
    }
  })

  it.skipIf(!postgresAvailable)(
    "usage refuses a PostgreSQL database without Baton's tables and creates none: exit 2",
    async () => {
      const name = `baton_cli_${process.pid}_${Date.now()}`
      const url = new URL(postgresUrl)
      url.pathname = `/${name}`
      await onPostgres(postgresUrl, (sql) => sql`CREATE DATABASE ${sql(name)}`)
      try {
        await onPostgres(url.href, (sql) => sql`CREATE TABLE grades (student TEXT NOT NULL, grade INTEGER NOT NULL)`)
        const ran = await run(["usage"], { env: { LLM_USAGE_STORE_URL: url.href } })
        assert.strictEqual(ran.code, 2, `${ran.stdout}${ran.stderr}`)
        assert.strictEqual(ran.stdout, "")
        assert.match(
          ran.stderr,
          /^baton: LLM_USAGE_STORE_URL: postgres:\/\/[^\n]* is not a Baton usage ledger \(no baton_usage table/
        )
        const tables = await onPostgres(
          url.href,
          (sql) =>
            sql<
              { name: string }
            >`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`
        )
        assert.deepStrictEqual(tables.map((row) => row.name), ["grades"])
        // a ledger there (generate and serve make one) is read
        await Effect.runPromise(Effect.scoped(Layer.build(SqlUsageLedger.layerUrl(url.href))))
        const ledger = await run(["usage"], { env: { LLM_USAGE_STORE_URL: url.href } })
        assert.strictEqual(ledger.code, 0, ledger.stderr)
        assert.match(ledger.stdout, /^No usage recorded for /)
      } finally {
        await onPostgres(postgresUrl, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`)
      }
    }
  )

  it("usage refuses a day the calendar does not have, naming the flag, exit 1", async () => {
    const env = { LLM_USAGE_STORE_URL: await emptyLedger() }
    const cases = [
      ["--day", "2026-02-30", "2026-02 has 28 days"],
      ["--from", "2025-02-29", "2025-02 has 28 days"]
    ] as const
    for (const [flag, day, why] of cases) {
      const ran = await run(["usage", flag, day], { env })
      assert.strictEqual(ran.code, 1, `${flag} ${day}: ${ran.stdout}`)
      assert.include(ran.stderr, `baton: ${flag} ${day}: ${why}`)
    }
    const leap = await run(["usage", "--day", "2024-02-29"], { env })
    assert.strictEqual(leap.code, 0, leap.stderr)
  })

  it("usage names the bounds of a backwards range as given: a flag, or today as the other's default", async () => {
    const env = { LLM_USAGE_STORE_URL: await emptyLedger() }
    const today = /\d{4}-\d{2}-\d{2}/.source
    const cases = [
      [
        ["--to", "2000-01-01"],
        new RegExp(`^baton: today \\(${today}, the default --from\\) is after --to 2000-01-01$`, "m")
      ],
      [
        ["--from", "2999-01-01"],
        new RegExp(`^baton: --from 2999-01-01 is after today \\(${today}, the default --to\\)$`, "m")
      ],
      [["--from", "2000-01-02", "--to", "2000-01-01"], /^baton: --from 2000-01-02 is after --to 2000-01-01$/m]
    ] as const
    for (const [flags, message] of cases) {
      const ran = await run(["usage", ...flags], { env })
      assert.strictEqual(ran.code, 1, flags.join(" "))
      assert.match(ran.stderr, message)
    }
  })

  it("generate with no key uses the bundled mock server, says so once, and the ledger shows the call", async () => {
    const cwd = freshDir()
    const generated = await run(["generate", "Write 2 questions about Mars for grade 4", "--teacher", "cli-t"], { cwd })
    assert.strictEqual(generated.code, 0, generated.stderr)
    assert.include(generated.stdout, "Mock answer from deepseek")
    assert.strictEqual(generated.stderr.match(/bundled mock provider server/g)?.length, 1)
    assert.match(
      generated.stderr,
      /deepseek\/deepseek-flash · 1 attempt\(s\) · \d+ in \/ \d+ out tokens · \$[\d.]+ · \d+ ms/
    )
    const usage = await run(["usage", "--teacher", "cli-t", "--json"], { cwd })
    assert.strictEqual(usage.code, 0, usage.stderr)
    const rows = JSON.parse(usage.stdout) as ReadonlyArray<{ subjectId: string; requests: number }>
    assert.deepStrictEqual(rows.map((r) => [r.subjectId, r.requests]), [["cli-t", 1]])
  })

  it("generate --stream counts the attempts as generate does", async () => {
    const counts: Array<string | undefined> = []
    for (const flags of [[], ["--stream"]]) {
      // a model name the bundled mock server answers with 503: retried, then the fallback answers
      const ran = await run(["generate", "hi", "--model", "deepseek-flash@status=503", ...flags])
      assert.strictEqual(ran.code, 0, ran.stderr)
      counts.push(/^gemini\/\S+ · (\d+) attempt\(s\)/m.exec(ran.stderr)?.[1])
    }
    assert.isAbove(Number(counts[0]), 1)
    assert.deepStrictEqual(counts[1], counts[0])
  })

  it("generate --model sets the first provider's model when LLM_PRIMARY_PROVIDER is empty or padded", async () => {
    for (const [primary, provider] of [["", "deepseek"], [" Gemini ", "gemini"]] as const) {
      const ran = await run(["generate", "hi", "--model", "chosen-model"], { env: { LLM_PRIMARY_PROVIDER: primary } })
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.match(ran.stderr, new RegExp(`^${provider}/chosen-model · 1 attempt\\(s\\)`, "m"), JSON.stringify(primary))
    }
  })

  it("generate and serve call an OpenAI-compatible endpoint of LLM_CHAIN with no hosted key, and start no bundled mock", async () => {
    const compat = {
      LLM_CHAIN: "local",
      LLM_COMPAT_LOCAL_BASE_URL: server.baseUrl("openai"),
      LLM_COMPAT_LOCAL_MODEL: "gpt-4o-mini",
      LLM_COMPAT_LOCAL_API_KEY: "sk-canary-compat-1"
    }
    const seen = (await Effect.runPromise(server.received("openai"))).length
    const ran = await run(["generate", "hi compat"], { env: { ...compat, LLM_USAGE_STORE_URL: "sqlite::memory:" } })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.notInclude(ran.stderr, "bundled mock provider server")
    assert.match(ran.stderr, /^local\/gpt-4o-mini · 1 attempt\(s\)/m)
    const received = (await Effect.runPromise(server.received("openai"))).slice(seen)
    assert.include(JSON.stringify(received.map((request) => request.body)), "hi compat")
    const key = "client-key-for-the-compat-test"
    const gateway = await startServe([], {
      ...compat,
      BATON_GATEWAY_KEYS: `teacher-compat:${createHash("sha256").update(key).digest("hex")}`
    })
    try {
      const answered = await chat(gateway.port, `Bearer ${key}`, "default")
      assert.strictEqual(answered.status, 200)
      assert.strictEqual((await answered.json() as { model: string }).model, "local/gpt-4o-mini")
      assert.notInclude(gateway.stderr(), "bundled mock provider server")
    } finally {
      await gateway.stop()
    }
  })

  it("generate --schema with a file that cannot be used exits 2 naming it, before any setup: missing, not an object, not a JSON Schema", async () => {
    const cwd = freshDir()
    writeFileSync(join(cwd, "list.json"), "[1]")
    writeFileSync(join(cwd, "bad.json"), JSON.stringify({ type: "nope" }))
    for (const file of ["missing.json", "list.json", "bad.json"]) {
      // no key: the bundled mock server would start, and the default ledger be created, were the file read later
      const ran = await run(["generate", "hi", "--schema", file], { cwd })
      assert.strictEqual(ran.code, 2, `${file}: ${ran.stderr}`)
      assert.match(ran.stderr, new RegExp(`^baton: --schema ${file}: [^\n]*\n$`))
    }
    assert.deepStrictEqual(readdirSync(cwd).sort(), ["bad.json", "list.json"])
    const invalid = await run(["generate", "hi", "--schema", "bad.json"], { cwd })
    assert.match(invalid.stderr, /^baton: --schema bad\.json: not a valid JSON Schema/m)
    // a usable one still gives the answer as JSON matching it
    const schema = { type: "object", properties: { title: { type: "string" } }, required: ["title"] }
    writeFileSync(join(cwd, "good.json"), JSON.stringify(schema))
    const answered = await run(["generate", "hi", "--schema", "good.json"], { cwd })
    assert.strictEqual(answered.code, 0, answered.stderr)
    assert.isString((JSON.parse(answered.stdout) as { title: unknown }).title)
  })

  it("generate --json: a warning logged on the way goes to stderr, stdout holds the JSON object alone", async () => {
    // prices for a provider that is not configured: a warning, and the call goes on
    const env = {
      ...onMock(),
      LLM_USAGE_STORE_URL: "sqlite::memory:",
      LLM_PRICES: `{"acme":{"models":{"x":{"input":2,"output":8}}}}`
    }
    const answered = await run(["generate", "hi", "--json"], { env })
    assert.strictEqual(answered.code, 0, answered.stderr)
    assert.match(answered.stderr, /WARN .*LLM_PRICES/)
    assert.isString((JSON.parse(answered.stdout) as { content: string }).content, answered.stdout)
  })

  it("generate --json on a failure prints one JSON object on stdout (tag, message, attempts, retry hint), same exit code", async () => {
    const env = { ...onMock(), LLM_USAGE_STORE_URL: "sqlite::memory:", LLM_MAX_RETRIES: "0" }
    const model = "deepseek-flash@rateLimited;retryAfter=5"
    const failed = await run(["generate", "hi", "--provider", "deepseek", "--model", model, "--json"], { env })
    assert.strictEqual(failed.code, 3, failed.stderr)
    assert.match(failed.stderr, /^baton: all providers failed/m)
    const { error } = JSON.parse(failed.stdout) as {
      error: {
        _tag: string
        message: string
        attempts: ReadonlyArray<{ provider: string; outcome: string; error: { _tag: string; retryAfterMs?: number } }>
      }
    }
    assert.strictEqual(error._tag, "AllProvidersFailed")
    assert.include(error.message, "all providers failed")
    assert.deepStrictEqual(
      error.attempts.map((a) => [a.provider, a.outcome, a.error._tag, a.error.retryAfterMs]),
      [["deepseek", "error", "ProviderRateLimited", 5000]]
    )
    // configuration: the variable to fix
    const config = await run(["generate", "hi", "--json"], { env: { DEEPSEEK_API_KEY: "sk-test" } })
    assert.strictEqual(config.code, 2, config.stderr)
    assert.deepStrictEqual(
      JSON.parse(config.stdout),
      {
        error: {
          _tag: "LlmConfigError",
          message: /^baton: (.*)$/m.exec(config.stderr)?.[1],
          variable: "GEMINI_API_KEY"
        }
      }
    )
    // flags the command refuses
    const flags = await run(["generate", "hi", "--stream", "--schema", "s.json", "--json"], { env })
    assert.strictEqual(flags.code, 1, flags.stderr)
    assert.strictEqual((JSON.parse(flags.stdout) as { error: { _tag: string } }).error._tag, "CommandLineError")
  })

  it("generate --stream cut midway ends the partial answer's line before the error", async () => {
    const ran = await run(
      [
        "generate",
        "Write two questions about Mars",
        "--provider",
        "deepseek",
        "--model",
        "deepseek-flash@cutStream",
        "--stream"
      ],
      { env: { ...onMock(), LLM_USAGE_STORE_URL: "sqlite::memory:", LLM_MAX_RETRIES: "0" } }
    )
    assert.strictEqual(ran.code, 3, ran.stderr)
    assert.match(ran.stdout, /^Mock answer from deepseek[^\n]*\n$/)
    assert.match(ran.stderr, /^baton: deepseek stream interrupted/m)
  })

  it("generate --stream --json cut midway: the StreamInterrupted error carries what the request billed, as the ledger", async () => {
    const cwd = freshDir()
    const model = "deepseek-flash@cutStream;after=3"
    const ran = await run(["generate", "hi", "--provider", "deepseek", "--model", model, "--stream", "--json"], {
      cwd,
      env: { ...onMock(), LLM_MAX_RETRIES: "0" }
    })
    assert.strictEqual(ran.code, 3, ran.stderr)
    const { error } = JSON.parse(ran.stdout) as {
      error: { _tag: string; usage?: { promptTokens: number; completionTokens: number } }
    }
    assert.strictEqual(error._tag, "StreamInterrupted")
    assert.isAbove(error.usage?.completionTokens ?? 0, 0)
    const usage = await run(["usage", "--json"], { cwd })
    assert.strictEqual(usage.code, 0, usage.stderr)
    const rows = JSON.parse(usage.stdout) as ReadonlyArray<{ promptTokens: number; completionTokens: number }>
    assert.deepStrictEqual(rows.map((r) => [r.promptTokens, r.completionTokens]), [[
      error.usage?.promptTokens,
      error.usage?.completionTokens
    ]])
  })

  it("generate --stream into a reader that goes away (| head -1) stops the call without a crash, exit 141", async () => {
    const cwd = freshDir()
    const child = spawn(
      node,
      [
        baton,
        "generate",
        "Write about Mars",
        "--stream",
        "--teacher",
        "piped",
        "--model",
        "deepseek-flash@slowTokens=50"
      ],
      { cwd, env: { ...baseEnv, ...onMock(), LLM_MAX_RETRIES: "0" } }
    )
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    // the reader takes the first piece of the answer, then closes the pipe
    child.stdout.once("data", () => child.stdout.destroy())
    const code = await new Promise((resolve) => child.once("exit", resolve))
    assert.strictEqual(code, 141, stderr)
    assert.notMatch(stderr, /EPIPE|\n\s+at /)
    const usage = await run(["usage", "--teacher", "piped", "--json"], { cwd })
    assert.strictEqual(usage.code, 0, usage.stderr)
    assert.deepStrictEqual((JSON.parse(usage.stdout) as ReadonlyArray<{ requests: number }>).map((r) => r.requests), [
      1
    ])
  })

  it("generate, serve and both mock-server commands stopped by SIGTERM exit 143 after their shutdown, by SIGINT 130", async () => {
    const hash = createHash("sha256").update("k").digest("hex")
    const commands = [
      // a slow answer still coming: the call is cancelled and its ledger row written, as Ctrl-C does
      {
        args: ["generate", "Write about Mars", "--stream", "--model", "deepseek-flash@slowTokens=50"],
        ready: /\S/,
        env: { ...onMock(), LLM_MAX_RETRIES: "0" }
      },
      { args: ["serve", "--port", "0"], ready: /Listening on/, env: { BATON_GATEWAY_KEYS: `t:${hash}` } },
      { args: ["mock-server", "--port", "0"], ready: /Ctrl-C stops/, env: {} },
      { args: ["--port", "0"], ready: /Ctrl-C stops/, env: {}, bin: mockServerBin }
    ]
    for (const [signal, expected] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      for (const { args, bin, env, ready } of commands) {
        const cwd = freshDir()
        const teacher = `stopped-${expected}`
        const generating = args[0] === "generate"
        const ran = await stopOnceReady(generating ? [...args, "--teacher", teacher] : args, ready, signal, {
          bin,
          env,
          cwd
        })
        const label = `${signal} ${args.join(" ")}`
        assert.strictEqual(ran.code, expected, `${label}: ${ran.stderr}`)
        assert.notMatch(ran.stderr, /\n\s+at /, label)
        if (!generating) continue
        const usage = await run(["usage", "--teacher", teacher, "--json"], { cwd })
        assert.strictEqual(usage.code, 0, usage.stderr)
        const rows = JSON.parse(usage.stdout) as ReadonlyArray<{ requests: number }>
        assert.deepStrictEqual(rows.map((r) => r.requests), [1], label)
      }
    }
  })

  it("generate refuses an empty or blank prompt as the manager does, before any setup: no mock server, no ledger", async () => {
    for (const prompt of ["", " \t "]) {
      for (const flags of [[], ["--json"]]) {
        const cwd = freshDir()
        const ran = await run(["generate", prompt, ...flags], { cwd })
        const label = JSON.stringify([prompt, ...flags])
        assert.strictEqual(ran.code, 1, `${label}: ${ran.stderr}`)
        assert.strictEqual(ran.stderr, "baton: prompt: a prompt must not be empty or blank\n", label)
        assert.deepStrictEqual(readdirSync(cwd), [], label)
        if (flags.length > 0) {
          assert.deepInclude(JSON.parse(ran.stdout), {
            error: { _tag: "InvalidOptions", message: "prompt: a prompt must not be empty or blank", field: "prompt" }
          }, label)
        }
      }
    }
  })

  it("generate with an output that cannot be written (stdout on /dev/full: ENOSPC) says so on stderr, exit 3", async () => {
    const full = openSync("/dev/full", "w")
    try {
      const child = spawn(node, [baton, "generate", "Write about Mars"], {
        cwd: freshDir(),
        env: baseEnv,
        stdio: ["ignore", full, "pipe"]
      })
      let stderr = ""
      child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      const code = await new Promise((resolve) => child.once("exit", resolve))
      assert.strictEqual(code, 3, stderr)
      assert.match(stderr, /^baton: cannot write the output: ENOSPC: no space left on device/m)
      assert.notMatch(stderr, /\n\s+at /)
    } finally {
      closeSync(full)
    }
  })

  it("generate --json refused before any async step, into a closed pipe or /dev/full: exit 141 or 3, no stack trace", async () => {
    const refusals = [["generate", "--json", ""], ["generate", "--json", "--schema", "/no/such/schema.json", "hi"]]
    for (const args of refusals) {
      // the reader is gone before the bin has loaded: its first write fails with EPIPE
      const piped = spawn(node, [baton, ...args], { cwd: freshDir(), env: baseEnv })
      piped.stdout.destroy()
      let stderr = ""
      piped.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      const code = await new Promise((resolve) => piped.once("exit", resolve))
      assert.strictEqual(code, 141, `${args.join(" ")}: ${stderr}`)
      assert.notMatch(stderr, /EPIPE|\n\s+at /, args.join(" "))
      const full = openSync("/dev/full", "w")
      try {
        const child = spawn(node, [baton, ...args], { cwd: freshDir(), env: baseEnv, stdio: ["ignore", full, "pipe"] })
        let fullStderr = ""
        child.stderr?.on("data", (chunk: Buffer) => (fullStderr += chunk.toString()))
        const fullCode = await new Promise((resolve) => child.once("exit", resolve))
        assert.strictEqual(fullCode, 3, `${args.join(" ")}: ${fullStderr}`)
        assert.match(fullStderr, /^baton: cannot write the output: ENOSPC: no space left on device/m)
        assert.notMatch(fullStderr, /\n\s+at /, args.join(" "))
      } finally {
        closeSync(full)
      }
    }
  })

  it("--version and --help with stdout on /dev/full say so on stderr, exit 3, not 0 with nothing printed", async () => {
    for (const flag of ["--version", "--help"]) {
      const full = openSync("/dev/full", "w")
      try {
        const child = spawn(node, [baton, flag], { cwd: freshDir(), env: baseEnv, stdio: ["ignore", full, "pipe"] })
        let stderr = ""
        child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
        const code = await new Promise((resolve) => child.once("exit", resolve))
        assert.strictEqual(code, 3, `${flag}: ${stderr}`)
        assert.match(stderr, /^baton: cannot write the output: ENOSPC: no space left on device/m, flag)
      } finally {
        closeSync(full)
      }
    }
  })

  /**
   * `baton generate --json` with `args` against the mock's DeepSeek, in `cwd`, stopped by Ctrl-C once the provider
   * has the call (`"received"`) or once its answer reached the stall its model injects (`"stalled"`, what came
   * before it written): its exit code and what it printed on stdout.
   */
  const interruptedJson = async (
    args: ReadonlyArray<string>,
    cwd: string,
    when: "received" | "stalled" = "received"
  ) => {
    const counted = async () => {
      const stats = await Effect.runPromise(server.stats("deepseek"))
      return when === "received" ? stats.requests : stats.stalled
    }
    const before = await counted()
    const child = spawn(node, [baton, "generate", "Write about Mars", "--json", ...args], {
      cwd,
      env: { ...baseEnv, ...onMock(), LLM_MAX_RETRIES: "0" }
    })
    let stdout = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    const exited = new Promise((resolve) => child.once("exit", resolve))
    while ((await counted()) === before) await new Promise((resolve) => setTimeout(resolve, 50))
    // the bytes written before the stall cross the loopback and a loaded machine: time for the CLI to read them
    if (when === "stalled") await new Promise((resolve) => setTimeout(resolve, 500))
    child.kill("SIGINT")
    return { code: await exited, stdout }
  }

  it("generate --json stopped by Ctrl-C prints one JSON error object on stdout, exit 130", async () => {
    // stopped once the provider has the call, before its first event: nothing billed yet
    const ran = await interruptedJson(["--stream", "--model", "deepseek-flash@slowFirstToken=60000"], freshDir())
    assert.strictEqual(ran.code, 130)
    assert.deepStrictEqual(JSON.parse(ran.stdout), {
      error: { _tag: "Interrupted", message: "stopped before the answer was complete" }
    })
  })

  it("generate --json stopped by Ctrl-C mid-answer carries what the request billed so far, as its ledger row, --stream or not", async () => {
    for (const flags of [["--stream"], []]) {
      const cwd = freshDir()
      // three words of the answer (after the model's reasoning), then silence: the answer is under way when stopped
      const model = "deepseek-flash@stallMidStream=forever;after=3"
      const ran = await interruptedJson([...flags, "--model", model, "--teacher", "billed"], cwd, "stalled")
      const label = flags.join(" ")
      assert.strictEqual(ran.code, 130, label)
      const { error } = JSON.parse(ran.stdout) as {
        error: { _tag: string; usage?: { promptTokens: number; completionTokens: number; estimated?: boolean } }
      }
      assert.strictEqual(error._tag, "Interrupted", label)
      assert.isAbove(error.usage?.completionTokens ?? 0, 0, label)
      // the stopped stream is billed Baton's estimate of what came, as the ledger recorded it
      assert.strictEqual(error.usage?.estimated, true, label)
      const usage = await run(["usage", "--teacher", "billed", "--json"], { cwd })
      assert.strictEqual(usage.code, 0, usage.stderr)
      const rows = JSON.parse(usage.stdout) as ReadonlyArray<{ promptTokens: number; completionTokens: number }>
      assert.deepStrictEqual(
        rows.map((r) => [r.promptTokens, r.completionTokens]),
        [[error.usage?.promptTokens, error.usage?.completionTokens]],
        label
      )
    }
  })

  it("an empty --model or --host is refused with the usage, naming the flag, exit 1", async () => {
    for (
      const [command, flag, value] of [
        ["generate", "--model", ""],
        ["generate", "--model", " "],
        ["serve", "--host", ""]
      ] as const
    ) {
      const ran = await run(command === "generate" ? [command, "hi", flag, value] : [command, flag, value], {
        env: { ...onMock(), LLM_USAGE_STORE_URL: "sqlite::memory:" }
      })
      assert.strictEqual(ran.code, 1, `${command} ${flag} ${JSON.stringify(value)}: ${ran.stderr}`)
      assert.include(ran.stdout, "USAGE")
      assert.include(ran.stderr, `flag ${flag}`)
    }
  })

  it("generate refuses a --teacher or --model no request can take, naming the flag, not a field or a variable", async () => {
    const cases: ReadonlyArray<readonly [string, string, Record<string, string>?]> = [
      ["--teacher", ""],
      ["--teacher", " "],
      ["--teacher", "a\nb"],
      ["--teacher", "t".repeat(257)],
      ["--model", "a\tb"],
      ["--model", " flash"],
      ["--model", "m".repeat(257)],
      // a model written into LLM_CHAIN's first step: a comma would start another step
      ["--model", "a,b", { LLM_CHAIN: "gemini,deepseek" }]
    ]
    for (const [flag, value, env] of cases) {
      const ran = await run(["generate", "hi", flag, value], {
        env: { ...onMock(), LLM_USAGE_STORE_URL: "sqlite::memory:", ...env }
      })
      const label = `${flag} ${JSON.stringify(value)}: ${ran.stderr}`
      assert.strictEqual(ran.code, 1, label)
      assert.include(ran.stderr, flag, label)
      assert.notMatch(ran.stderr, /metadata\.|_MODEL|LLM_CHAIN:/, label)
      assert.notInclude(ran.stdout, "Mock answer", label)
    }
  })

  it("generate --model sets the model of LLM_CHAIN's first step", async () => {
    const env = { ...onMock(), LLM_USAGE_STORE_URL: "sqlite::memory:" }
    for (const chain of ["gemini,deepseek", "gemini/gemini-2.5-flash-lite,deepseek"]) {
      const ran = await run(["generate", "hi", "--model", "gemini-3.5-flash"], { env: { ...env, LLM_CHAIN: chain } })
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.match(ran.stderr, /^gemini\/gemini-3\.5-flash · 1 attempt\(s\)/m, chain)
    }
  })

  it("check --ping prints the chain and one line per provider", async () => {
    const ran = await run(["check", "--ping"], { env: onMock() })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.include(ran.stdout, "deepseek (deepseek-flash) -> gemini (gemini-2.5-flash)")
    assert.match(ran.stdout, /^deepseek\s+deepseek-flash\s+\d+\s+ok$/m)
    assert.match(ran.stdout, /^gemini\s+gemini-2\.5-flash\s+\d+\s+ok$/m)
  })

  it("check --ping says why a provider failed: its scrubbed message under the table, not its error tag alone", async () => {
    // the mock's root, not its `/deepseek`: the provider answers 404 for `/chat/completions`
    const ran = await run(["check", "--ping"], {
      env: {
        DEEPSEEK_API_KEY: "sk-test-secret-key",
        DEEPSEEK_BASE_URL: new URL(server.baseUrl("deepseek")).origin,
        LLM_FALLBACK_PROVIDER: "none",
        LLM_USAGE_STORE_URL: "sqlite::memory:"
      }
    })
    assert.strictEqual(ran.code, 3, `${ran.stdout}${ran.stderr}`)
    assert.match(ran.stdout, /^deepseek\s+deepseek-flash\s+\d+\s+InvalidRequest$/m)
    assert.match(
      ran.stdout,
      /^deepseek deepseek-flash: deepseek answered HTTP 404: mock provider server: no route for POST \/chat\/completions; expected /m
    )
    assert.include(ran.stderr, "baton: a provider did not answer the ping")
  })

  it("check --ping shows a provider's message that echoes the key with the key [redacted]", async () => {
    // not key-shaped: only the configured key's own value finds it where no `Bearer` precedes it
    const key = "deepseek-canary-0123456789abcdef"
    const message = `Incorrect API key provided: ${key}. You sent Authorization: Bearer ${key}`
    const echoing = await Effect.runPromise(
      Scope.provide(
        RawServer.start({ status: 401, body: { error: { message, type: "invalid_request_error" } }, events: [] }),
        scope
      )
    )
    const ran = await run(["check", "--ping"], {
      env: {
        DEEPSEEK_API_KEY: key,
        DEEPSEEK_BASE_URL: echoing.url,
        LLM_FALLBACK_PROVIDER: "none",
        LLM_USAGE_STORE_URL: "sqlite::memory:"
      }
    })
    assert.strictEqual(ran.code, 3, `${ran.stdout}${ran.stderr}`)
    assert.match(
      ran.stdout,
      /^deepseek deepseek-flash: deepseek answered HTTP 401: Incorrect API key provided: \[redacted\]\. You sent Authorization: Bearer \[redacted\]/m
    )
    assert.notInclude(`${ran.stdout}${ran.stderr}`, "canary")
  })

  it("check --ping pings every step of LLM_CHAIN with its model, OpenAI-compatible endpoints included", async () => {
    const seen = (await Effect.runPromise(server.received())).length
    const ran = await run(["check", "--ping"], {
      env: {
        DEEPSEEK_API_KEY: "sk-test",
        DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
        LLM_CHAIN: "deepseek/deepseek-v4-pro,local",
        LLM_COMPAT_LOCAL_BASE_URL: server.baseUrl("openai"),
        LLM_COMPAT_LOCAL_MODEL: "llama3.2",
        LLM_COMPAT_LOCAL_API_KEY: "sk-local"
      }
    })
    assert.strictEqual(ran.code, 0, `${ran.stdout}${ran.stderr}`)
    assert.match(ran.stdout, /^deepseek\s+deepseek-v4-pro\s+\d+\s+ok$/m)
    assert.match(ran.stdout, /^local\s+llama3\.2\s+\d+\s+ok$/m)
    const models = (await Effect.runPromise(server.received())).slice(seen).map((request) =>
      (request.body as { readonly model?: string }).model
    )
    assert.deepStrictEqual(models, ["deepseek-v4-pro", "llama3.2"])
  })

  it("mock-server and baton-mock-server start and print their URLs", async () => {
    const ready = /Ctrl-C stops/
    for (
      const started of [
        await stopOnceReady(["mock-server", "--port", "0"], ready, "SIGINT"),
        await stopOnceReady(["--port", "0", "--seed", "3"], ready, "SIGINT", { bin: mockServerBin })
      ].map((ran) => ran.stdout)
    ) {
      assert.match(started, /Baton mock provider server on http:\/\/127\.0\.0\.1:\d+/)
      assert.match(started, /deepseek +http:\/\/127\.0\.0\.1:\d+\/deepseek/)
    }
  })

  it("serve and mock-server on a port in use name the address and the reason in one line, exit 2", async () => {
    const { port, server: holder } = await occupy()
    try {
      const hash = createHash("sha256").update("k").digest("hex")
      for (const command of ["serve", "mock-server"]) {
        const ran = await run([command, "--port", String(port)], { env: { BATON_GATEWAY_KEYS: `t:${hash}` } })
        assert.strictEqual(ran.code, 2, `${command}: ${ran.stderr}`)
        // one line of its own (serve may also announce the bundled mock server), no stack trace
        assert.deepStrictEqual(
          ran.stderr.split("\n").filter((line) => line.length > 0 && !/bundled mock provider server/.test(line)),
          [`baton: cannot listen on 127.0.0.1:${port}: address in use`],
          command
        )
      }
    } finally {
      await closeServer(holder)
    }
  })

  it("serve without a config: the environment's chain (mock providers), memory quota, SQLite ledger; others 401", async () => {
    const key = "client-key-for-the-cli-test"
    const hash = createHash("sha256").update(key).digest("hex")
    const cwd = freshDir()
    const gateway = await startServe([], { BATON_GATEWAY_KEYS: `teacher-cli:${hash}` }, cwd)
    try {
      const answered = await chat(gateway.port, `Bearer ${key}`, "default")
      assert.strictEqual(answered.status, 200)
      assert.strictEqual(answered.headers.get("ratelimit-remaining"), "99")
      const body = await answered.json() as { model: string; choices: ReadonlyArray<{ message: { content: string } }> }
      assert.strictEqual(body.model, "deepseek/deepseek-flash")
      assert.include(body.choices[0]?.message.content, "Mock answer from deepseek")
      assert.strictEqual((await chat(gateway.port, "Bearer not-a-key", "default")).status, 401)
    } finally {
      await gateway.stop()
    }
    // the call's row is in the embedded ledger, .baton/usage.sqlite under the working directory
    const usage = await run(["usage"], { cwd })
    assert.strictEqual(usage.code, 0, usage.stderr)
    assert.match(usage.stdout, /teacher-cli\s+1\s/)
  })

  it("serve --config needs no key of the environment's chain and starts no bundled mock: the file's providers answer", async () => {
    const key = "client-key-for-the-config-test"
    const keys = [{ sha256: createHash("sha256").update(key).digest("hex"), subject: "teacher-config" }]
    const cases = [
      // a hosted provider of the file, with its key only (the environment's chain would want DeepSeek's and Gemini's)
      {
        providers: { openai: { baseUrl: server.baseUrl("openai"), models: ["gpt-4o-mini"] } },
        env: { OPENAI_API_KEY: "sk-openai-only" }
      },
      // an OpenAI-compatible endpoint with its key in a variable of its own, and no standard provider key
      {
        providers: { local: { baseUrl: server.baseUrl("openai"), models: ["gpt-4o-mini"], apiKeyEnv: "LOCAL_KEY" } },
        env: { LOCAL_KEY: "sk-local" }
      }
    ]
    for (const { env, providers } of cases) {
      const cwd = freshDir()
      const provider = Object.keys(providers)[0]
      writeFileSync(
        join(cwd, "baton.json"),
        JSON.stringify({ providers, models: { fast: [`${provider}/gpt-4o-mini`] }, keys })
      )
      const gateway = await startServe(["--config", "baton.json"], env, cwd)
      try {
        const answered = await chat(gateway.port, `Bearer ${key}`, "fast")
        assert.strictEqual(answered.status, 200, provider)
        assert.strictEqual((await answered.json() as { model: string }).model, `${provider}/gpt-4o-mini`)
        assert.notInclude(gateway.stderr(), "bundled mock provider server", provider)
      } finally {
        await gateway.stop()
      }
    }
  })

  it("serve and mock-server refuse a port that is not decimal digits 0 to 65535, naming --port, with the usage, exit 1", async () => {
    const env = { ...onMock(), BATON_GATEWAY_KEYS: `t:${createHash("sha256").update("k").digest("hex")}` }
    for (const command of ["serve", "mock-server"]) {
      for (const port of ["1e3", "0x50", "80.0", " 80", "+80", "", "65536", "99999", "-1"]) {
        const label = `${command} --port ${JSON.stringify(port)}`
        const ran = await run([command, "--port", port], { env })
        assert.strictEqual(ran.code, 1, `${label}: ${ran.stdout}${ran.stderr}`)
        assert.include(ran.stdout, "USAGE", label)
        assert.include(ran.stderr, "--port", label)
        assert.include(ran.stderr, "0 to 65535", label)
      }
    }
  })

  it("serve with an unreachable REDIS_URL names the variable and the reason in one line, not the password, exit 2", async () => {
    // a port nothing listens on
    const port = await TcpProbe.sparePort()
    const password = "redis-password-not-to-show"
    const ran = await run(["serve", "--port", "0"], {
      env: {
        ...onMock(),
        BATON_GATEWAY_KEYS: `t:${createHash("sha256").update("k").digest("hex")}`,
        REDIS_URL: `redis://baton:${password}@127.0.0.1:${port}`
      }
    })
    assert.strictEqual(ran.code, 2, ran.stderr)
    assert.notInclude(ran.stderr, password)
    assert.deepStrictEqual(
      ran.stderr.split("\n").filter((line) => line.startsWith("baton:")),
      [`baton: REDIS_URL: cannot connect to Redis: connect ECONNREFUSED 127.0.0.1:${port}`]
    )
    // that line alone: no warning of a reconnection that never comes, no stack trace
    assert.notMatch(`${ran.stdout}${ran.stderr}`, /reconnecting|\n\s+at /)
  })

  it("serve --help shows a minimal config, and that config is valid", async () => {
    const help = await run(["serve", "--help"])
    assert.strictEqual(help.code, 0, help.stderr)
    const yaml = /A minimal config[^\n]*\n\n((?: {2}.*\n)+)/.exec(help.stdout)?.[1] ?? ""
    assert.include(yaml, "providers:")
    const config = await Effect.runPromise(
      GatewayConfig.parse(
        yaml.replace(/<sha256 hex of the client's key>/, GatewayConfig.hashKey("k")),
        "yaml"
      ).pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ DEEPSEEK_API_KEY: "d", GEMINI_API_KEY: "g" })))
      )
    )
    assert.deepStrictEqual(
      GatewayConfig.resolveModel(config, "quiz")?.map((step) => `${step.provider}/${step.model}:${step.retries}`),
      ["deepseek/deepseek-flash:1", "gemini/gemini-2.5-flash:undefined"]
    )
  })

  it("serve --config with a missing file names it and exits 2", async () => {
    const ran = await run(["serve", "--config", "/nonexistent/baton.yaml"])
    assert.strictEqual(ran.code, 2)
    assert.match(ran.stderr, /^baton: gateway config: cannot read \/nonexistent\/baton.yaml/m)
  })
})
