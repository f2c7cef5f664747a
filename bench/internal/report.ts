/**
 * RESULTS.md: the machine, the date, every row, the targets of issue 12 met
 * or not, written from the measurements of one run.
 */
import * as os from "node:os"
import * as L from "./library.ts"
import * as Measure from "./measure.ts"
import * as Rounds from "./rounds.ts"

/** What one child process measured for a case (see `subject.ts`); medians over children. */
export interface Subject {
  readonly name: string
  readonly importMs: number
  readonly setupMs: number
  readonly firstCallMs: number
  readonly heapBytes: number
  /** RSS growth per request while all are in flight, at the moment the heap is measured. */
  readonly rssBytes: number
  /** RSS growth per request to the burst's peak, answers included. */
  readonly rssPeakBytes: number
  readonly maxRssMiB: number
}

/** Time to the first streamed delta of one client, ms per run. */
export interface FirstDelta {
  readonly name: string
  readonly ms: ReadonlyArray<number>
}

/** One sample of the leak check, after a full GC: JavaScript objects, and V8's compiled code. */
export interface LeakSample {
  readonly calls: number
  readonly heapBytes: number
  readonly codeBytes: number
}

/** The leak check's result (see `leak.ts`). */
export interface Leak {
  readonly calls: number
  readonly seconds: number
  /** Slope of the JavaScript objects' heap, bytes per 1k calls, common to the runs between releases. */
  readonly slopeBytesPer1k: number
  /** Falls of the heap by over 1 MiB between two samples (releases of what loading left), each starting a run. */
  readonly releases: number
  /** Slope of V8's compiled code (left out of the target), bytes per 1k calls. */
  readonly codeSlopeBytesPer1k: number
  readonly samples: ReadonlyArray<LeakSample>
  readonly ledger: string
}

/** Everything a run measured. */
export interface Run {
  readonly mode: "full" | "quick"
  readonly loadBefore: string
  readonly loadAfter: string
  readonly started: Date
  readonly seconds: number
  readonly byConcurrency: ReadonlyArray<Rounds.Rounds>
  readonly subjects: ReadonlyArray<Subject>
  readonly firstDelta: ReadonlyArray<FirstDelta>
  readonly leak: Leak | undefined
  /** Sections of other benchmarks (the gateway's), Markdown, appended as they are. */
  readonly sections: ReadonlyArray<string>
}

/** The current load average, 1, 5 and 15 minutes. */
export const loadAverage = (): string => os.loadavg().map((l) => l.toFixed(2)).join(" ")

const fixed = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : "-")
const times = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}x` : "-")
const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")

/** Per round, the CPU of `name` over that of `base`, over rounds (see `Rounds.Spread`). */
const cpuSpread = (
  rounds: Rounds.Rounds,
  name: string,
  base: string,
  pick: (sample: Measure.Sample) => number = (s) => s.cpuMicros
) => {
  const row = Rounds.find(rounds, name)
  return row === undefined ? Rounds.none : Rounds.ratio(row, Rounds.find(rounds, base), pick)
}

const cpuRatio = (
  rounds: Rounds.Rounds,
  name: string,
  base: string,
  pick: (sample: Measure.Sample) => number = (s) => s.cpuMicros
): number => cpuSpread(rounds, name, base, pick).median

const headline = (run: Run, what: string, pick: (sample: Measure.Sample) => number): string => {
  const rows = run.byConcurrency[0]?.rows.filter((r) => r.case.headline) ?? []
  const header = [
    `case (${what} per call, ratio to the floor; in brackets to the openai SDK)`,
    ...run.byConcurrency.map((r) => `conc ${r.concurrency}`)
  ]
  return table(
    header,
    rows.map((row) => [
      row.case.name,
      ...run.byConcurrency.map((rounds) => {
        const floor = cpuRatio(rounds, row.case.name, L.names.floor, pick)
        const openai = cpuRatio(rounds, row.case.name, L.names.openai, pick)
        return row.case.name === L.names.floor ? times(floor) : `${times(floor)} (${times(openai)})`
      })
    ])
  )
}

const detail = (rounds: Rounds.Rounds): string => {
  const floor = Rounds.find(rounds, L.names.floor)
  const base = (name: string) => Rounds.find(rounds, name)
  return table(
    [
      "case",
      "calls",
      "CPU µs/call",
      "user µs/call",
      "x floor (min-max)",
      "user x floor",
      "x adapter",
      "x openai",
      "x LangChain",
      "x Vercel",
      "calls/s",
      "p50 ms",
      "p50 +ms vs floor",
      "p99 +ms vs floor",
      "heap B/call",
      "failed calls"
    ],
    rounds.rows.map((row) => {
      const ratio = Rounds.ratio(row, floor)
      const vs = (name: string) => times(Rounds.ratio(row, base(name)).median)
      return [
        row.case.name,
        String(row.calls),
        fixed(Rounds.medianOf(row, (s) => s.cpuMicros), 0),
        fixed(Rounds.medianOf(row, (s) => s.userMicros), 0),
        `${times(ratio.median)} (${fixed(ratio.min)}-${fixed(ratio.max)})`,
        times(Rounds.ratio(row, floor, (s) => s.userMicros).median),
        vs(L.names.adapter),
        vs(L.names.openai),
        vs(L.names.langchain),
        vs(L.names.vercel),
        fixed(Rounds.medianOf(row, (s) => s.throughput), 0),
        fixed(Rounds.medianOf(row, (s) => s.p50Micros) / 1000),
        fixed(Rounds.difference(row, floor, (s) => s.p50Micros) / 1000),
        fixed(Rounds.difference(row, floor, (s) => s.p99Micros) / 1000),
        fixed(Measure.median(row.retained), 0),
        String(row.samples.reduce((sum, s) => sum + s.errors, 0))
      ]
    })
  )
}

const subjects = (run: Run): string =>
  table(
    [
      "case",
      "import ms",
      "set-up ms",
      "first call ms",
      "heap KiB per in-flight request",
      "RSS KiB per in-flight request",
      "RSS KiB per request to the burst's peak",
      "peak RSS MiB"
    ],
    run.subjects.map((s) => [
      s.name,
      fixed(s.importMs, 0),
      fixed(s.setupMs, 0),
      fixed(s.firstCallMs, 1),
      fixed(s.heapBytes / 1024, 1),
      fixed(s.rssBytes / 1024, 1),
      fixed(s.rssPeakBytes / 1024, 1),
      fixed(s.maxRssMiB, 0)
    ])
  )

const firstDeltas = (run: Run): string => {
  const floor = run.firstDelta.find((f) => f.name.startsWith("floor"))
  const floorMedian = floor === undefined ? Number.NaN : Measure.median(floor.ms)
  return table(
    ["client", "runs", "median ms", "p90 ms", "x floor"],
    run.firstDelta.map((f) => [
      f.name,
      String(f.ms.length),
      fixed(Measure.median(f.ms), 3),
      fixed(Measure.quantile(f.ms, 0.9), 3),
      times(Measure.median(f.ms) / floorMedian)
    ])
  )
}

/** One target: met (by the median), and whether the rounds settle that verdict. */
export interface Target {
  readonly target: string
  readonly met: boolean
  /**
   * Another run may give the other verdict: met, with the limit inside the median's confidence interval at
   * some concurrency; missed, with it inside wherever the target is missed.
   */
  readonly atTheEdge: boolean
  readonly value: string
}

/** `x` against a limit `meets`: met by its median; at the edge when the median's confidence interval straddles it. */
const against = (x: Rounds.Spread, meets: (value: number) => boolean) => ({
  met: meets(x.median),
  atTheEdge: meets(x.low) !== meets(x.high)
})
const atMost = (limit: number) => (value: number) => value <= limit

/** Each target of issue 12, met or not, with its number and the median's confidence interval in brackets. */
export const targets = (run: Run): ReadonlyArray<Target> => {
  const out: Array<Target & { known: boolean }> = []
  const add = (
    target: string,
    measured: ReadonlyArray<number>,
    verdict: { readonly met: boolean; readonly atTheEdge: boolean },
    value: string
  ) => out.push({ target, ...verdict, value, known: measured.every(Number.isFinite) })
  const ratios = (name: string, base: string) =>
    run.byConcurrency.map((r) => ({ c: r.concurrency, x: cpuSpread(r, name, base) }))
  const spread = (x: Rounds.Spread, digits = 2, unit = "x") =>
    Number.isFinite(x.median)
      ? `${fixed(x.median, digits)}${unit} (${fixed(x.low, digits)}-${fixed(x.high, digits)})`
      : "-"
  const listed = (values: ReadonlyArray<{ readonly c: number; readonly x: Rounds.Spread }>) =>
    values.map(({ c, x }) => `conc ${c}: ${spread(x)}`).join(", ")
  const each = (target: string, limit: number, name: string, base: string, note = "") => {
    const values = ratios(name, base)
    const verdicts = values.map(({ x }) => against(x, atMost(limit)))
    add(
      target,
      values.map(({ x }) => x.median),
      // a met target is unsettled where any interval holds the limit, a missed one only where every miss could flip
      verdicts.every((v) => v.met)
        ? { met: true, atTheEdge: verdicts.some((v) => v.atTheEdge) }
        : { met: false, atTheEdge: verdicts.every((v) => v.met || v.atTheEdge) },
      listed(values) + note
    )
  }
  // the default streams underneath: its ratio to the streamed adapter shows what the manager itself adds
  each(
    "`manager.generate` (default) <= 1.25x the adapter alone",
    1.25,
    L.names.generate,
    L.names.adapter,
    ` (to the streamed adapter, which it runs: ${listed(ratios(L.names.generate, L.names.adapterStream))})`
  )
  const c1 = run.byConcurrency[0]
  if (c1 !== undefined) {
    const x = cpuSpread(c1, L.names.generate, L.names.floor)
    add("`manager.generate` near 1.5x the floor at conc 1", [x.median], against(x, atMost(1.5)), spread(x))
  }
  each("`manager.stream` within 1.2x of `generate`", 1.2, L.names.stream, L.names.generate)
  each(
    "`generateStructured` (Effect Schema) within 1.2x of `generate`",
    1.2,
    L.names.structuredSchema,
    L.names.generate
  )
  each(
    "`generateStructured` (raw JSON Schema) within 1.2x of `generate`",
    1.2,
    L.names.structuredJson,
    L.names.generate
  )
  each("`manager.generate` <= 0.6x the openai SDK", 0.6, L.names.generate, L.names.openai)
  each("`manager.generate` <= 0.5x LangChain", 0.5, L.names.generate, L.names.langchain)
  each("`manager.generate` <= 0.3x the Vercel AI SDK", 0.3, L.names.generate, L.names.vercel)
  if (c1 !== undefined) {
    const refusal = (target: string, name: string) => {
      const row = Rounds.find(c1, name)
      const x = row === undefined ? Rounds.none : Rounds.spreadOf(row, (s) => s.cpuMicros)
      add(target, [x.median], against(x, (v) => v < 20), spread(x, 0, " µs"))
    }
    refusal("open-circuit skip (no fallback) < 20 µs CPU, no network call", L.names.openCircuitAlone)
    refusal("quota refusal < 20 µs CPU, no network call", L.names.quota)
    const failover = Rounds.find(c1, L.names.failover)
    const added = failover === undefined
      ? Number.NaN
      : Rounds.difference(failover, Rounds.find(c1, L.names.withFallback), (s) => s.p50Micros) / 1000
    add(
      "failover (primary 503 at once) adds < 2 ms p50 latency to the fallback's own time (conc 1)",
      [added],
      { met: added < 2, atTheEdge: false },
      `${fixed(added)} ms`
    )
  }
  const subject = (name: string) => run.subjects.find((s) => s.name === name)
  if (run.subjects.length > 0) {
    const baton = subject(L.names.generate)?.rssBytes ?? Number.NaN
    const openai = subject(L.names.openai)?.rssBytes ?? Number.NaN
    const peak = (name: string) => fixed((subject(name)?.rssPeakBytes ?? Number.NaN) / 1024, 1)
    add(
      "RSS per in-flight request at conc 512 <= the openai SDK's",
      [baton, openai],
      { met: baton <= openai, atTheEdge: false },
      `Baton ${fixed(baton / 1024, 1)} KiB, openai SDK ${fixed(openai / 1024, 1)} KiB ` +
        `(to the burst's peak: ${peak(L.names.generate)} and ${peak(L.names.openai)} KiB)`
    )
  }
  if (run.leak !== undefined) {
    add(
      "retained heap flat over the leak check (|slope| < 10 KiB per 1k calls)",
      [run.leak.slopeBytesPer1k],
      { met: Math.abs(run.leak.slopeBytesPer1k) < 10 * 1024, atTheEdge: false },
      `${fixed(run.leak.slopeBytesPer1k / 1024, 1)} KiB per 1k calls over ${run.leak.calls} calls`
    )
  }
  return out.filter((t) => t.known)
}

/** What the targets table's brackets and "at the edge" mean, for this run's number of rounds. */
const intervalNote = (run: Run): ReadonlyArray<string> => {
  const first = run.byConcurrency[0]
  const n = first === undefined ? 0 : Rounds.count(first)
  const { coverage, rank } = Rounds.medianInterval(n)
  return [
    "The verdict is the median's. In brackets, a confidence interval of the median that assumes only that the",
    `rounds are independent draws of one distribution: with ${n} rounds, the ${ordinal(rank)} smallest and the`,
    `${ordinal(rank)} largest, which hold the median with a probability of ${
      fixed(coverage * 100, 1)
    }%. At the edge: the`,
    "rounds do not settle the verdict, so another run on this machine may give the other one (a met target whose",
    "interval holds the limit at some concurrency; a missed one whose interval holds it wherever it is missed).",
    "The load on this shared machine moves during a run: read the intervals as a guide."
  ]
}

/** `k` as an English ordinal: 1st, 2nd, 3rd, 4th, 11th, 21st. */
const ordinal = (k: number): string => {
  const suffix = Math.floor(k / 10) % 10 === 1 ? "th" : (["th", "st", "nd", "rd"][k % 10] ?? "th")
  return `${k}${suffix}`
}

/** The report as Markdown. */
export const markdown = (run: Run): string => {
  const cpus = os.cpus()
  const parts = [
    "# Baton benchmark results",
    "",
    `Written by \`npx -y pnpm@12 ${
      run.mode === "full" ? "bench" : "bench:quick"
    }\` (bench/stack.ts); do not edit by hand.`,
    "",
    `- date: ${run.started.toISOString()} (${fixed(run.seconds / 60, 1)} min)`,
    `- machine: ${os.type()} ${os.release()} ${os.arch()}, ${cpus.length} x ${cpus[0]?.model ?? "?"}, ${
      fixed(os.totalmem() / 2 ** 30, 1)
    } GiB`,
    `- Node ${process.version}`,
    `- load average before: ${run.loadBefore}; after: ${run.loadAfter}`,
    `- interleaved rounds after warm-up: ${
      run.byConcurrency.map((r) => `${Rounds.count(r)} at conc ${r.concurrency}`).join(", ")
    }; every figure is the median over rounds; in the`,
    "  tables of each concurrency the range in brackets is the min-max of the per-round ratio (the spread), in the",
    "  targets table a confidence interval of the median (see there).",
    "- `effect/ai`: no OpenAI provider loads on Effect 4.1 (`@effect/ai-openai` 4.0.0-beta.106 and",
    "  `@effect/ai-openai-compat` 4.0.0-beta.98 import `effect/unstable/ai/*`, which Effect 4.1 does not export), so",
    "  it has no row as a peer; \"effect/ai ... over Baton\" is `effect/ai`'s `LanguageModel` served by `@baton/ai`",
    "  (what `effect/ai` adds on top of `manager.generate`, not a peer).",
    "",
    "## Headline",
    "",
    headline(run, "client CPU, user + system,", (s) => s.cpuMicros),
    "",
    "The same in user CPU alone (the clients' own work; system CPU is mostly the kernel's loopback socket work,",
    "the same for every client of one request and response, and large on this virtual machine):",
    "",
    headline(run, "user CPU", (s) => s.userMicros),
    "",
    "## Targets (issue 12)",
    "",
    table(
      ["target", "met", "measured (median over rounds; in brackets its confidence interval)"],
      targets(run).map((t) => [t.target, `${t.met ? "yes" : "**no**"}${t.atTheEdge ? ", at the edge" : ""}`, t.value])
    ),
    "",
    ...intervalNote(run),
    ""
  ]
  for (const rounds of run.byConcurrency) {
    parts.push(`## Concurrency ${rounds.concurrency}`, "", detail(rounds), "")
  }
  if (run.subjects.length > 0) {
    parts.push(
      "## Cold start and memory in flight (one fresh process per case)",
      "",
      "Import and set-up: `import()` of the client, then building it (for Baton, the layers of every manager the",
      "bench uses: the adapter and seven managers). Memory: 512 requests held in flight by the mock server",
      "(`@latency=500`); 300 ms after they start, while all wait, RSS growth from before the burst and then heap",
      "after a full GC, per request; and RSS growth to the burst's peak (answers included), per request.",
      "",
      subjects(run),
      ""
    )
  }
  if (run.firstDelta.length > 0) {
    parts.push("## Streaming: time to the first text delta (conc 1)", "", firstDeltas(run), "")
  }
  if (run.leak !== undefined) {
    const leak = run.leak
    parts.push(
      "## Leak check (bench/leak.ts)",
      "",
      `${leak.calls} calls of \`manager.generate\` (default) in ${
        fixed(leak.seconds, 0)
      } s at conc 8, heap sampled after a`,
      `full GC; ${leak.ledger}. Slope of retained heap (JavaScript objects): **${
        fixed(leak.slopeBytesPer1k, 0)
      } bytes per 1k calls**`,
      `(falls over 1 MiB between two samples, each starting a new run of samples: ${leak.releases});`,
      `V8's compiled code (code and trusted spaces, flushed and recompiled by V8, left out): ${
        fixed(leak.codeSlopeBytesPer1k, 0)
      } bytes per 1k calls.`,
      "",
      table(
        ["calls", "heap MiB", "compiled code MiB"],
        leak.samples.map((s) => [String(s.calls), fixed(s.heapBytes / 2 ** 20, 2), fixed(s.codeBytes / 2 ** 20, 2)])
      ),
      ""
    )
  }
  parts.push(...run.sections)
  return parts.join("\n")
}
