/**
 * Stack benchmark: the CPU and memory one call costs through each layer of
 * Baton, as a ratio against a bare `undici.request` + `JSON.parse` of the
 * same endpoint measured in the same run.
 *
 * Run: `node_modules/.bin/node --expose-gc bench/stack.ts` (or `npx -y
 * pnpm@12 bench` at the root). Options by environment: `BENCH_CALLS` (calls
 * per case per round, default 200), `BENCH_ROUNDS` (default 9), `BENCH_CASES`
 * (run only the cases whose name contains one of these comma-separated
 * words, plus the baseline: `BENCH_CASES=streamed` for a profile).
 *
 * The mock provider server runs in a child process, so its CPU is not
 * counted: `process.cpuUsage()` here is the client's alone. Every round runs
 * each case once, in a rotated order (so drift in machine load spreads over
 * all cases); the table shows medians over rounds. See `bench/README.md`.
 *
 * Cases (all against the OpenAI-format `/deepseek/chat/completions` endpoint
 * of the mock server, the same prompt):
 * - `undici + JSON.parse`: the baseline;
 * - `undici in Effect.tryPromise`: the baseline inside `Effect.runPromise`
 *   with an `AbortSignal` and a timeout, what an adapter calling undici
 *   directly (instead of through `HttpClient`) would cost at least;
 * - `HttpClient`: `Effect.runPromise` of Effect's undici `HttpClient` alone
 *   (default settings: its span and trace headers on), `response.json`;
 * - `provider.generate`: the DeepSeek adapter alone;
 * - `manager.generate`: the whole stack, default policy (streamed underneath);
 * - `manager.generate (via generate)`: `generateVia: "generate"`;
 * - `manager.stream`: the stream consumed to its end.
 *
 * The whole stack is one provider (DeepSeek), a request log writing to a
 * sink that discards records (every record is still built), the in-memory
 * usage ledger, the in-memory quota with a `subjectId` on every request, and
 * the metrics (always on: the global registry).
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import { SubjectId } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import { LlmProvider } from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as DeepSeek from "@baton/providers/DeepSeek"
import { NodeHttpClient } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Redacted, Scope, Stream } from "effect"
import { HttpBody, HttpClient, HttpClientRequest } from "effect/http"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { request as undiciRequest } from "undici"

const calls = Number(process.env["BENCH_CALLS"] ?? 200)
const rounds = Number(process.env["BENCH_ROUNDS"] ?? 9)
const warmup = 300
/** Only the cases whose name contains one of these (comma-separated); the baseline always runs. */
const only = (process.env["BENCH_CASES"] ?? "").split(",").filter((s) => s.length > 0)
const prompt = "Write one multiple-choice question about photosynthesis for 12-year-olds."
const apiKey = "sk-bench"
const subjectId = SubjectId.make("teacher-bench")

const gc = (): void => {
  if (typeof globalThis.gc === "function") globalThis.gc()
}

// ---------------------------------------------------------------------------
// the mock server, in its own process
// ---------------------------------------------------------------------------

const startServer = (): Promise<{ readonly url: string; readonly stop: () => void }> =>
  new Promise((resolve, reject) => {
    const bin = fileURLToPath(new URL("../packages/testing/src/bin.ts", import.meta.url))
    const child = spawn(process.execPath, [bin, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.on("error", reject)
    child.on("exit", (code) => {
      reject(new Error(`the mock server exited (${code}) before it listened`))
    })
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (data: string) => {
      out += data
      const match = /server on (http:\/\/\S+)/.exec(out)
      if (match?.[1] !== undefined) {
        child.stdout.removeAllListeners("data")
        child.stdout.resume()
        child.removeAllListeners("exit")
        resolve({ url: match[1], stop: () => child.kill() })
      }
    })
  })

// ---------------------------------------------------------------------------
// the cases
// ---------------------------------------------------------------------------

interface Case {
  readonly name: string
  readonly call: () => Promise<unknown>
}

const makeCases = async (serverUrl: string, scope: Scope.Closeable): Promise<ReadonlyArray<Case>> => {
  const baseUrl = `${serverUrl}/deepseek`
  const endpoint = `${baseUrl}/chat/completions`
  const headers = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }
  const body = JSON.stringify({ model: "deepseek-chat", messages: [{ role: "user", content: prompt }] })

  const provider = DeepSeek.layer({ apiKey: Redacted.make(apiKey), baseUrl }).pipe(
    Layer.provide(Pricing.layerDefault)
  )
  const stores = Layer.mergeAll(
    RequestLog.layer([{ name: "discard", write: () => Effect.void }]),
    UsageLedger.layerMemory(),
    QuotaLimiter.layerMemoryWith({ maxQuestionsPerRequest: 20, dailyLimit: 1_000_000_000, timeZone: "UTC" })
  )
  const manager = (policy: FallbackPolicy.FallbackPolicy) =>
    Effect.map(
      Layer.build(LlmManager.layer({ providers: [provider], policy }).pipe(Layer.provide(stores))),
      (context) => Context.get(context, LlmManager.LlmManager)
    )
  const services = Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const adapter = yield* Effect.map(Layer.build(provider), (context) => Context.get(context, LlmProvider))
    const streamed = yield* manager(FallbackPolicy.defaults)
    const plain = yield* manager({ ...FallbackPolicy.defaults, generateVia: "generate" })
    return { client, adapter, streamed, plain }
  })
  const built = Effect.flatMap(
    Layer.build(NodeHttpClient.layerUndici),
    (http) => Effect.provideContext(services, http)
  ).pipe(Scope.provide(scope))
  const { adapter, client, plain, streamed } = await Effect.runPromise(built)

  const input = { prompt, metadata: { subjectId } }
  const request = await Effect.runPromise(LlmRequest.make({ prompt }))
  const post = HttpClientRequest.post(endpoint, { headers, body: HttpBody.text(body, "application/json") })

  return [
    {
      name: "undici + JSON.parse",
      call: async () => {
        const response = await undiciRequest(endpoint, { method: "POST", headers, body })
        const parsed: unknown = JSON.parse(await response.body.text())
        return parsed
      }
    },
    {
      name: "undici in Effect.tryPromise",
      call: () =>
        Effect.runPromise(
          Effect.tryPromise(async (signal) => {
            const response = await undiciRequest(endpoint, { method: "POST", headers, body, signal })
            const parsed: unknown = JSON.parse(await response.body.text())
            return parsed
          }).pipe(Effect.timeout(30_000))
        )
    },
    {
      name: "HttpClient (Effect.runPromise)",
      call: () => Effect.runPromise(Effect.flatMap(client.execute(post), (r) => r.json))
    },
    { name: "provider.generate", call: () => Effect.runPromise(adapter.generate(request)) },
    { name: "manager.generate (streamed)", call: () => Effect.runPromise(streamed.generate(input)) },
    { name: "manager.generate (via generate)", call: () => Effect.runPromise(plain.generate(input)) },
    { name: "manager.stream (consumed)", call: () => Effect.runPromise(Stream.runDrain(streamed.stream(input))) }
  ]
}

// ---------------------------------------------------------------------------
// measuring
// ---------------------------------------------------------------------------

interface Sample {
  /** CPU (user + system) per call, µs. */
  readonly cpuMicros: number
  /** Wall time per call, µs. */
  readonly wallMicros: number
  /** Heap left after a full GC, per call, bytes (what the calls retain). */
  readonly retainedBytes: number
  /** RSS growth over the batch, KiB. */
  readonly rssKiB: number
}

const runBatch = async (c: Case, n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await c.call()
}

const measure = async (c: Case): Promise<Sample> => {
  gc()
  const heapBefore = process.memoryUsage().heapUsed
  const rssBefore = process.memoryUsage.rss()
  const cpu = process.cpuUsage()
  const started = performance.now()
  await runBatch(c, calls)
  const wall = performance.now() - started
  const used = process.cpuUsage(cpu)
  const rssAfter = process.memoryUsage.rss()
  gc()
  const heapAfter = process.memoryUsage().heapUsed
  return {
    cpuMicros: (used.user + used.system) / calls,
    wallMicros: (wall * 1000) / calls,
    retainedBytes: (heapAfter - heapBefore) / calls,
    rssKiB: (rssAfter - rssBefore) / 1024
  }
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const upper = sorted[mid] ?? Number.NaN
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? Number.NaN) + upper) / 2
}

/** One case's samples, and its CPU ratio against the baseline of the same round. */
interface Row {
  readonly case: Case
  readonly samples: Array<Sample>
  readonly ratios: Array<number>
}

const runRounds = async (cases: ReadonlyArray<Case>): Promise<ReadonlyArray<Row>> => {
  const rows: ReadonlyArray<Row> = cases.map((c) => ({ case: c, samples: [], ratios: [] }))
  for (let round = 0; round < rounds; round++) {
    const cpu = new Map<Row, number>()
    // a rotated order each round, so drift in machine load spreads over all cases
    for (let k = 0; k < rows.length; k++) {
      const row = rows[(k + round) % rows.length]
      if (row === undefined) continue
      const sample = await measure(row.case)
      row.samples.push(sample)
      cpu.set(row, sample.cpuMicros)
    }
    const base = rows[0] === undefined ? undefined : cpu.get(rows[0])
    for (const row of rows) row.ratios.push((cpu.get(row) ?? Number.NaN) / (base ?? Number.NaN))
  }
  return rows
}

const main = async () => {
  const server = await startServer()
  const scope = Scope.makeUnsafe()
  try {
    const cases = (await makeCases(server.url, scope)).filter((c, i) =>
      i === 0 || only.length === 0 || only.some((name) => c.name.includes(name))
    )
    for (const c of cases) await runBatch(c, warmup)
    report(await runRounds(cases))
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    server.stop()
  }
}

const report = (rows: ReadonlyArray<Row>) => {
  console.log(
    `\nBaton stack benchmark: ${rounds} rounds x ${calls} sequential calls per case (after ${warmup} warm-up)`
  )
  console.log(`node ${process.version}, load average ${loadAverage()}\n`)
  const header = `${"case".padEnd(34)} ${"CPU µs/call".padStart(12)} ${"ratio".padStart(6)} ${
    "(min-max)".padStart(12)
  } ${"wall µs".padStart(8)} ${"heap B/call".padStart(12)} ${"RSS KiB".padStart(8)}`
  console.log(header)
  console.log("-".repeat(header.length))
  for (const { case: c, ratios, samples } of rows) {
    const of = (pick: (sample: Sample) => number) => median(samples.map(pick)).toFixed(0)
    console.log(
      `${c.name.padEnd(34)} ${of((x) => x.cpuMicros).padStart(12)} ${median(ratios).toFixed(2).padStart(6)} ${
        `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`.padStart(12)
      } ${of((x) => x.wallMicros).padStart(8)} ${of((x) => x.retainedBytes).padStart(12)} ${
        of((x) => x.rssKiB).padStart(8)
      }`
    )
  }
  console.log(
    "\nratio: median over rounds of (CPU per call / baseline CPU per call in the same round); target for manager rows: <= 1.5"
  )
}

const loadAverage = () => {
  const os = process.getBuiltinModule("node:os")
  return os.loadavg().map((l) => l.toFixed(2)).join(" ")
}

await main()
