/**
 * Machine instructions per call of the in-process cases of `manager.ts`,
 * counted by valgrind (`callgrind`), not timed: the same code gives the same
 * count within a few per cent whatever else the machine is doing, where CPU
 * time on a shared VM moves by 10-30% from run to run. It is the way to tell
 * whether a cut of a few per cent is real (bench/README.md, "Seventh
 * session"). An instruction is not a microsecond (a cache miss costs more
 * than an add), so timed runs (`manager.ts`, `stack.ts`) still give the
 * figures; this gives the direction and the size of a change.
 *
 * Each case runs twice under valgrind, `BENCH_INSTRUCTIONS_LOW` and
 * `BENCH_INSTRUCTIONS_HIGH` calls (default 500 and 2500, after the same
 * start-up), and the difference is divided by the difference in calls: the
 * start-up, the warm-up and the JIT's first compilations cancel out. Node runs
 * with V8's `--predictable` (no helper threads, no GC or compilation timed by
 * the clock): two counts of the same code then agree within 1%, where
 * `--single-threaded` alone left them 5-10% apart. About a minute and a half per case on this machine; the two runs
 * of a case go in parallel.
 *
 * With `BENCH_INSTRUCTIONS_TOP=n` it also prints, per case, the `n`
 * functions that cost the most instructions per call (self cost, the same
 * difference of two runs): V8's builtins and Node's C++ by their symbols,
 * and JIT-compiled JavaScript by the name and place V8 writes for it with
 * `--perf-basic-prof` (a function's cost at every tier together). That is
 * how the eighth session found Effect's megamorphic property loads behind
 * each fiber step (bench/README.md, "Eighth session"). Writing the code map
 * costs instructions too: the totals printed with it run up to about 0.5% above
 * those without. A row can also carry a one-off event of one of the two runs
 * (a compilation, say): trust the rows that come back run after run. Needs
 * `callgrind_annotate`.
 *
 * Besides `manager.ts`'s cases (in process, a stub provider), four cases run
 * over the loopback mock server as `stack.ts` runs them, named `network: ...`:
 * the adapter plain and streamed, and `generate` by default (streamed) and
 * plain. Their counts
 * take in the socket, undici and the stream's decoding (bench/README.md,
 * "Repeated chunks"); the two adapter cases side by side, with
 * `BENCH_INSTRUCTIONS_TOP`, say what streaming costs by function.
 *
 * Run: `node instructions.ts [words]` in `bench/` (the cases whose name
 * contains one of the comma-separated words, as `manager.ts` takes them;
 * every case without words).
 * Needs `valgrind` on the PATH.
 */
import * as LlmRequest from "@baton/core/LlmRequest"
import * as UsageLedger from "@baton/core/UsageLedger"
import { Effect, Exit, Scope, Stream } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Baton from "./internal/libraries/baton.ts"
import * as L from "./internal/library.ts"
import * as Server from "./internal/server.ts"
import { named, runOnce, selectCases } from "./manager.ts"

const low = Number(process.env["BENCH_INSTRUCTIONS_LOW"] ?? 500)
const high = Number(process.env["BENCH_INSTRUCTIONS_HIGH"] ?? 2500)
if (!(Number.isInteger(low) && Number.isInteger(high) && low >= 0 && high > low)) {
  throw new Error(`BENCH_INSTRUCTIONS_LOW (${low}) and _HIGH (${high}) must be whole numbers, LOW < HIGH`)
}
const top = Number(process.env["BENCH_INSTRUCTIONS_TOP"] ?? 0)
if (!(Number.isInteger(top) && top >= 0)) throw new Error(`BENCH_INSTRUCTIONS_TOP (${top}) must be a whole number`)

/**
 * Cases over the loopback mock server, as `stack.ts` runs them (the server
 * in a child process that valgrind does not follow, so only the client is
 * counted): the socket, undici and the stream decoding are in these counts.
 */
const networkCases = {
  "network: adapter alone: provider.generate": (m: Baton.Managers, request: LlmRequest.LlmRequest) => () =>
    Baton.run(m.adapter.generate(request)),
  "network: adapter alone: provider.stream drained": (m: Baton.Managers, request: LlmRequest.LlmRequest) => () =>
    Baton.run(Stream.runDrain(m.adapter.stream(request))),
  "network: manager.generate (default: streams)": (m: Baton.Managers) => () =>
    Baton.run(m.streamed.generate({ prompt: L.prompt, metadata: { subjectId: Baton.subjectId } })),
  "network: manager.generate (generateVia: generate)": (m: Baton.Managers) => () =>
    Baton.run(m.plain.generate({ prompt: L.prompt, metadata: { subjectId: Baton.subjectId } }))
} as const

const isNetworkCase = (name: string): name is keyof typeof networkCases => name in networkCases

/** The names of the cases that contain one of the comma-separated `words` (every case without words). */
const selectNames = async (words: string | undefined): Promise<ReadonlyArray<string>> => {
  const scope = Scope.makeUnsafe()
  const local = (await selectCases(scope, words)).map(([name]) => name)
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return [...local, ...Object.keys(networkCases).filter(named(words))]
}

/** The child: builds case `name` and runs it `calls` times, one after the other. */
const runCase = async (name: string, calls: number): Promise<void> => {
  if (isNetworkCase(name)) {
    const server = await Server.start()
    const m = await Baton.managers(server.url, UsageLedger.layerMemory())
    try {
      const call = networkCases[name](m, await Baton.run(LlmRequest.make({ prompt: L.prompt })))
      for (let i = 0; i < calls; i++) await call()
    } finally {
      await m.close()
      server.stop()
    }
    return
  }
  const scope = Scope.makeUnsafe()
  const found = (await selectCases(scope, undefined)).find(([candidate]) => candidate === name)
  if (found === undefined) throw new Error(`no case named ${name}`)
  for (let i = 0; i < calls; i++) await runOnce(found)
  await Effect.runPromise(Scope.close(scope, Exit.void))
}

/** What valgrind counted for a child process: its instructions, and where its profile and V8's code map are (`top` only). */
interface Counted {
  readonly total: number
  readonly profile: string | undefined
  readonly codeMap: string | undefined
}

/** The instructions valgrind counted for the whole child process running `name` `calls` times. */
const counted = (name: string, calls: number, dir: string | undefined): Promise<Counted> =>
  new Promise((resolve, reject) => {
    const self = fileURLToPath(import.meta.url)
    const profile = dir === undefined ? undefined : join(dir, `callgrind.${calls}`)
    const child = spawn(
      "valgrind",
      [
        "--tool=callgrind",
        `--callgrind-out-file=${profile ?? "/dev/null"}`,
        process.execPath,
        "--predictable",
        ...(dir === undefined ? [] : ["--perf-basic-prof", `--perf-basic-prof-path=${dir}`]),
        self,
        "--child",
        name,
        String(calls)
      ],
      // with a code map V8 also writes an isolate log into the working directory: the temporary one
      { stdio: ["ignore", "ignore", "pipe"], ...(dir === undefined ? {} : { cwd: dir }) }
    )
    let err = ""
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (data: string) => {
      err += data
    })
    child.on("error", reject)
    child.on("close", (code) => {
      const match = /Collected : (\d+)/.exec(err)
      // valgrind runs node in its own process: V8 names the code map after that pid
      const codeMap = dir === undefined ? undefined : join(dir, `perf-${child.pid}.map`)
      if (code === 0 && match?.[1] !== undefined) resolve({ total: Number(match[1]), profile, codeMap })
      else reject(new Error(`valgrind on "${name}" exited ${code}: ${err.slice(-500)}`))
    })
  })

/** Each piece of code V8 generated, in the order it wrote them: start address, size and name. */
const readCodeMap = (path: string): ReadonlyArray<readonly [number, number, string]> =>
  readFileSync(path, "utf8").split("\n").flatMap((line) => {
    const [start, size, ...name] = line.split(" ")
    return start === undefined || size === undefined || name.length === 0
      ? []
      : [[Number.parseInt(start, 16), Number.parseInt(size, 16), name.join(" ")] as const]
  })

/**
 * The name of the code at `address`: the last piece written there. V8
 * reuses the space of code it dropped, and not every piece it runs is in
 * the map, so a name is only sure when one piece ever held the address;
 * otherwise it says how many others did.
 */
const codeAt = (map: ReadonlyArray<readonly [number, number, string]>, address: number): string | undefined => {
  const held = map.filter(([start, size]) => address >= start && address < start + size)
  const last = held.at(-1)?.[2].replace(/^JS:[~^+*]/, "JS:")
  return last === undefined || held.length === 1
    ? last
    : `${last} (unsure: ${held.length - 1} other code held this address)`
}

/** Self instructions by function in a profile, JIT code named from its code map. */
const byFunction = ({ codeMap, profile }: Counted): Map<string, number> => {
  const costs = new Map<string, number>()
  if (profile === undefined || codeMap === undefined) return costs
  const map = readCodeMap(codeMap)
  const text = execFileSync("callgrind_annotate", ["--threshold=100", profile], {
    encoding: "utf8",
    maxBuffer: 1 << 28
  })
  for (const line of text.split("\n")) {
    const found = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.+)$/.exec(line)
    if (found?.[1] === undefined || found[2] === undefined || found[2].startsWith("PROGRAM TOTALS")) continue
    const where = found[2].trim()
    const jit = /^\?\?\?:0x([0-9a-f]+)/.exec(where)
    // a function compiled at another tier is the same function (`codeAt` drops V8's tier mark: `~`, `^`, `+`, `*`)
    const name = jit?.[1] === undefined
      ? where.replace(/^\?\?\?:/, "").replace(/ \[\/.*\]$/, "")
      : codeAt(map, Number.parseInt(jit[1], 16)) ?? where
    costs.set(name, (costs.get(name) ?? 0) + Number(found[1].replaceAll(",", "")))
  }
  return costs
}

/** The `top` functions by instructions per call: the difference of the two runs' self costs. */
const topFunctions = (few: Counted, many: Counted): ReadonlyArray<string> => {
  const before = byFunction(few)
  const after = byFunction(many)
  return [...after.entries()]
    .map(([name, cost]) => [name, (cost - (before.get(name) ?? 0)) / (high - low)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, perCall]) => `  ${Math.round(perCall).toLocaleString("en-US").padStart(8)}  ${name}`)
}

if (process.argv[2] === "--child") {
  await runCase(process.argv[3] ?? "", Number(process.argv[4]))
} else if (import.meta.main) {
  const names = await selectNames(process.argv[2])
  if (names.length === 0) throw new Error(`no case matches ${process.argv[2]}`)
  for (const name of names) {
    const dir = top > 0 ? mkdtempSync(join(tmpdir(), "baton-instructions-")) : undefined
    try {
      // both children end before `dir` goes, even when one fails
      const [few, many] = (await Promise.allSettled([counted(name, low, dir), counted(name, high, dir)])).map(
        (outcome) => {
          if (outcome.status === "rejected") throw outcome.reason
          return outcome.value
        }
      )
      if (few === undefined || many === undefined) throw new Error("valgrind counted nothing")
      const perCall = Math.round((many.total - few.total) / (high - low))
      console.log(`${perCall.toLocaleString("en-US").padStart(10)} instructions per call  ${name}`)
      if (top > 0) console.log(topFunctions(few, many).join("\n"))
    } finally {
      // the profiles, the code maps and V8's isolate logs all went to `dir`
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    }
  }
}
