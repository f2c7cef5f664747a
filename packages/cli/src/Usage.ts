/**
 * `baton usage`: the usage ledger as a table, from `LLM_USAGE_STORE_URL`
 * (`sqlite:path`, `file:path` or `postgres://...`; SQLite in
 * `.baton/usage.sqlite` by default). The configuration is read through the
 * current `ConfigProvider` by `LlmConfig.layerWithoutChain`: checked as
 * every command checks it, with no provider key needed.
 *
 * `--day D` (default today in `AI_QUOTA_TIMEZONE`, the zone whose midnight
 * resets the daily quotas; UTC when unset; read from the current
 * `ConfigProvider` by `LlmConfig.quotaZone`) or `--from D --to D` (each
 * defaults to today); `--teacher ID` keeps one subject; `--by
 * teacher|provider|day` groups the rows (default `teacher`); `--json` prints
 * the rows as JSON. The flags are checked before the ledger is opened.
 *
 * It reads a ledger and never creates or changes anything else: an SQLite
 * file that is not there, and a database that is not a Baton usage ledger,
 * are configuration errors naming `LLM_USAGE_STORE_URL` (exit 2), and the
 * database is left as it was. A ledger is a database with the tables
 * `baton_usage` and `baton_migrations` (what `generate` and `serve` create);
 * an SQLite file without them (another application's database, an empty
 * 0-byte file) or that is no SQLite database at all is refused after
 * reading it read-only, never migrated. On PostgreSQL the same two tables
 * are looked up (on the `search_path`, as the ledger's queries find them)
 * before the ledger's migrations may run. A ledger written by an earlier
 * Baton is brought up to date by those migrations, as `generate` would.
 *
 * Each ledger query may take a minute (`--by teacher` asks one a day, each
 * with its minute): a query the database has not answered by then, or one
 * it refuses, ends the command with exit 3 and one line naming
 * `LLM_USAGE_STORE_URL`.
 *
 * @since 0.1.0
 */
import { SubjectId } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as SqlDatabase from "@baton/sql/SqlDatabase"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import { DateTime, Duration, Effect, Option, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import * as Exit from "./internal/exit.ts"
import * as Ledger from "./internal/ledger.ts"
import * as Table from "./internal/table.ts"

const groupings = ["teacher", "provider", "day"] as const

interface Flags {
  readonly day: Option.Option<string>
  readonly from: Option.Option<string>
  readonly to: Option.Option<string>
  readonly teacher: Option.Option<string>
  readonly by: (typeof groupings)[number]
  readonly json: boolean
}

class UsageFlagError extends Error {}

const MAX_DAYS = 366

const parseDay = (flag: string, value: string) =>
  Schema.decodeUnknownEffect(UsageLedger.Day)(value).pipe(
    Effect.mapError((error) => new UsageFlagError(`--${flag} ${value}: ${error.message}`))
  )

/** The subject `--teacher` names, refused as `SubjectId` refuses it (empty, blank, control characters, ...). */
const parseTeacher = (value: string) =>
  Schema.decodeUnknownEffect(SubjectId)(value).pipe(
    Effect.mapError((error) => new UsageFlagError(`--teacher ${JSON.stringify(value)}: ${error.message}`))
  )

/** A bound of the range as the user gave it: the flag, or today standing in for it. */
const bound = (flag: string, given: Option.Option<string>, day: UsageLedger.Day): string =>
  Option.isSome(given) ? `--${flag} ${day}` : `today (${day}, the default --${flag})`

const rangeOf = (flags: Flags) =>
  Effect.gen(function*() {
    // the quotas' day, which the ledger's days follow
    const today = UsageLedger.dayOf(yield* DateTime.now, yield* LlmConfig.quotaZone)
    if (Option.isSome(flags.day) && (Option.isSome(flags.from) || Option.isSome(flags.to))) {
      return yield* Effect.fail(new UsageFlagError("--day cannot be combined with --from/--to"))
    }
    if (Option.isSome(flags.day)) {
      const day = yield* parseDay("day", flags.day.value)
      return { from: day, to: day }
    }
    const from = Option.isSome(flags.from) ? yield* parseDay("from", flags.from.value) : today
    const to = Option.isSome(flags.to) ? yield* parseDay("to", flags.to.value) : today
    if (from > to) {
      return yield* Effect.fail(
        new UsageFlagError(`${bound("from", flags.from, from)} is after ${bound("to", flags.to, to)}`)
      )
    }
    return { from, to }
  })

const daysBetween = (from: UsageLedger.Day, to: UsageLedger.Day): ReadonlyArray<UsageLedger.Day> => {
  const days: Array<UsageLedger.Day> = []
  let current = DateTime.makeUnsafe(`${from}T00:00:00Z`)
  while (days.length <= MAX_DAYS) {
    const day = UsageLedger.dayOf(current, "UTC")
    if (day > to) break
    days.push(day)
    current = DateTime.add(current, { days: 1 })
  }
  return days
}

/** What the flags ask the ledger: the days, and the subject when `--teacher` names one. */
interface Query {
  readonly from: UsageLedger.Day
  readonly to: UsageLedger.Day
  readonly days: ReadonlyArray<UsageLedger.Day>
  readonly filter: { readonly subjectId?: SubjectId }
}

const queryOf = (flags: Flags) =>
  Effect.gen(function*() {
    const { from, to } = yield* rangeOf(flags)
    const days = daysBetween(from, to)
    if (days.length > MAX_DAYS) {
      return yield* Effect.fail(new UsageFlagError(`at most ${MAX_DAYS} days at once`))
    }
    const filter = Option.isSome(flags.teacher) ? { subjectId: yield* parseTeacher(flags.teacher.value) } : {}
    return { from, to, days, filter }
  })

const byTeacher = (ledger: UsageLedger.Service, { days, filter }: Query) =>
  Effect.map(
    Effect.forEach(days, (day) => ledger.usageBySubject(day)),
    (perDay) => perDay.flat().filter((row) => filter.subjectId === undefined || row.subjectId === filter.subjectId)
  )

const totalsColumns = ["requests", "attempts", "prompt tokens", "completion tokens", "total tokens", "cost"]

const totalsCells = (row: UsageLedger.UsageTotals) => [
  row.requests,
  row.attempts,
  row.promptTokens,
  row.completionTokens,
  row.totalTokens,
  Table.usd(row.costUsd)
]

const report = (query: Query, flags: Flags) =>
  Effect.gen(function*() {
    const ledger = yield* UsageLedger.UsageLedger
    const { filter, from, to } = query
    const period = from === to ? from : `${from} to ${to}`
    const rows = flags.by === "teacher"
      ? (yield* byTeacher(ledger, query)).map((row) => ({ key: [row.day, row.subjectId ?? "(none)"], row }))
      : flags.by === "provider"
      ? (yield* ledger.usageByProvider(from, to, filter)).map((row) => ({ key: [row.provider], row }))
      : (yield* ledger.dailyTotals(from, to, filter)).map((row) => ({ key: [row.day], row }))
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(rows.map((r) => r.row))}\n`)
    } else if (rows.length === 0) {
      process.stdout.write(`No usage recorded for ${period}.\n`)
    } else {
      const keys = flags.by === "teacher" ? ["day", "teacher"] : [flags.by]
      process.stdout.write(
        `Usage ${period} by ${flags.by}\n${
          Table.render([...keys, ...totalsColumns], rows.map(({ key, row }) => [...key, ...totalsCells(row)]))
        }\n`
      )
    }
  })

/**
 * Fails unless the ledger is there: opening an SQLite file that is not would
 * create it, and migrating a database that is not a ledger would change
 * someone else's data; `usage` only reads. A new in-memory SQLite database
 * is an empty ledger.
 */
const requireLedger = Effect.gen(function*() {
  const url = Ledger.urlOf(yield* LlmConfig.LlmConfig)
  const contents = yield* Ledger.contentsOf(url)
  switch (contents._tag) {
    case "NoFile":
      return yield* new SqlDatabase.DatabaseError({
        url: SqlDatabase.describeUrl(url),
        message: `no ledger at ${contents.file} (generate and serve create it; usage only reads)`
      })
    case "Unusable":
      return yield* Ledger.notLedger(url, contents.why)
    case "Tables":
      // SQLite would take an empty file for a new database, and the migrations would make it a ledger
      if (contents.emptyFile) {
        return yield* Ledger.notLedger(url, "an empty file; generate and serve create a ledger, usage only reads")
      }
      if (contents.missing.length > 0) return yield* Ledger.notLedger(url, Ledger.missingTables(contents.missing))
  }
})

/**
 * How long each ledger query may take: a report over a big table may
 * rightly take longer than a service's request waits
 * (`UsageLedger.defaultQueryTimeout`).
 */
const queryTimeout = Duration.minutes(1)

/** The ledger of `LLM_USAGE_STORE_URL` (`LlmConfig` from the `ConfigProvider`, as every command reads it). */
const ledger = SqlUsageLedger.layerFromConfig({ fallbackUrl: Ledger.defaultUrl, queryTimeout })

const usage = (flags: Flags) =>
  Effect.gen(function*() {
    const query = yield* queryOf(flags)
    yield* requireLedger
    yield* report(query, flags).pipe(Effect.provide(ledger))
  }).pipe(
    // no chain needed
    Effect.provide(LlmConfig.layerWithoutChain),
    Effect.catch((error) =>
      error instanceof UsageFlagError
        ? Exit.fail(Exit.usage, error.message)
        : error._tag === "DatabaseError"
        ? Exit.fail(Exit.configuration, Exit.ledgerProblem(error.message))
        : error._tag === "LlmConfigError"
        ? Exit.fail(Exit.configuration, error.message)
        : Exit.fail(Exit.failed, Exit.ledgerProblem(error.message))
    ),
    Exit.logsOnStderr
  )

/**
 * The `usage` command.
 *
 * @since 0.1.0
 */
export const command = Command.make("usage", {
  day: Flag.String("day").pipe(
    Flag.optional,
    Flag.withDescription("one day, YYYY-MM-DD (default today in AI_QUOTA_TIMEZONE)")
  ),
  from: Flag.String("from").pipe(Flag.optional, Flag.withDescription("first day of a range (default today)")),
  to: Flag.String("to").pipe(Flag.optional, Flag.withDescription("last day of a range (default today)")),
  teacher: Flag.String("teacher").pipe(Flag.optional, Flag.withDescription("only this subject")),
  by: Flag.Literals("by", groupings).pipe(Flag.withDefault("teacher"), Flag.withDescription("how rows are grouped")),
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("print the rows as JSON"))
}, usage).pipe(Command.withDescription("Show the usage ledger (LLM_USAGE_STORE_URL; SQLite in .baton/ by default)"))
