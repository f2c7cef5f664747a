/**
 * Rows an older release wrote: it took a subject id with white space at an
 * end ("t-1 "), which `SubjectId` now refuses for new requests. A day holding
 * such a row still reads, through the store a user's `baton usage` and the
 * quiz service's `/v1/usage` read.
 */
/**
 * review1: rows a ledger holds from before ba723e5 (a subject id with white
 * space at an end, which LlmManager accepted then) are read back through
 * SubjectId, which now refuses them: the whole day's report fails.
 */
import { afterAll, assert, it } from "@effect/vitest"
import { Array as Arr, DateTime, Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { SubjectId } from "../../core/src/Ids.ts"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import { stories } from "../../core/test/RequestLog.fixtures.ts"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"

const dir = mkdtempSync(join(tmpdir(), "review1-ledger-"))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

it.effect("a day with a row stored before the upgrade (subject 't-1 ') still reports, that subject apart", () =>
  Effect.gen(function*() {
    yield* BatonSchema.migrate({})
    const store = yield* SqlUsageLedger.makeStore({})
    const s = yield* stories
    const when = DateTime.makeUnsafe(Date.UTC(2026, 2, 7, 12))
    const rows = s.success.flatMap((r) => UsageLedger.toEntry(r, when, "UTC") ?? [])
    // what the previous release wrote for metadata.subjectId "t-1 " and "t-1"
    const legacy = rows.map((row, i) => ({ ...row, subjectId: (i % 2 === 0 ? "t-1 " : "t-1") as SubjectId }))
    if (!Arr.isArrayNonEmpty(legacy)) return assert.fail("no rows")
    yield* store.append(legacy)
    const day = UsageLedger.Day.make("2026-03-07")
    const bySubject = yield* store.usageBySubject(day)
    assert.include(bySubject.map((row): string | null => row.subjectId), "t-1 ")
  }).pipe(Effect.provide(SqlDatabase.layerUrl(`sqlite:${join(dir, "usage.db")}`))))
