/**
 * A statement on an SQLite file another connection holds locked: refused at
 * once by SQLite (no wait inside it, which would block the event loop), it
 * is tried again on the effect `Clock` until the lock is gone, for up to 5
 * seconds, then fails with "database is locked". A transaction whose read
 * snapshot another connection outdated (`SQLITE_BUSY_SNAPSHOT`) fails at
 * once: trying it again cannot cure it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as SqliteClient from "../src/SqliteClient.ts"

/** A client on a new file with a table, and another connection holding the file's write lock. */
const lockedClient = <A, E>(use: (sql: SqlClient.SqlClient, holder: DatabaseSync) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "baton-sqlite-locked-"))),
    (dir) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE notes (a INTEGER)`
        const holder = new DatabaseSync(join(dir, "usage.sqlite"))
        holder.exec("BEGIN EXCLUSIVE")
        return yield* Effect.ensuring(
          use(sql, holder),
          Effect.sync(() => {
            if (holder.isTransaction) holder.exec("ROLLBACK")
            holder.close()
          })
        )
      }).pipe(Effect.provide(SqliteClient.layer({ filename: join(dir, "usage.sqlite") }))),
    (dir) =>
      Effect.sync(() => {
        rmSync(dir, { recursive: true, force: true })
      })
  )

const insert = (sql: SqlClient.SqlClient) =>
  Effect.forkChild(sql`INSERT INTO notes (a) VALUES (1)`, { startImmediately: true })

describe("SqliteClient on a file another connection holds locked", () => {
  it.effect("a statement waits on the Clock, without blocking, and runs once the lock is gone", () =>
    lockedClient((sql, holder) =>
      Effect.gen(function*() {
        const fiber = yield* insert(sql)
        // refused at once by SQLite: waiting to try again, not failed (nor run after a wait inside SQLite)
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("4900 millis")
        assert.isUndefined(fiber.pollUnsafe())
        holder.exec("ROLLBACK")
        yield* TestClock.adjust("20 millis")
        assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
        assert.deepStrictEqual(yield* sql`SELECT a FROM notes`, [{ a: 1 }])
      })
    ))

  // The bound, which the first test does not show: the retrying ends. The statement fails as it did before the
  // retry moved to the Clock (after SQLite's own 5 second wait), so this passed on the old code too: it guards the end
  it.effect("a lock held past 5 seconds still fails the statement with 'database is locked': the retrying ends", () =>
    lockedClient((sql) =>
      Effect.gen(function*() {
        const fiber = yield* insert(sql)
        yield* TestClock.adjust("5100 millis")
        const exit = yield* Fiber.await(fiber)
        assert.match(String(exit), /Failure[\s\S]*database is locked/)
      })
    ))
})

describe("SqliteClient in a transaction another connection outdated", () => {
  it.effect("a write after a read fails at once with 'database is locked' (SQLITE_BUSY_SNAPSHOT), not tried again", () =>
    lockedClient((sql, holder) =>
      Effect.gen(function*() {
        holder.exec("ROLLBACK")
        const fiber = yield* Effect.forkChild(
          sql.withTransaction(Effect.gen(function*() {
            // the read takes a snapshot of the file; the other connection then commits past it
            yield* sql`SELECT a FROM notes`
            holder.exec("INSERT INTO notes (a) VALUES (2)")
            return yield* sql`INSERT INTO notes (a) VALUES (1)`
          })),
          { startImmediately: true }
        )
        // the Clock does not move: a retry would still be waiting on it
        yield* TestClock.adjust("0 millis")
        const exit = fiber.pollUnsafe()
        assert.match(String(exit), /Failure[\s\S]*database is locked/)
        assert.deepStrictEqual(yield* sql`SELECT a FROM notes`, [{ a: 2 }])
      })
    ))
})
