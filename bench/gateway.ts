/**
 * What `baton serve` adds to a call: an OpenAI-format request to the gateway
 * (alias `bench` = the mock's `openai/gpt-4o-mini`) against the same request
 * sent to the mock server directly, both with a bare `undici.request` +
 * `JSON.parse` client, interleaved per round, at concurrency 1 and 256,
 * after a warm-up of 20,000 calls of each (`Measure.warmupCalls`: the
 * gateway's path is compiled by then, as a long-running gateway's is).
 *
 * The mock server and the gateway each run in their own process; the
 * gateway runs `baton serve`'s defaults (memory quota, SQLite ledger, JSON
 * request log, `generate` streamed underneath to catch stalls). Reported,
 * as medians over the rounds:
 * - latency p50 and p99 of each path and the gateway's added latency (the
 *   difference of the two, per round);
 * - CPU per request: the client's (`process.cpuUsage`) on the direct path;
 *   client + gateway (`/proc/<pid>/stat`, Linux) through the gateway; and
 *   the gateway's alone;
 * - the gateway process's RSS (`/proc/<pid>/status`): idle after warm-up,
 *   the highest sample (every 50 ms) under the concurrency-256 batches, and
 *   its peak (`VmHWM`).
 *
 * `npx -y pnpm@12 --filter @baton/bench bench:gateway` writes
 * `bench/RESULTS-gateway.md` with the machine, date and load average.
 * Options by environment: `BENCH_ROUNDS` (default 5), `BENCH_CALLS` (calls
 * per batch at concurrency 1, default 300; 10 per worker at 256).
 */
import { execFileSync, spawn } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import { Agent, request } from "undici"
import * as Measure from "./internal/measure.ts"
import * as Server from "./internal/server.ts"

const rounds = Number(process.env["BENCH_ROUNDS"] ?? 5)
const callsAtOne = Number(process.env["BENCH_CALLS"] ?? 300)
const concurrencies = [1, 256] as const
const callsAt = (concurrency: number) => concurrency === 1 ? callsAtOne : concurrency * 10
const clientKey = "bench-gateway-key"
const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim())

/** The gateway child's CPU (user + system) so far, µs. */
const processCpuMicros = (pid: number): number => {
  // fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
  return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1e6
}

/** A `VmRSS` / `VmHWM` line of `/proc/<pid>/status`, MiB. */
const memoryMiB = (pid: number, field: "VmRSS" | "VmHWM"): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${field}:`))
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? Number.NaN) / 1024
}

/** Starts the gateway process (its request log to /dev/null) and resolves once it announces its URL. */
const startGateway = (mockUrl: string) =>
  new Promise<{ readonly url: string; readonly pid: number; readonly stop: () => void }>((resolve, reject) => {
    const script = fileURLToPath(new URL("gateway/server.ts", import.meta.url))
    const child = spawn(process.execPath, [script, mockUrl, clientKey], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, NODE_OPTIONS: "" }
    })
    let err = ""
    child.on("exit", (code) => {
      reject(new Error(`the gateway exited (${code}) before it listened:\n${err}`))
    })
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (data: string) => {
      err += data
      const match = /gateway on (http:\/\/\S+)/.exec(err)
      if (match?.[1] !== undefined) {
        child.removeAllListeners("exit")
        child.stderr.removeAllListeners("data")
        child.stderr.pipe(process.stderr)
        resolve({ url: match[1], pid: child.pid ?? 0, stop: () => child.kill("SIGINT") })
      }
    })
  })

const agent = new Agent({ connections: 512 })

const caller = (endpoint: string, key: string, model: string) => {
  const body = JSON.stringify({ model, messages: [{ role: "user", content: "Say hello" }] })
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" }
  return async (): Promise<void> => {
    const response = await request(endpoint, { method: "POST", headers, body, dispatcher: agent })
    const text = await response.body.text()
    if (response.statusCode !== 200) throw new Error(`${response.statusCode}: ${text.slice(0, 200)}`)
    JSON.parse(text)
  }
}

interface Batch {
  readonly p50Micros: number
  readonly p99Micros: number
  readonly clientCpuMicros: number
  readonly gatewayCpuMicros: number
  readonly errors: number
  readonly maxRssMiB: number
}

/** One batch: `n` calls with `concurrency` workers, the gateway's CPU and RSS sampled alongside. */
const batch = async (call: () => Promise<void>, n: number, concurrency: number, gatewayPid: number) => {
  const latencies: Array<number> = []
  let errors = 0
  let started = 0
  let maxRssMiB = memoryMiB(gatewayPid, "VmRSS")
  const sampler = setInterval(() => {
    maxRssMiB = Math.max(maxRssMiB, memoryMiB(gatewayPid, "VmRSS"))
  }, 50)
  const gatewayBefore = processCpuMicros(gatewayPid)
  const cpu = process.cpuUsage()
  const worker = async () => {
    while (started < n) {
      started++
      const start = performance.now()
      try {
        await call()
        latencies.push((performance.now() - start) * 1000)
      } catch (error) {
        if (errors++ === 0) console.error(String(error).slice(0, 300))
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  const used = process.cpuUsage(cpu)
  const gatewayCpu = processCpuMicros(gatewayPid) - gatewayBefore
  clearInterval(sampler)
  return {
    p50Micros: Measure.quantile(latencies, 0.5),
    p99Micros: Measure.quantile(latencies, 0.99),
    clientCpuMicros: (used.user + used.system) / n,
    gatewayCpuMicros: gatewayCpu / n,
    errors,
    maxRssMiB
  } satisfies Batch
}

interface Row {
  readonly concurrency: number
  readonly calls: number
  readonly direct: { readonly p50: number; readonly p99: number; readonly cpu: number }
  readonly gateway: { readonly p50: number; readonly p99: number; readonly clientCpu: number; readonly cpu: number }
  readonly addedP50: number
  readonly addedP99: number
  readonly cpuRatio: number
  readonly errors: number
  readonly maxRssMiB: number
}

const median = Measure.median

const main = async () => {
  const loadBefore = os.loadavg()
  const mock = await Server.start()
  const gateway = await startGateway(mock.url)
  try {
    const direct = caller(`${mock.url}/openai/v1/chat/completions`, "sk-bench-direct", "gpt-4o-mini")
    const through = caller(`${gateway.url}/v1/chat/completions`, clientKey, "bench")
    // V8 compiles a call's path over its first 10,000-20,000 calls, the gateway's too: a short warm-up measured
    // the compiling (1,000-1,200 µs per request in the first batches, about 600 once compiled)
    for (const call of [direct, through]) await batch(call, Measure.warmupCalls, 16, gateway.pid)
    const idleRssMiB = memoryMiB(gateway.pid, "VmRSS")
    const rows: Array<Row> = []
    for (const concurrency of concurrencies) {
      const n = callsAt(concurrency)
      const directs: Array<Batch> = []
      const gateways: Array<Batch> = []
      for (let round = 0; round < rounds; round++) {
        directs.push(await batch(direct, n, concurrency, gateway.pid))
        gateways.push(await batch(through, n, concurrency, gateway.pid))
      }
      const of = (batches: ReadonlyArray<Batch>, pick: (b: Batch) => number) => median(batches.map(pick))
      const d = {
        p50: of(directs, (b) => b.p50Micros),
        p99: of(directs, (b) => b.p99Micros),
        cpu: of(directs, (b) => b.clientCpuMicros)
      }
      const g = {
        p50: of(gateways, (b) => b.p50Micros),
        p99: of(gateways, (b) => b.p99Micros),
        clientCpu: of(gateways, (b) => b.clientCpuMicros),
        cpu: of(gateways, (b) => b.clientCpuMicros + b.gatewayCpuMicros)
      }
      const perRound = (pick: (b: Batch) => number) => median(gateways.map((b, i) => pick(b) - pick(directs[i] ?? b)))
      rows.push({
        concurrency,
        calls: n,
        direct: d,
        gateway: g,
        addedP50: perRound((b) => b.p50Micros),
        addedP99: perRound((b) => b.p99Micros),
        cpuRatio: median(gateways.map((b, i) => {
          const base = directs[i]?.clientCpuMicros ?? Number.NaN
          return (b.clientCpuMicros + b.gatewayCpuMicros) / base
        })),
        errors: [...directs, ...gateways].reduce((sum, b) => sum + b.errors, 0),
        maxRssMiB: Math.max(...gateways.map((b) => b.maxRssMiB))
      })
    }
    const memory = { idleRssMiB, peakRssMiB: memoryMiB(gateway.pid, "VmHWM") }
    const report = render(rows, memory, loadBefore, os.loadavg())
    writeFileSync(fileURLToPath(new URL("RESULTS-gateway.md", import.meta.url)), report)
    console.log(report)
  } finally {
    gateway.stop()
    mock.stop()
    await agent.close()
  }
}

const ms = (micros: number) => (micros / 1000).toFixed(2)
const us = (micros: number) => micros.toFixed(0)
const loads = (values: ReadonlyArray<number>) => values.map((v) => v.toFixed(2)).join(" / ")

const render = (
  rows: ReadonlyArray<Row>,
  memory: { readonly idleRssMiB: number; readonly peakRssMiB: number },
  loadBefore: ReadonlyArray<number>,
  loadAfter: ReadonlyArray<number>
): string => {
  const cpus = os.cpus()
  return [
    "# Gateway benchmark (generated by `bench/gateway.ts`; do not edit)",
    "",
    `${new Date().toISOString()} · ${cpus.length} × ${cpus[0]?.model ?? "?"} · ${
      (os.totalmem() / 2 ** 30).toFixed(1)
    } GiB · Node ${process.version} · ${rounds} rounds, medians`,
    `Load average (1 / 5 / 15 min): ${loads(loadBefore)} at start, ${loads(loadAfter)} at end (shared machine).`,
    "",
    "Client: `undici.request` + `JSON.parse`. Direct: the mock server's `/openai/v1/chat/completions`.",
    "Gateway: `POST /v1/chat/completions` on `baton serve`'s defaults (key check, strict decoding, memory quota,",
    "SQLite ledger, JSON request log; the manager streams from the mock underneath). Mock and gateway each run",
    "in their own process; gateway CPU from `/proc/<pid>/stat`.",
    "",
    "| concurrency | calls/batch | direct p50 / p99 ms | gateway p50 / p99 ms | added p50 / p99 ms | CPU/call direct µs (client) | CPU/call via gateway µs (client + gateway) | gateway alone µs | CPU ratio | errors |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${r.concurrency} | ${r.calls} | ${ms(r.direct.p50)} / ${ms(r.direct.p99)} | ${ms(r.gateway.p50)} / ${
        ms(r.gateway.p99)
      } | ${ms(r.addedP50)} / ${ms(r.addedP99)} | ${us(r.direct.cpu)} | ${us(r.gateway.cpu)} | ${
        us(r.gateway.cpu - r.gateway.clientCpu)
      } | ${r.cpuRatio.toFixed(2)}x | ${r.errors} |`
    ),
    "",
    `Gateway RSS: ${memory.idleRssMiB.toFixed(0)} MiB idle after warm-up, ${
      Math.max(...rows.map((r) => r.maxRssMiB)).toFixed(0)
    } MiB highest sample under concurrency ${concurrencies.at(-1)}, ${memory.peakRssMiB.toFixed(0)} MiB peak (VmHWM).`,
    ""
  ].join("\n")
}

await main()
