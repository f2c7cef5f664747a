/**
 * A new SQLite ledger file another connection is writing to or reading
 * while Baton opens it (another process creating or migrating the same new
 * file): SQLite refuses the switch to WAL (at once for a writer, after its
 * busy timeout, blocking, for a reader), so the open tries it again, without
 * waiting in SQLite, until the lock is gone, within the same 5 seconds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"

/** A new file (rollback mode) with a write transaction open on it. */
const writing = (file: string): DatabaseSync => {
  const db = new DatabaseSync(file)
  db.exec("BEGIN IMMEDIATE")
  db.exec("CREATE TABLE other_app (a INTEGER)")
  return db
}

/** A new file (rollback mode) with a table, and a read transaction open on it. */
const reading = (file: string): DatabaseSync => {
  const db = new DatabaseSync(file)
  db.exec("CREATE TABLE other_app (a INTEGER)")
  db.exec("BEGIN")
  db.prepare("SELECT * FROM other_app").all()
  return db
}

const opening = (file: string) =>
  Effect.forkChild(Effect.scoped(Layer.build(SqlUsageLedger.layerUrl(`sqlite:${file}`))), { startImmediately: true })

/** Ends `holder`'s transaction and closes it; the open waiting in `fiber` then tries again, and opens the ledger. */
const opensOnceDone = (holder: DatabaseSync, fiber: Fiber.Fiber<unknown, unknown>) =>
  Effect.gen(function*() {
    holder.exec("COMMIT")
    holder.close()
    yield* TestClock.adjust("20 millis")
    const exit = yield* Fiber.await(fiber)
    assert.isTrue(Exit.isSuccess(exit), String(exit))
  })

describe("SQLite ledger opened while another connection writes to or reads the new file", () => {
  const withFile = <A, E>(use: (file: string) => Effect.Effect<A, E>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "baton-sqlite-wal-"))),
      (dir) => use(join(dir, "usage.sqlite")),
      (dir) =>
        Effect.sync(() => {
          rmSync(dir, { recursive: true, force: true })
        })
    )

  it.effect("waits for the writer to commit, then opens the ledger in WAL mode", () =>
    withFile((file) =>
      Effect.gen(function*() {
        const writer = writing(file)
        const fiber = yield* opening(file)
        // refused at once by SQLite: still waiting to try again, not failed
        assert.isUndefined(fiber.pollUnsafe())
        yield* opensOnceDone(writer, fiber)
        const check = new DatabaseSync(file)
        const mode = check.prepare("PRAGMA journal_mode").get()
        const tables = check.prepare("SELECT name FROM sqlite_master WHERE name = 'other_app'").all()
        check.close()
        assert.deepStrictEqual(mode, { journal_mode: "wal" })
        // the other connection's table is kept
        assert.strictEqual(tables.length, 1)
      })
    ))

  it.effect("a writer holding the file past the busy timeout fails the open with 'database is locked'", () =>
    withFile((file) =>
      Effect.gen(function*() {
        const writer = writing(file)
        const fiber = yield* opening(file)
        yield* TestClock.adjust("4980 millis")
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("100 millis")
        const exit = yield* Fiber.await(fiber)
        writer.exec("ROLLBACK")
        writer.close()
        assert.isTrue(Exit.isFailure(exit))
        assert.match(String(exit), /DatabaseError[\s\S]*database is locked/)
      })
    ))

  it.effect("a reader is waited for without blocking: the open tries again once it is done", () =>
    withFile((file) =>
      Effect.gen(function*() {
        const reader = reading(file)
        const fiber = yield* opening(file)
        // refused without SQLite's own wait (which would block the event loop, and this fiber, for 5 seconds)
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("1 second")
        assert.isUndefined(fiber.pollUnsafe())
        yield* opensOnceDone(reader, fiber)
      })
    ))
})
