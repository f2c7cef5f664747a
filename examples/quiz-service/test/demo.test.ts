/**
 * The repository's main job (`npx -y pnpm@12 start`): the DreamAI demo as a
 * process, in a fresh directory, judged by what it prints.
 */
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"

const demo = fileURLToPath(new URL("../src/demo.ts", import.meta.url))

const runDemo = () =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [demo], {
      cwd: mkdtempSync(join(tmpdir(), "quiz-demo-")),
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "" }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("exit", (code) => {
      resolve({ code, stdout, stderr })
    })
  })

describe("the demo", () => {
  it("runs the DreamAI day and ends with the per-teacher and per-provider tables", async () => {
    const ran = await runDemo()
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.include(ran.stdout, "from gemini")
    assert.match(ran.stdout, /mr-chen\s+429 .*Retry-After: \d+s/)
    assert.match(ran.stdout, /ms-okafor\s+400 .*questionCount/)
    assert.include(ran.stdout, "circuits: deepseek open")
    assert.match(ran.stdout, /Per teacher[\s\S]*mr-chen\s+4\s+\d+\s+\$/)
    assert.match(ran.stdout, /Per provider[\s\S]*deepseek\s+\d+/)
  })
})
