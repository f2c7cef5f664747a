/**
 * Measuring one batch of calls: client CPU per call (`process.cpuUsage`,
 * user + system), throughput and latency percentiles; in batches of their
 * own, the heap a batch leaves after a full GC; and the memory a request
 * holds while in flight.
 */
import type * as L from "./library.ts"

/** Runs a full GC when the process was started with `--expose-gc`. */
export const gc = (): void => {
  if (typeof globalThis.gc === "function") globalThis.gc()
}

/**
 * Empties the young generation (a scavenge) when the process was started
 * with `--expose-gc`: each timed batch starts without the garbage of the
 * batch before it, and V8 keeps its compiled code, which a full GC makes it
 * throw away and compile again (bench/README.md, "Twenty-second session").
 */
export const minorGc = (): void => {
  if (typeof globalThis.gc === "function") globalThis.gc({ type: "minor" })
}

/**
 * Calls a case runs before it is measured or profiled: V8 still compiles a
 * manager call's path with its optimising tiers between its 10,000th and
 * 30,000th call (bench/README.md, "Twenty-second session").
 */
export const warmupCalls = 20_000

/** Resolves after `ms` milliseconds. */
export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Waits 20 ms: V8 sweeps the heap and compiles on helper threads, and that
 * CPU would otherwise be charged to the batch measured next (most to a
 * cheap one: a refusal's batch costs about 50 ms in all).
 */
const settle = (): Promise<void> => pause(20)

/** One batch of one case at one concurrency. */
export interface Sample {
  /** CPU (user + system) per call, µs. */
  readonly cpuMicros: number
  /** User CPU per call, µs: the client's own work, without the kernel's socket work. */
  readonly userMicros: number
  /** Calls per second. */
  readonly throughput: number
  /** Latency percentiles of the batch's calls, µs. */
  readonly p50Micros: number
  readonly p99Micros: number
  /** Calls that failed (a client's timeout on an overloaded machine, say): counted, not fatal. */
  readonly errors: number
}

/** The `q` quantile (0-1) of `values`. */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const at = (sorted.length - 1) * q
  const low = sorted[Math.floor(at)] ?? Number.NaN
  const high = sorted[Math.ceil(at)] ?? Number.NaN
  return low + (high - low) * (at - Math.floor(at))
}

/** The median of `values`. */
export const median = (values: ReadonlyArray<number>): number => quantile(values, 0.5)

/** `n` calls by `concurrency` workers: the latency of each successful call in µs, and the failures. */
export const runCalls = async (
  call: L.Call,
  model: string,
  n: number,
  concurrency: number
): Promise<{ readonly latencies: Array<number>; readonly errors: number }> => {
  const latencies: Array<number> = []
  let errors = 0
  let started = 0
  const worker = async () => {
    while (started < n) {
      started++
      const start = performance.now()
      try {
        await call(model)
        latencies.push((performance.now() - start) * 1000)
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  return { latencies, errors }
}

/**
 * One batch of `n` calls at `concurrency`, timed. It starts from an empty
 * young generation, not from a full GC: V8 throws away optimised code at a
 * full GC and compiles it again once the calls resume, which cost a
 * refusal's batch of a few thousand calls half its time again (13 µs per
 * call steady, 19-35 µs after a full GC; bench/README.md, "Twenty-second
 * session"). A server does not run a full GC every few milliseconds; its
 * own (and a batch's own scavenges) count where they fall.
 */
export const measure = async (call: L.Call, model: string, n: number, concurrency: number): Promise<Sample> => {
  minorGc()
  await settle()
  const cpu = process.cpuUsage()
  const started = performance.now()
  const { errors, latencies } = await runCalls(call, model, n, concurrency)
  const wallMs = performance.now() - started
  const used = process.cpuUsage(cpu)
  return {
    cpuMicros: (used.user + used.system) / n,
    userMicros: used.user / n,
    throughput: (n * 1000) / wallMs,
    p50Micros: quantile(latencies, 0.5),
    p99Micros: quantile(latencies, 0.99),
    errors
  }
}

/**
 * The heap `n` calls at `concurrency` leave after a full GC, per call, bytes:
 * a batch of its own between two full GCs, not timed (the timed batches run
 * without them, see {@link measure}).
 */
export const retained = async (call: L.Call, model: string, n: number, concurrency: number): Promise<number> => {
  gc()
  await settle()
  const heapBefore = process.memoryUsage().heapUsed
  await runCalls(call, model, n, concurrency)
  gc()
  await settle()
  return (process.memoryUsage().heapUsed - heapBefore) / n
}

/** What `concurrency` requests hold while in flight, per request. */
export interface InFlight {
  /** Heap live (after a full GC) while every request waits for its answer, bytes per request. */
  readonly heapBytes: number
  /** RSS growth from before the burst to the moment every request waits for its answer (before that GC), bytes per request. */
  readonly rssBytes: number
  /** RSS growth from before the burst to its peak, answers included, bytes per request. */
  readonly rssPeakBytes: number
}

/**
 * Starts `concurrency` calls of a model the mock server holds before it
 * answers (`slowModel`), samples RSS and then heap (after GC) while all are
 * in flight, at the same moment for every client, then waits for them,
 * sampling the RSS peak until the last answer.
 */
export const inFlight = async (
  call: L.Call,
  slowModel: string,
  concurrency: number,
  holdMs: number
): Promise<InFlight> => {
  gc()
  const heapBefore = process.memoryUsage().heapUsed
  const rssBefore = process.memoryUsage.rss()
  let rssPeak = rssBefore
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss())
  }, 10)
  const calls = Promise.allSettled(Array.from({ length: concurrency }, () => call(slowModel)))
  await pause(holdMs)
  const rssHeld = process.memoryUsage.rss()
  gc()
  const heapHeld = process.memoryUsage().heapUsed
  rssPeak = Math.max(rssPeak, rssHeld, process.memoryUsage.rss())
  await calls
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss())
  clearInterval(sampler)
  return {
    heapBytes: (heapHeld - heapBefore) / concurrency,
    rssBytes: (rssHeld - rssBefore) / concurrency,
    rssPeakBytes: (rssPeak - rssBefore) / concurrency
  }
}
