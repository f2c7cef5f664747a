/**
 * Internals stay internal: every `@baton/*` package exports its public
 * modules and blocks `internal/*`, as `effect` does. Checked with Node's own
 * resolver, from a package that depends on them.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const examples = fileURLToPath(new URL("../../../examples/quiz-service/", import.meta.url))

/** Resolves `specifier` with Node from the example service; the error code, or "ok". */
const resolve = (specifier: string): string => {
  const script = `try { import.meta.resolve(${JSON.stringify(specifier)}); console.log("ok") } ` +
    `catch (e) { console.log(e.code) }`
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: examples, encoding: "utf8" })
  return run.stdout.trim()
}

describe("package exports", () => {
  it("blocks @baton/*/internal/* and keeps the public modules", () => {
    assert.strictEqual(resolve("@baton/core/LlmManager"), "ok")
    assert.strictEqual(resolve("@baton/providers/OpenAi"), "ok")
    for (const internal of ["@baton/core/internal/manager", "@baton/providers/internal/adapter"]) {
      assert.strictEqual(resolve(internal), "ERR_PACKAGE_PATH_NOT_EXPORTED", internal)
    }
  })
})
