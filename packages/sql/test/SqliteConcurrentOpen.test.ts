/**
 * Several processes opening one new SQLite ledger at once (the CLI started
 * twice, two replicas on one volume): every one of them opens it, and the
 * migrations run once.
 */
import type * as NodeProcess from "@baton/testing/NodeProcess"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"

const script = fileURLToPath(new URL("fixtures/openLedger.ts", import.meta.url))

/** Starts `count` processes on `file`, lets them all open it once every one is ready, and waits for their ends. */
const openTogether = async (file: string, count: number): Promise<ReadonlyArray<NodeProcess.Ran>> => {
  const children = Array.from(
    { length: count },
    () => spawn(process.execPath, [script, file], { cwd: tmpdir(), env: { PATH: process.env["PATH"] ?? "" } })
  )
  const ended = children.map((child) =>
    new Promise<NodeProcess.Ran>((resolve) => {
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      child.on("close", (code) => {
        resolve({ code, stdout, stderr })
      })
    })
  )
  const ready = children.map((child) =>
    new Promise<void>((resolve) => {
      let seen = ""
      const onData = (chunk: Buffer) => {
        seen += chunk.toString()
        if (seen.includes("ready\n")) {
          child.stdout.off("data", onData)
          resolve()
        }
      }
      child.stdout.on("data", onData)
      // a child that dies before it is ready is judged by its end
      child.on("close", () => {
        resolve()
      })
    })
  )
  await Promise.all(ready)
  for (const child of children) child.stdin.end("go\n")
  return Promise.all(ended)
}

describe("SQLite opened by several processes at once", () => {
  const root = mkdtempSync(join(tmpdir(), "baton-sqlite-together-"))
  afterAll(() => {
    rmSync(root, { recursive: true, force: true })
  })

  it("every process opens the new ledger, and each migration is recorded once", async () => {
    // the race is lost on some rounds only: several rounds, each on a new file
    for (let round = 0; round < 4; round++) {
      const file = join(root, `round-${round}`, "usage.sqlite")
      const opened = await openTogether(file, 3)
      for (const [i, child] of opened.entries()) {
        assert.deepStrictEqual(
          [child.code, child.stdout.replace("ready\n", "").trim()],
          [0, "ok"],
          `round ${round}, process ${i}: ${child.stdout}${child.stderr}`
        )
      }
      const migrations = await Effect.runPromise(
        SqlClient.SqlClient.use((sql) =>
          sql<{ migration_id: number }>`SELECT migration_id FROM ${
            sql(BatonSchema.tables().migrations)
          } ORDER BY migration_id`
        ).pipe(Effect.provide(SqlDatabase.layerUrl(`sqlite:${file}`)))
      )
      const ids = migrations.map((row) => row.migration_id)
      assert.deepStrictEqual(ids, Array.from({ length: ids.length }, (_, i) => i + 1), `round ${round}`)
      assert.isAtLeast(ids.length, 5)
    }
  }, 120_000)
})
