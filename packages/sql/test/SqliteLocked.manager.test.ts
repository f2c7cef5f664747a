/**
 * An SQLite ledger and request log (the CLI's default) whose file another
 * process holds locked (a backup, a maintenance script), through the path a
 * user takes: requests made through `LlmManager` while the ledger and the
 * log meet the lock, and a ledger query bounded by the caller's own
 * `Effect.timeout`.
 *
 * `node:sqlite` is synchronous: a statement waiting for the lock inside
 * SQLite blocks the whole process, so nothing of it (requests, deadlines,
 * timeouts) could answer before the lock is gone. The holder keeps the lock
 * until the test kills it: every answer is checked to have come while it
 * still held the lock, and the rows to be written only once it is gone.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import * as RequestLog from "../../core/src/RequestLog.ts"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import { Bench, managerFromEnv } from "../../core/test/utils/chain.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlRequestLog from "../src/SqlRequestLog.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"

const holdLock = fileURLToPath(new URL("fixtures/holdLock.ts", import.meta.url))

const allDays = [UsageLedger.Day.make("2000-01-01"), UsageLedger.Day.make("2999-12-31")] as const

/** A database file in a new temporary directory, removed with the scope. */
const tempFile = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "baton-sqlite-locked-"))),
    (dir) =>
      Effect.sync(() => {
        rmSync(dir, { recursive: true, force: true })
      })
  ),
  (dir) => join(dir, "usage.sqlite")
)

/** Starts the holder of `file`'s lock; fails, saying why, if it exits before it has locked. */
const startHolder = (file: string) =>
  Effect.callback<ChildProcess, Error>((resume) => {
    const child = spawn(process.execPath, [holdLock, file])
    let stderr = ""
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk)
    })
    child.stdout.once("data", () => {
      resume(Effect.succeed(child))
    })
    child.once("error", (error) => {
      resume(Effect.fail(new Error(`the lock holder did not start: ${error.message}`)))
    })
    // "close", not "exit": its stderr, which says why, is read by then
    child.once("close", (code, signal) => {
      resume(Effect.fail(new Error(`the lock holder exited (${code ?? signal}) before locking ${file}: ${stderr}`)))
    })
    return Effect.sync(() => {
      child.kill()
    })
  })

/** Kills `child` (a child already gone is left alone: no ESRCH) and waits for its exit, which frees its lock. */
const stopHolder = (child: ChildProcess) =>
  Effect.callback<undefined>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resume(Effect.undefined)
      return
    }
    child.once("exit", () => {
      resume(Effect.undefined)
    })
    child.kill()
  })

/** Another process holding `file`'s write lock until the scope closes. */
const lockedByAnotherProcess = (file: string) => Effect.acquireRelease(startHolder(file), stopHolder)

/** Whether another connection holds `file`'s write lock now. */
const isLocked = (file: string): boolean => {
  const db = new DatabaseSync(file)
  try {
    db.exec("BEGIN IMMEDIATE")
    db.exec("ROLLBACK")
    return false
  } catch {
    return true
  } finally {
    db.close()
  }
}

/** The number of rows of `table` in `file`. */
const count = (file: string, table: string): number => {
  const db = new DatabaseSync(file)
  const row = db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get()
  db.close()
  return Number(row?.["n"])
}

describe("an SQLite ledger and request log whose file another process holds locked, through LlmManager", () => {
  it.live(
    "requests and a bounded ledger query answer while the lock is held; the rows land once it is gone",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const file = yield* tempFile
        const Sinks = Layer.mergeAll(
          RequestLog.layer([SqlRequestLog.sink({ flushInterval: "10 millis" })]),
          SqlUsageLedger.layer({ flushInterval: "10 millis" })
        ).pipe(Layer.provide(SqlDatabase.layerUrl(`sqlite:${file}`)))
        yield* Effect.scoped(Effect.gen(function*() {
          const sinks = yield* Layer.build(Sinks)
          const ledger = Context.get(sinks, UsageLedger.UsageLedger)
          const llm = yield* managerFromEnv({ LLM_MAX_RETRIES: "0", LLM_REQUEST_TIMEOUT_MS: "1000" }).pipe(
            Effect.provideContext(sinks)
          )
          yield* Effect.scoped(Effect.gen(function*() {
            yield* lockedByAnotherProcess(file)
            const requests = yield* Effect.forEach([1, 2, 3], (i) =>
              Effect.exit(llm.generate({ prompt: `One question about Mars, ${i}`, metadata: { subjectId: "t1" } }))
                .pipe(
                  // the writers flush every 10 milliseconds: each request's rows meet the lock
                  Effect.tap(Effect.sleep("30 millis"))
                ))
            const query = yield* Effect.exit(Effect.timeout(ledger.dailyTotals(...allDays), "1 second"))
            // checked after every answer: the holder only lets go when it is killed, at the end of this scope
            assert.isTrue(isLocked(file), "every answer came while the other process still held the lock")
            assert.deepStrictEqual(requests.map(Exit.isSuccess), [true, true, true])
            // the query appends the waiting rows first: it met the lock, and its caller's timeout ended it
            assert.match(String(query), /Failure[\s\S]*TimeoutError/)
            assert.strictEqual(count(file, "baton_usage"), 0, "no row written while the lock is held")
          }))
          // the holder is gone: the rows the writers kept retrying are written, once each
          const totals = yield* ledger.dailyTotals(...allDays)
          assert.deepStrictEqual(
            totals.map((day) =>
              day.attempts
            ),
            [3]
          )
        }))
        assert.strictEqual(count(file, "baton_usage"), 3)
        assert.strictEqual(count(file, "baton_request_log"), 3)
      })).pipe(Effect.provide(Bench)),
    30_000
  )
})
