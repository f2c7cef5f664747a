/**
 * The summary a chaos run prints: requests, successes, failures by tag,
 * attempts, the ledger against the mock's billing, quota counts, latency
 * percentiles and peak RSS.
 *
 * @since 0.1.0
 */
import type { Outcome } from "./Load.ts"
import { type Bounds, type LogRow, noTotals, type Totals } from "./Verify.ts"

/**
 * Everything a run measured.
 *
 * @since 0.1.0
 */
export interface Report {
  readonly name: string
  readonly requests: number
  readonly concurrency: number
  readonly timeoutMs: number
  readonly faultRates: { readonly primary: number; readonly fallback: number }
  readonly durationMs: number
  readonly outcomes: ReadonlyArray<Outcome>
  readonly logRows: ReadonlyArray<LogRow>
  /** Requests whose log rows are not one per attempt. */
  readonly logMismatches: ReadonlyArray<string>
  readonly ledger: Bounds
  /** Records the manager logged, and the usage they carry per provider (before any database). */
  readonly logged: Bounds & { readonly records: number }
  readonly billed: Readonly<Record<string, Totals>>
  readonly quota: ReadonlyArray<{ readonly subject: string; readonly used: number; readonly successes: number }>
  readonly dropped: { readonly ledger: number; readonly log: number }
  readonly unhandled: number
  readonly peakRssBytes: number
  /** How late the event loop ran its timers (a loaded machine delays every limit). */
  readonly eventLoopDelayMs: { readonly p99: number; readonly max: number }
  /** What the run did to Redis or PostgreSQL, in order. */
  readonly events: ReadonlyArray<string>
}

/**
 * The `q`-quantile (0..1) of some numbers, nearest rank.
 *
 * @since 0.1.0
 */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return 0
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0
}

/**
 * Counts of `keys`, most frequent first, as `key n, key n`.
 *
 * @since 0.1.0
 */
export const tally = (keys: ReadonlyArray<string>): string => {
  const counts = new Map<string, number>()
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1)
  const parts = [...counts].toSorted((a, b) => b[1] - a[1]).map(([key, n]) => `${key} ${n}`)
  return parts.length === 0 ? "none" : parts.join(", ")
}

const sum = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0)

/** One provider's usage as `bounds` hold it against the mock's billing, which lies between reported and all. */
const compare = (provider: string, bounds: Bounds, billed: Totals | undefined): string => {
  const low = bounds.reported[provider] ?? noTotals
  const high = bounds.all[provider] ?? noTotals
  const b = billed ?? noTotals
  const mark = (field: keyof Totals) => {
    const within = low[field] <= b[field] && b[field] <= high[field]
    const shown = low[field] === high[field] ? `${low[field]}` : `${low[field]}-${high[field]}`
    return within ? shown : `${shown} (mock ${b[field]}) MISMATCH`
  }
  return `${provider}: prompt ${mark("promptTokens")}, completion ${mark("completionTokens")}, nano-USD ${
    mark("costNanoUsd")
  }`
}

/**
 * The summary as Markdown lines.
 *
 * @since 0.1.0
 */
export const format = (report: Report): string => {
  const successes = report.outcomes.filter((o) => o.tag === "success").length
  const failures = report.outcomes.filter((o) => o.tag !== "success").map((o) => o.tag)
  const latencies = report.outcomes.map((o) => o.latencyMs)
  const used = sum(report.quota.map((q) => q.used))
  const off = report.quota.filter((q) => q.used !== q.successes).length
  const errors = report.logRows.filter((r) => r.errorTag !== null).map((r) => `${r.provider} ${r.errorTag ?? ""}`)
  const defects = report.logRows.filter((r) => r.errorTag === "Defect").length +
    report.outcomes.filter((o) => o.tag === "defect").length
  return [
    `### ${report.name}`,
    "",
    `- requests: ${report.requests} at concurrency ${report.concurrency}, deadline ${report.timeoutMs} ms, ` +
    `primary faults ${report.faultRates.primary * 100}%, fallback faults ${report.faultRates.fallback * 100}%; ` +
    `${(report.durationMs / 1000).toFixed(1)} s`,
    ...(report.events.length === 0 ? [] : [`- events: ${report.events.join("; ")}`]),
    `- successes: ${successes}; failures by tag: ${tally(failures)}`,
    `- attempts: ${report.logged.records} logged, ${report.logRows.length} request-log rows in PostgreSQL; by outcome: ${
      tally(report.logRows.map((r) => r.outcome))
    }`,
    `- attempt errors: ${tally(errors)}`,
    `- requests whose log rows are not one per attempt: ${report.logMismatches.length}`,
    `- ledger (PostgreSQL) vs mock billing: ${
      Object.keys(report.billed).map((p) => compare(p, report.ledger, report.billed[p])).join("; ")
    }`,
    `- usage in the logged attempts vs mock billing: ${
      Object.keys(report.billed).map((p) => compare(p, report.logged, report.billed[p])).join("; ")
    }`,
    `- quota: ${used} units used, ${successes} successful requests, ${off} of ${report.quota.length} subjects off`,
    `- sink rows dropped (counted): ledger ${report.dropped.ledger}, log ${report.dropped.log}`,
    `- latency: p50 ${quantile(latencies, 0.5).toFixed(0)} ms, p99 ${quantile(latencies, 0.99).toFixed(0)} ms, ` +
    `max ${quantile(latencies, 1).toFixed(0)} ms; event-loop delay p99 ${
      report.eventLoopDelayMs.p99.toFixed(0)
    } ms, max ${report.eventLoopDelayMs.max.toFixed(0)} ms`,
    `- peak RSS: ${
      (report.peakRssBytes / 2 ** 20).toFixed(0)
    } MiB; defects: ${defects}; unhandled rejections: ${report.unhandled}`,
    ""
  ].join("\n")
}
