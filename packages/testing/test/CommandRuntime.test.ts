/**
 * `CommandRuntime.runMain` as a shell user meets it: a program with a
 * teardown of its own and a shutdown that lasts until a second signal, run as
 * a subprocess and stopped by signals (`baton.test.ts` stops the bins).
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"
import * as NodeProcess from "../src/NodeProcess.ts"

const program = fileURLToPath(new URL("./fixtures/waitForSignal.ts", import.meta.url))

/**
 * Runs the program, sends it the first signal once it prints `ready` and the
 * second (if any) once it prints `stopping`; resolves with its exit code and
 * stdout.
 */
const stopWith = (first: NodeJS.Signals, second: NodeJS.Signals) =>
  new Promise<{ readonly code: number | null; readonly stdout: string }>((resolve) => {
    const child = spawn(process.execPath, [program], { cwd: NodeProcess.freshDir(), env: NodeProcess.baseEnv })
    let stdout = ""
    child.stdout.on("data", (chunk: Buffer) => {
      const before = stdout
      stdout += chunk.toString()
      if (!before.includes("ready") && stdout.includes("ready")) child.kill(first)
      if (!before.includes("stopping") && stdout.includes("stopping")) child.kill(second)
    })
    child.on("exit", (code) => {
      resolve({ code, stdout })
    })
  })

describe("CommandRuntime.runMain", () => {
  it(
    "runs the caller's teardown, then exits 128 + the first signal's number, a second one during the shutdown aside",
    async () => {
      const cases = [["SIGTERM", "SIGINT", 143], ["SIGINT", "SIGTERM", 130], ["SIGTERM", "SIGTERM", 143]] as const
      for (const [first, second, expected] of cases) {
        const ran = await stopWith(first, second)
        assert.strictEqual(ran.code, expected, `${first} then ${second}`)
        assert.strictEqual(ran.stdout, "ready\nstopping\nteardown\n", `${first} then ${second}`)
      }
    },
    60_000
  )
})
