/**
 * Leak check: `manager.generate` (default policy, the whole stack) called at
 * concurrency 8 for `BENCH_LEAK_SECONDS` (default 120) seconds, the heap
 * sampled after a full GC every few seconds, and the slope of retained heap
 * per 1k calls fitted by least squares. The usage ledger's store discards its
 * rows (each is still built and batched), so only what should not be kept
 * shows; the in-memory ledger keeps one row per call by design.
 *
 * The slope is of the heap's JavaScript objects (V8's new, old and large
 * object spaces): V8's compiled code and its metadata (code and trusted
 * spaces) are left out, as V8 flushes and recompiles functions at will (the
 * code a run holds is bounded by the program, not by the calls). Their
 * slope is reported beside it. A fall of the heap by over 1 MiB between two
 * samples (a release of what loading left) starts a new segment: the slope
 * is the one common to the segments (`bench/README.md`, "Memory").
 *
 * Run: `npx -y pnpm@12 bench:leak` (or `node --expose-gc bench/leak.ts`);
 * `--json` prints one JSON line (what `bench` reads).
 */
import { getHeapSpaceStatistics } from "node:v8"
import * as Baton from "./internal/libraries/baton.ts"
import * as L from "./internal/library.ts"
import * as Measure from "./internal/measure.ts"
import type * as Report from "./internal/report.ts"
import * as Server from "./internal/server.ts"

const seconds = Number(process.env["BENCH_LEAK_SECONDS"] ?? 120)
const sampleEveryMs = Math.max(1000, (seconds * 1000) / 24)

type Point = { readonly x: number; readonly y: number }

/**
 * A fall of the heap between two samples larger than any noise (1 MiB): V8
 * or Node releasing what the program's loading left (seen once in some runs,
 * at a random moment: -3.7 MiB of the old space, with compiled code). Calls
 * cannot retain less than nothing, so such a fall is no part of the trend.
 */
const releaseBytes = 2 ** 20

/** The samples cut at every release: the runs in which the heap only moved by the calls. */
const segments = (points: ReadonlyArray<Point>): ReadonlyArray<ReadonlyArray<Point>> => {
  const out: Array<Array<Point>> = []
  for (const [i, p] of points.entries()) {
    const previous = points[i - 1]
    if (previous === undefined || previous.y - p.y > releaseBytes) out.push([p])
    else out.at(-1)?.push(p)
  }
  return out
}

/**
 * Least-squares slope of `y` over `x`, one slope common to the segments
 * (each its own level): a release in the middle neither hides a growth nor
 * reads as a shrinking heap. With no release, the plain least-squares slope.
 */
const slope = (points: ReadonlyArray<Point>): number => {
  let num = 0
  let den = 0
  for (const segment of segments(points)) {
    const n = segment.length
    const mx = segment.reduce((a, p) => a + p.x, 0) / n
    const my = segment.reduce((a, p) => a + p.y, 0) / n
    num += segment.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0)
    den += segment.reduce((a, p) => a + (p.x - mx) ** 2, 0)
  }
  return num / den
}

/** Longer than the ledger writer's flush interval (1 s). */
const flushSettleMs = 1200

/** V8's spaces of compiled code and its metadata: not objects the calls keep. */
const codeSpaces = new Set(["code_space", "code_large_object_space", "trusted_space", "trusted_large_object_space"])

/** After a full GC: bytes used by JavaScript objects, and by compiled code. */
const heapAfterGc = async (): Promise<{ readonly heapBytes: number; readonly codeBytes: number }> => {
  // the usage ledger's writer holds up to a second of rows (its flush interval): sampled at a
  // varying phase of that second, its queue made a sawtooth of several MiB at thousands of calls a second
  await Measure.pause(flushSettleMs)
  Measure.gc()
  Measure.gc()
  // V8 sweeps after a full GC on helper threads: until it has, the space's used size still counts garbage
  await Measure.pause(100)
  let heapBytes = 0
  let codeBytes = 0
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === "read_only_space") continue
    if (codeSpaces.has(space.space_name)) codeBytes += space.space_used_size
    else heapBytes += space.space_used_size
  }
  return { heapBytes, codeBytes }
}

const server = await Server.start()
try {
  const client = await Baton.setupWith(server.url, Baton.discardingLedger)
  const generate = client.cases.find((c) => c.name === L.names.generate)
  if (generate === undefined) throw new Error("no generate case")
  await Measure.runCalls(generate.call, L.model, 2000, 8)
  const samples: Array<Report.LeakSample> = [{ calls: 0, ...(await heapAfterGc()) }]
  const start = performance.now()
  let calls = 0
  while (performance.now() - start < seconds * 1000) {
    const windowStart = performance.now()
    while (performance.now() - windowStart < sampleEveryMs) {
      await Measure.runCalls(generate.call, L.model, 200, 8)
      calls += 200
    }
    samples.push({ calls, ...(await heapAfterGc()) })
  }
  await client.close()
  const heap = samples.map((s) => ({ x: s.calls, y: s.heapBytes }))
  const leak: Report.Leak = {
    calls,
    seconds: (performance.now() - start) / 1000,
    slopeBytesPer1k: slope(heap) * 1000,
    releases: segments(heap).length - 1,
    codeSlopeBytesPer1k: slope(samples.map((s) => ({ x: s.calls, y: s.codeBytes }))) * 1000,
    samples,
    ledger: "usage-ledger store discarding rows, request-log sink discarding records, memory quota and circuit"
  }
  if (process.argv.includes("--json")) console.log(JSON.stringify(leak))
  else {
    for (const s of samples) {
      console.log(
        `${String(s.calls).padStart(8)} calls  ${(s.heapBytes / 2 ** 20).toFixed(2)} MiB` +
          `  (code ${(s.codeBytes / 2 ** 20).toFixed(2)} MiB)`
      )
    }
    console.log(
      `${calls} calls in ${leak.seconds.toFixed(0)} s; slope ${leak.slopeBytesPer1k.toFixed(0)} bytes per 1k calls` +
        ` (compiled code ${leak.codeSlopeBytesPer1k.toFixed(0)}; releases over 1 MiB: ${leak.releases})`
    )
  }
} finally {
  server.stop()
}
