/**
 * Interleaved rounds: each round runs every case once at one concurrency, in
 * an order rotated each round (so a change in machine load spreads over all
 * cases), and keeps each case's sample and its ratios to the other cases of
 * the same round.
 */
import type * as L from "./library.ts"
import * as Measure from "./measure.ts"

/** A case's samples over rounds at one concurrency. */
export interface Row {
  readonly case: L.Case
  /** Calls per batch. */
  readonly calls: number
  readonly samples: Array<Measure.Sample>
}

/** The rounds of one concurrency. */
export interface Rounds {
  readonly concurrency: number
  readonly rows: ReadonlyArray<Row>
}

/** The least CPU a batch costs: cheaper cases get more calls, so that a batch's fixed costs do not count per call. */
const minBatchMs = 50

/**
 * Calls per batch: `base`, more (up to 25 times) for a case whose batch
 * would cost less than `minBatchMs` of CPU (a refusal), fewer for one whose
 * batch would cost more than `budgetMs`, but never fewer than a quarter of
 * `base`.
 */
const callsFor = (cpuMsPerCall: number, base: number, budgetMs: number): number => {
  const perCall = Math.max(cpuMsPerCall, 0.001)
  const wanted = Math.max(base, Math.min(base * 25, Math.ceil(minBatchMs / perCall)))
  return Math.max(Math.ceil(base / 4), Math.min(wanted, Math.ceil(budgetMs / perCall)))
}

/**
 * The least time every case is warmed for at each concurrency before it is
 * measured. V8 compiles a function with its optimising tiers only after many
 * calls: a refusal measured after 50 calls cost twice what it costs once
 * compiled (bench/README.md, "Warm-up").
 */
const warmupMs = 300

/**
 * Runs `case` at `concurrency` in batches until `warmupMs` have passed;
 * resolves with its CPU per call (ms) over the second half of the warm-up,
 * when it is compiled.
 */
const warm = async (c: L.Case, model: string, concurrency: number): Promise<number> => {
  const batch = Math.max(concurrency, 50)
  const start = performance.now()
  let cpu: NodeJS.CpuUsage | undefined
  let calls = 0
  do {
    if (cpu === undefined && performance.now() - start >= warmupMs / 2) cpu = process.cpuUsage()
    await Measure.runCalls(c.call, model, batch, concurrency)
    if (cpu !== undefined) calls += batch
  } while (performance.now() - start < warmupMs || calls === 0)
  const used = process.cpuUsage(cpu)
  return (used.user + used.system) / 1000 / calls
}

/** Warms every case at `concurrency` and runs `rounds` rounds. */
export const run = async (
  cases: ReadonlyArray<L.Case>,
  options: { readonly concurrency: number; readonly rounds: number; readonly calls: number; readonly budgetMs: number },
  model: string
): Promise<Rounds> => {
  const { concurrency } = options
  const rows: Array<Row> = []
  for (const c of cases) {
    const cpuMsPerCall = await warm(c, model, concurrency)
    rows.push({ case: c, calls: callsFor(cpuMsPerCall, options.calls, options.budgetMs), samples: [] })
  }
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < rows.length; k++) {
      const row = rows[(k + round) % rows.length]
      if (row !== undefined) row.samples.push(await Measure.measure(row.case.call, model, row.calls, concurrency))
    }
  }
  return { concurrency, rows }
}

/** Per round, `pick(case) / pick(base)`; the median, min and max over rounds. */
export const ratio = (
  row: Row,
  base: Row | undefined,
  pick: (sample: Measure.Sample) => number = (s) => s.cpuMicros
): { readonly median: number; readonly min: number; readonly max: number } => {
  const ratios = row.samples.map((sample, i) => {
    const other = base?.samples[i]
    return other === undefined ? Number.NaN : pick(sample) / pick(other)
  })
  return { median: Measure.median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) }
}

/** Per round, `pick(case) - pick(base)`; the median over rounds. */
export const difference = (row: Row, base: Row | undefined, pick: (sample: Measure.Sample) => number): number =>
  Measure.median(row.samples.map((sample, i) => {
    const other = base?.samples[i]
    return other === undefined ? Number.NaN : pick(sample) - pick(other)
  }))

/** The median over rounds of `pick`. */
export const medianOf = (row: Row, pick: (sample: Measure.Sample) => number): number =>
  Measure.median(row.samples.map(pick))

/** The row of the case named `name`. */
export const find = (rounds: Rounds, name: string): Row | undefined => rounds.rows.find((r) => r.case.name === name)
