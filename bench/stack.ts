/**
 * The benchmark of issue 12: Baton against the floor (`undici.request` +
 * `JSON.parse`) and its peers (the openai SDK, LangChain's `ChatOpenAI` with
 * `withFallbacks`, the Vercel AI SDK), in one process, interleaved per round,
 * against the same mock endpoint (the mock server runs in a child process, so
 * `process.cpuUsage()` here is the clients' CPU alone), the same prompt.
 *
 * `npx -y pnpm@12 bench` (full: concurrency 1, 64 and 512, cold start and
 * memory in flight in fresh child processes, time to first delta, the leak
 * check) writes `bench/RESULTS.md`; `npx -y pnpm@12 bench:quick` prints the
 * headline rows at concurrency 1 and 64 in under a minute. Options by
 * environment: `BENCH_ROUNDS` (per concurrency), `BENCH_CALLS` (calls per batch at concurrency
 * 1), `BENCH_CASES` (only cases whose name contains one of these
 * comma-separated words, of any group; the floor always runs),
 * `BENCH_CONCURRENCY` (comma-separated), `BENCH_LEAK_SECONDS`. See
 * `bench/README.md`.
 */
import { execFile } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"
import { promisify } from "node:util"
import * as L from "./internal/library.ts"
import * as Measure from "./internal/measure.ts"
import * as Registry from "./internal/registry.ts"
import * as Report from "./internal/report.ts"
import * as Rounds from "./internal/rounds.ts"
import * as Server from "./internal/server.ts"

const quick = process.argv.includes("--quick")
// 15 rounds give each median a confidence interval of its 4th to 12th round (bench/README.md, "Eleventh session")
const rounds = Number(process.env["BENCH_ROUNDS"] ?? (quick ? 5 : 15))
const calls = Number(process.env["BENCH_CALLS"] ?? (quick ? 100 : 200))
const only = (process.env["BENCH_CASES"] ?? "").split(",").filter((s) => s.length > 0)
const concurrencies = (process.env["BENCH_CONCURRENCY"] ?? (quick ? "1,64" : "1,64,512")).split(",").map(Number)
/** Children per case for cold start and memory in flight. */
const children = 3
const firstDeltaRuns = quick ? 0 : 60

const run = promisify(execFile)
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

const child = async <A>(script: string, args: ReadonlyArray<string>): Promise<A> => {
  const { stdout } = await run(process.execPath, ["--expose-gc", here(script), ...args], {
    maxBuffer: 16 * 2 ** 20,
    env: { ...process.env, NODE_OPTIONS: "" }
  })
  const last = stdout.trim().split("\n").at(-1) ?? ""
  return JSON.parse(last) as A
}

/** The floor; then the cases named by `BENCH_CASES` (any group), else every case (quick: the headline ones). */
const selected = (c: L.Case): boolean =>
  c.name === L.names.floor || (only.length > 0 ? only.some((w) => c.name.includes(w)) : !quick || c.headline)

/** Cold start and memory in flight of each case, `children` fresh processes each, interleaved; medians. */
const measureSubjects = async (url: string): Promise<ReadonlyArray<Report.Subject>> => {
  const results = new Map<string, Array<Omit<Report.Subject, "name">>>()
  for (let i = 0; i < children; i++) {
    for (const s of Registry.memoryCases) {
      // a child that fails (on an overloaded machine) leaves its case without this sample, not the run without results
      const result = await child<Omit<Report.Subject, "name">>("subject.ts", [s.library, s.name, url]).catch(
        (error: unknown) => {
          console.error(`${s.name}: ${String(error).slice(0, 300)}`)
          return undefined
        }
      )
      if (result !== undefined) results.set(s.name, [...(results.get(s.name) ?? []), result])
    }
  }
  return Registry.memoryCases.map(({ name }) => {
    const of = (pick: (r: Omit<Report.Subject, "name">) => number) =>
      Measure.median((results.get(name) ?? []).map(pick))
    return {
      name,
      importMs: of((r) => r.importMs),
      setupMs: of((r) => r.setupMs),
      firstCallMs: of((r) => r.firstCallMs),
      heapBytes: of((r) => r.heapBytes),
      rssBytes: of((r) => r.rssBytes),
      rssPeakBytes: of((r) => r.rssPeakBytes),
      maxRssMiB: of((r) => r.maxRssMiB)
    }
  })
}

/** Time to the first delta of each streaming client, interleaved one run at a time after 10 warm-up runs. */
const measureFirstDelta = async (libraries: ReadonlyArray<L.Library>): Promise<ReadonlyArray<Report.FirstDelta>> => {
  const streams = libraries.flatMap((l) => l.firstDelta)
  for (const s of streams) for (let i = 0; i < 10; i++) await s.run(L.model)
  const ms = streams.map((): Array<number> => [])
  for (let i = 0; i < firstDeltaRuns; i++) {
    for (const [k, s] of streams.entries()) {
      const took = await s.run(L.model).catch(() => Number.NaN)
      if (Number.isFinite(took)) ms[k]?.push(took)
    }
  }
  return streams.map((s, k) => ({ name: s.name, ms: ms[k] ?? [] }))
}

/**
 * The gateway's section of RESULTS.md: `bench/gateway.ts`, when present, may
 * export `resultsSection(url)` (the mock server's URL) resolving with
 * Markdown. gateway.ts must run its own benchmark only as the entry point
 * (`import.meta.main`), not when imported here.
 */
const gatewaySection = async (url: string): Promise<ReadonlyArray<string>> => {
  const file = here("gateway.ts")
  if (!existsSync(file)) return []
  const module = (await import(pathToFileURL(file).href)) as {
    readonly resultsSection?: (url: string) => Promise<string>
  }
  return module.resultsSection === undefined ? [] : [await module.resultsSection(url)]
}

const main = async () => {
  const started = new Date()
  const loadBefore = Report.loadAverage()
  const server = await Server.start()
  const libraries: Array<L.Library> = []
  try {
    for (const name of Registry.names) {
      if (quick && only.length === 0 && name === "transport") continue
      libraries.push(await (await Registry.libraries[name]()).setup(server.url))
    }
    const cases = libraries.flatMap((l) => l.cases).filter(selected)
    const byConcurrency: Array<Rounds.Rounds> = []
    for (const concurrency of concurrencies) {
      console.error(`concurrency ${concurrency}: ${cases.length} cases x ${rounds} rounds`)
      byConcurrency.push(
        await Rounds.run(cases, {
          concurrency,
          rounds,
          calls: Math.max(calls, Math.min(concurrency * 2, 512)),
          budgetMs: quick ? 400 : 1000,
          warmupMaxMs: quick ? 1000 : 5000
        }, L.model)
      )
    }
    const firstDelta = quick ? [] : await measureFirstDelta(libraries)
    for (const l of libraries) await l.close()
    libraries.length = 0
    console.error(quick ? "" : "cold start and memory in flight (child processes)")
    const subjects = quick || only.length > 0 ? [] : await measureSubjects(server.url)
    console.error(quick || only.length > 0 ? "" : "leak check (child process)")
    const leak = quick || only.length > 0 ? undefined : await child<Report.Leak>("leak.ts", ["--json"]).catch(
      (error: unknown) => {
        console.error(`leak check: ${String(error).slice(0, 300)}`)
        return undefined
      }
    )
    const sections = quick || only.length > 0 ? [] : await gatewaySection(server.url).catch((error: unknown) => {
      console.error(`gateway: ${String(error).slice(0, 300)}`)
      return []
    })
    const result: Report.Run = {
      mode: quick ? "quick" : "full",
      loadBefore,
      loadAfter: Report.loadAverage(),
      started,
      seconds: (Date.now() - started.getTime()) / 1000,
      byConcurrency,
      subjects,
      firstDelta,
      leak,
      sections
    }
    const text = Report.markdown(result)
    console.log(text)
    if (!quick && only.length === 0) writeFileSync(here("RESULTS.md"), text)
  } finally {
    for (const l of libraries) await l.close()
    server.stop()
  }
}

await main()
