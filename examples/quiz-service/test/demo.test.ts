/**
 * The repository's main job (`npx -y pnpm@12 start`): the DreamAI demo as a
 * process, in a fresh directory, judged by what it prints.
 */
import * as NodeProcess from "@baton/testing/NodeProcess"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"

const demo = fileURLToPath(new URL("../src/demo.ts", import.meta.url))

describe("the demo", () => {
  it("runs the DreamAI day and ends with the per-teacher and per-provider tables", async () => {
    const ran = await NodeProcess.run(demo, [], { cwd: NodeProcess.freshDir("quiz-demo-") })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.include(ran.stdout, "from gemini")
    assert.match(ran.stdout, /mr-chen\s+429 .*Retry-After: \d+s/)
    assert.match(ran.stdout, /ms-okafor\s+400 .*questionCount/)
    assert.include(ran.stdout, "circuits: deepseek open")
    assert.match(ran.stdout, /Per teacher[\s\S]*mr-chen\s+4\s+\d+\s+\$/)
    assert.match(ran.stdout, /Per provider[\s\S]*deepseek\s+\d+/)
  })

  it("stopped by SIGTERM once it started exits 143, by SIGINT 130, as a shell reports each signal", async () => {
    for (const [signal, expected] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, [demo], {
          cwd: NodeProcess.freshDir("quiz-demo-"),
          env: NodeProcess.baseEnv
        })
        child.stdout.once("data", () => child.kill(signal))
        child.on("exit", resolve)
      })
      assert.strictEqual(code, expected, signal)
    }
  })
})
