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
 * Run: `node instructions.ts [words]` in `bench/` (the cases whose name
 * contains one of the comma-separated words, as `manager.ts` takes them;
 * every case without words).
 * Needs `valgrind` on the PATH.
 */
import { Effect, Exit, Scope } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { runOnce, selectCases } from "./manager.ts"

const low = Number(process.env["BENCH_INSTRUCTIONS_LOW"] ?? 500)
const high = Number(process.env["BENCH_INSTRUCTIONS_HIGH"] ?? 2500)
if (!(Number.isInteger(low) && Number.isInteger(high) && low >= 0 && high > low)) {
  throw new Error(`BENCH_INSTRUCTIONS_LOW (${low}) and _HIGH (${high}) must be whole numbers, LOW < HIGH`)
}

/** The child: builds the cases and runs case `name` `calls` times, one after the other. */
const runCase = async (name: string, calls: number): Promise<void> => {
  const scope = Scope.makeUnsafe()
  const found = (await selectCases(scope, undefined)).find(([candidate]) => candidate === name)
  if (found === undefined) throw new Error(`no case named ${name}`)
  for (let i = 0; i < calls; i++) await runOnce(found)
  await Effect.runPromise(Scope.close(scope, Exit.void))
}

/** The instructions valgrind counted for the whole child process running `name` `calls` times. */
const counted = (name: string, calls: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const self = fileURLToPath(import.meta.url)
    const child = spawn(
      "valgrind",
      [
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        process.execPath,
        "--predictable",
        self,
        "--child",
        name,
        String(calls)
      ],
      { stdio: ["ignore", "ignore", "pipe"] }
    )
    let err = ""
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (data: string) => {
      err += data
    })
    child.on("error", reject)
    child.on("close", (code) => {
      const match = /Collected : (\d+)/.exec(err)
      if (code === 0 && match?.[1] !== undefined) resolve(Number(match[1]))
      else reject(new Error(`valgrind on "${name}" exited ${code}: ${err.slice(-500)}`))
    })
  })

if (process.argv[2] === "--child") {
  await runCase(process.argv[3] ?? "", Number(process.argv[4]))
} else if (import.meta.main) {
  const scope = Scope.makeUnsafe()
  const names = (await selectCases(scope, process.argv[2])).map(([name]) => name)
  await Effect.runPromise(Scope.close(scope, Exit.void))
  if (names.length === 0) throw new Error(`no case matches ${process.argv[2]}`)
  for (const name of names) {
    const [few, many] = await Promise.all([counted(name, low), counted(name, high)])
    const perCall = Math.round((many - few) / (high - low))
    console.log(`${perCall.toLocaleString("en-US").padStart(10)} instructions per call  ${name}`)
  }
}
