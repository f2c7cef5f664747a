import { afterAll, describe } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"
import { postgresAvailable, postgresUrl } from "./postgres.ts"
import { ledgerSuite } from "./UsageLedger.suite.ts"

const options = { flushInterval: "1 hour" } as const

const memoryStores = new Map<string, UsageLedger.Store>()
ledgerSuite("memory", (prefix) =>
  Effect.gen(function*() {
    const store = memoryStores.get(prefix) ?? (yield* UsageLedger.makeMemoryStore)
    memoryStores.set(prefix, store)
    return yield* UsageLedger.make(store, options)
  }))

const openSql = (url: string) => (prefix: string) =>
  Effect.flatMap(
    Layer.build(SqlDatabase.layerUrl(url)),
    (context) => SqlUsageLedger.make({ ...options, tablePrefix: prefix }).pipe(Effect.provideContext(context))
  )

const dir = mkdtempSync(join(tmpdir(), "baton-ledger-"))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})
ledgerSuite("sqlite", openSql(`sqlite:${join(dir, "usage.db")}`))

describe.skipIf(!postgresAvailable)("postgres", () => {
  const prefixes: Array<string> = []
  afterAll(() =>
    Effect.runPromise(
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        for (const prefix of prefixes) {
          const names = BatonSchema.tables({ tablePrefix: prefix })
          for (const table of [names.usage, names.requestLog, names.migrations]) {
            yield* sql`DROP TABLE IF EXISTS ${sql(table)}`
          }
        }
      }).pipe(Effect.provide(SqlDatabase.layerUrl(postgresUrl)))
    )
  )
  ledgerSuite("postgres", (prefix) => {
    prefixes.push(prefix)
    return openSql(postgresUrl)(prefix)
  })
})
