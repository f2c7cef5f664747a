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
  /** Heap left per call after a full GC, bytes, one figure per heap batch ({@link heapBatches}). */
  readonly retained: Array<number>
}

/** The rounds of one concurrency. */
export interface Rounds {
  readonly concurrency: number
  readonly rows: ReadonlyArray<Row>
}

/**
 * The least CPU a batch costs: cheaper cases get more calls, so that a
 * batch's fixed costs do not count per call, and so that the GCs the calls
 * cause, which fall in whichever batch is running, weigh on each batch about
 * as much as its calls cause (at 50 ms single rounds read 20-100x the floor;
 * bench/README.md, "Twenty-second session").
 */
const minBatchMs = 200

/**
 * Calls per batch: `base`, more (up to 25 times) for a case whose batch
 * would cost less than `minBatchMs` of CPU (most cases at concurrency 1), fewer for one whose
 * batch would cost more than `budgetMs`, but never fewer than a quarter of
 * `base`.
 */
const callsFor = (cpuMsPerCall: number, base: number, budgetMs: number): number => {
  const perCall = Math.max(cpuMsPerCall, 0.001)
  const wanted = Math.max(base, Math.min(base * 25, Math.ceil(minBatchMs / perCall)))
  return Math.max(Math.ceil(base / 4), Math.min(wanted, Math.ceil(budgetMs / perCall)))
}

/**
 * How long every case is warmed at each concurrency before it is measured:
 * at least `warmupMs`, and at least `Measure.warmupCalls` calls unless that takes
 * more than the run's `warmupMaxMs` (5 s in a full run, 1 s with
 * `--quick`). V8 compiles a function with its optimising tiers only after
 * many calls: a plain `manager.generate` in process still had 154
 * functions compiled by TurboFan between its 10,000th and 30,000th call, 15
 * between 30,000 and 60,000, with no deoptimisation (`--trace-opt`), and that
 * compilation, on helper threads, counts in the process's CPU
 * (bench/README.md, "Warm-up", "Twenty-first session", "Twenty-second session").
 */
const warmupMs = 300

/** Heap batches per case after the rounds of a concurrency (their full GCs would disturb the timed batches). */
const heapBatches = 3

/**
 * Runs `case` at `concurrency` in batches until it is warm (see
 * {@link warmupMs}); resolves with its CPU per call (ms) over the second
 * half of the warm-up, when it is compiled.
 */
const warm = async (c: L.Case, model: string, concurrency: number, warmupMaxMs: number): Promise<number> => {
  const batch = Math.max(concurrency, 50)
  const start = performance.now()
  // warm once `calls` have run, `share` of the way (the second half is timed)
  const warmed = (calls: number, share: number) => {
    const elapsed = performance.now() - start
    return elapsed >= warmupMs * share && (calls >= Measure.warmupCalls * share || elapsed >= warmupMaxMs * share)
  }
  let cpu: NodeJS.CpuUsage | undefined
  let total = 0
  let timed = 0
  do {
    if (cpu === undefined && warmed(total, 0.5)) cpu = process.cpuUsage()
    await Measure.runCalls(c.call, model, batch, concurrency)
    total += batch
    if (cpu !== undefined) timed += batch
  } while (!warmed(total, 1) || timed === 0)
  const used = process.cpuUsage(cpu)
  return (used.user + used.system) / 1000 / timed
}

/** Warms every case at `concurrency` and runs `rounds` rounds. */
export const run = async (
  cases: ReadonlyArray<L.Case>,
  options: {
    readonly concurrency: number
    readonly rounds: number
    readonly calls: number
    readonly budgetMs: number
    /** The longest warm-up of a case whose calls take long (see {@link warmupMs}). */
    readonly warmupMaxMs: number
  },
  model: string
): Promise<Rounds> => {
  const { concurrency } = options
  const rows: Array<Row> = []
  for (const c of cases) {
    const cpuMsPerCall = await warm(c, model, concurrency, options.warmupMaxMs)
    rows.push({ case: c, calls: callsFor(cpuMsPerCall, options.calls, options.budgetMs), samples: [], retained: [] })
  }
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < rows.length; k++) {
      const row = rows[(k + round) % rows.length]
      if (row !== undefined) row.samples.push(await Measure.measure(row.case.call, model, row.calls, concurrency))
    }
  }
  for (let batch = 0; batch < heapBatches; batch++) {
    for (const row of rows) row.retained.push(await Measure.retained(row.case.call, model, row.calls, concurrency))
  }
  return { concurrency, rows }
}

/**
 * A figure over rounds: its median, its min and max (the spread), and
 * `low`-`high`, a confidence interval of the median (see {@link medianInterval}).
 */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly low: number
  readonly high: number
}

/**
 * The rank k for which the k-th smallest and the k-th largest of `n` values
 * hold their distribution's median with a probability of at least 90%, and
 * that probability: the largest k with 1 - 2 P(B <= k - 1) >= 0.9, B
 * binomial (n, 1/2). With 15 values k is 4 (96.5%), with 5 it is 1, the min
 * and max (93.75%); below 5 values it is 1, with less than 90%. It assumes
 * only that the values are independent draws of one distribution.
 */
export const medianInterval = (n: number): { readonly rank: number; readonly coverage: number } => {
  let below = 2 ** -n // P(B <= k - 1) for k = 1
  let term = below
  for (let k = 1;; k++) {
    term = (term * (n - k + 1)) / k
    // the interval of rank k + 1 leaves out P(B <= k) on each side
    if (below + term > 0.05 || k >= n / 2) return { rank: k, coverage: 1 - 2 * below }
    below += term
  }
}

/** A figure no round gave. */
export const none: Spread = { median: Number.NaN, min: Number.NaN, max: Number.NaN, low: Number.NaN, high: Number.NaN }

const spread = (values: ReadonlyArray<number>): Spread => {
  if (!values.every(Number.isFinite)) return none
  const sorted = [...values].sort((a, b) => a - b)
  const k = medianInterval(sorted.length).rank
  return {
    median: Measure.median(sorted),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    low: sorted[k - 1] ?? Number.NaN,
    high: sorted[sorted.length - k] ?? Number.NaN
  }
}

/** Per round, `pick(case) / pick(base)`, over rounds. */
export const ratio = (
  row: Row,
  base: Row | undefined,
  pick: (sample: Measure.Sample) => number = (s) => s.cpuMicros
): Spread =>
  spread(row.samples.map((sample, i) => {
    const other = base?.samples[i]
    return other === undefined ? Number.NaN : pick(sample) / pick(other)
  }))

/** Per round, `pick(case) - pick(base)`; the median over rounds. */
export const difference = (row: Row, base: Row | undefined, pick: (sample: Measure.Sample) => number): number =>
  Measure.median(row.samples.map((sample, i) => {
    const other = base?.samples[i]
    return other === undefined ? Number.NaN : pick(sample) - pick(other)
  }))

/** The median over rounds of `pick`. */
export const medianOf = (row: Row, pick: (sample: Measure.Sample) => number): number =>
  Measure.median(row.samples.map(pick))

/** How many rounds ran (every case runs once per round). */
export const count = (rounds: Rounds): number => rounds.rows[0]?.samples.length ?? 0

/** The row of the case named `name`. */
export const find = (rounds: Rounds, name: string): Row | undefined => rounds.rows.find((r) => r.case.name === name)

/** `pick` per round, over rounds. */
export const spreadOf = (row: Row, pick: (sample: Measure.Sample) => number): Spread => spread(row.samples.map(pick))
