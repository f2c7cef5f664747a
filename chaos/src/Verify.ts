/**
 * What a chaos run left behind, read back after the stack closed: the
 * ledger's and the request log's rows in PostgreSQL, the quota counts in
 * Redis, the mock server's billing counters and the sinks' dropped-row
 * counters, set against the calls' outcomes.
 *
 * @since 0.1.0
 */
import { ModelId, ProviderName, SubjectId } from "@baton/core/Ids"
import * as LlmMetrics from "@baton/core/LlmMetrics"
import * as Pricing from "@baton/core/Pricing"
import type * as QuotaLimiter from "@baton/core/QuotaLimiter"
import type * as MockProviderServer from "@baton/testing/MockProviderServer"
import { Effect, Metric } from "effect"
import { SqlClient } from "effect/sql"
import type { Outcome } from "./Load.ts"
import { chain, models } from "./Stack.ts"

/**
 * Tokens and cost of one provider.
 *
 * @since 0.1.0
 */
export interface Totals {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly costNanoUsd: number
}

/**
 * No tokens, no cost.
 *
 * @since 0.1.0
 */
export const noTotals: Totals = { promptTokens: 0, completionTokens: 0, costNanoUsd: 0 }

/**
 * One request-log row, as far as the checks need it.
 *
 * @since 0.1.0
 */
export interface LogRow {
  readonly requestId: string
  readonly provider: string
  readonly attempt: number
  readonly outcome: string
  readonly errorTag: string | null
  readonly errorMessage: string | null
}

/**
 * The providers of the chain.
 *
 * @since 0.1.0
 */
export const providers = [chain.primary, chain.fallback] as const

/**
 * What the mock billed each provider, priced at the stack's price rows.
 *
 * @since 0.1.0
 */
export const billed = (server: MockProviderServer.MockProviderServer["Service"]) =>
  Effect.forEach(
    providers,
    (provider) =>
      Effect.map(server.stats(provider), (stats): readonly [string, Totals] => [provider, {
        promptTokens: stats.promptTokens,
        completionTokens: stats.completionTokens,
        costNanoUsd: Pricing.costNanoUsd(
          Pricing.lookup(Pricing.defaultTable, ProviderName.make(provider), ModelId.make(models[provider])).price,
          stats
        )
      }])
  ).pipe(Effect.map((entries) => Object.fromEntries(entries)))

/**
 * Usage per provider where the provider reported it, and in all: the mock
 * bills a stream cut or abandoned before its whole usage only as far as it
 * had reported it, where Baton bills such an attempt an estimate of what
 * came (`usage_estimated`), as the provider billed it. The mock's billing
 * lies between the two.
 *
 * @since 0.1.0
 */
export interface Bounds {
  readonly reported: Readonly<Record<string, Totals>>
  readonly all: Readonly<Record<string, Totals>>
}

/**
 * The ledger's totals per provider, summed by PostgreSQL: of the rows whose
 * usage the provider reported, and of all of them.
 *
 * @since 0.1.0
 */
export const ledgerTotals = (tablePrefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<
      { provider: string; estimated: number | string; prompt: string; completion: string; cost: string }
    >`
      SELECT provider, usage_estimated AS estimated, SUM(prompt_tokens) AS prompt,
        SUM(completion_tokens) AS completion, SUM(cost_nano_usd) AS cost
      FROM ${sql(`${tablePrefix}usage`)} GROUP BY provider, usage_estimated`
    const zero = () => Object.fromEntries(providers.map((p) => [p, noTotals]))
    const reported: Record<string, Totals> = zero()
    const all: Record<string, Totals> = zero()
    const add = (totals: Record<string, Totals>, row: (typeof rows)[number]) => {
      const sum = totals[row.provider] ?? noTotals
      totals[row.provider] = {
        promptTokens: sum.promptTokens + Number(row.prompt),
        completionTokens: sum.completionTokens + Number(row.completion),
        costNanoUsd: sum.costNanoUsd + Number(row.cost)
      }
    }
    for (const row of rows) {
      add(all, row)
      if (Number(row.estimated) === 0) add(reported, row)
    }
    const bounds: Bounds = { reported, all }
    return bounds
  })

/**
 * Every request-log row of the run.
 *
 * @since 0.1.0
 */
export const logRows = (tablePrefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<
      {
        request_id: string
        provider: string
        attempt: number
        outcome: string
        error_tag: string | null
        error_message: string | null
      }
    >`SELECT request_id, provider, attempt, outcome, error_tag, error_message
      FROM ${sql(`${tablePrefix}request_log`)}`
    return rows.map((row): LogRow => ({
      requestId: row.request_id,
      provider: row.provider,
      errorMessage: row.error_message,
      attempt: row.attempt,
      outcome: row.outcome,
      errorTag: row.error_tag
    }))
  })

/**
 * Drops the run's tables.
 *
 * @since 0.1.0
 */
export const dropTables = (tablePrefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const table of ["usage", "request_log", "migrations"]) {
      yield* sql`DROP TABLE IF EXISTS ${sql(`${tablePrefix}${table}`)}`
    }
  })

/**
 * The requests whose log rows are not exactly attempts 1..n, with n the
 * number of attempts the caller was shown (when it was shown any).
 *
 * @since 0.1.0
 */
export const logMismatches = (outcomes: ReadonlyArray<Outcome>, rows: ReadonlyArray<LogRow>): Array<string> => {
  const byRequest = new Map<string, Array<number>>()
  for (const row of rows) {
    const numbers = byRequest.get(row.requestId) ?? []
    numbers.push(row.attempt)
    byRequest.set(row.requestId, numbers)
  }
  const wrong: Array<string> = []
  for (const outcome of outcomes) {
    const numbers = (byRequest.get(outcome.requestId) ?? []).toSorted((a, b) => a - b)
    byRequest.delete(outcome.requestId)
    const contiguous = numbers.every((n, i) => n === i + 1)
    const expected = outcome.attempts ?? (numbers.length > 0 ? numbers.length : undefined)
    const madeAttempts = outcome.attempts !== 0 && !["QuotaStoreUnavailable", "RateLimitExceeded"].includes(outcome.tag)
    if (!contiguous || (madeAttempts && numbers.length !== expected) || (!madeAttempts && numbers.length > 0)) {
      wrong.push(
        `${outcome.requestId} (${outcome.mode}, ${outcome.tag}): attempts ${String(outcome.attempts)}, rows [${
          numbers.join(",")
        }]`
      )
    }
  }
  for (const requestId of byRequest.keys()) wrong.push(`${requestId}: rows for a request never made`)
  return wrong
}

/**
 * Quota units used per subject, against the successful requests of each.
 *
 * @since 0.1.0
 */
export const quotaCounts = (quota: QuotaLimiter.Service, outcomes: ReadonlyArray<Outcome>) =>
  Effect.gen(function*() {
    const expected = new Map<string, number>()
    for (const outcome of outcomes) {
      expected.set(outcome.subjectId, (expected.get(outcome.subjectId) ?? 0) + (outcome.tag === "success" ? 1 : 0))
    }
    const counts = yield* Effect.forEach(
      [...expected],
      ([subject, successes]) =>
        Effect.map(quota.remaining(SubjectId.make(subject)), (status) => ({ subject, used: status.used, successes })),
      { concurrency: 16 }
    )
    return counts
  })

/**
 * Rows the ledger's and the log's writers gave up on (all runs of this process).
 *
 * @since 0.1.0
 */
export const droppedRows = Effect.gen(function*() {
  const count = (sink: string) =>
    Effect.map(Metric.value(Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink })), (state) => state.count)
  return { ledger: yield* count("usage-ledger:sql:pg"), log: yield* count("request-log:sql:pg") }
})
