/**
 * The example of `Providers`' module header runs as written: its `ts` block,
 * launched by `NodeRuntime.runMain` (which takes only a program needing
 * nothing more), type-checks with the workspace's compiler options. The
 * block is written next to this file so `@baton/*` resolve as for a user.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")

/** The first `ts` block of the module header of `src/Providers.ts`, its ` * ` prefixes removed. */
const headerExample = (): string => {
  const source = readFileSync(join(here, "..", "src", "Providers.ts"), "utf8")
  const block = /```ts\n([\s\S]*?) \* ```/.exec(source)?.[1]
  if (block === undefined) throw new Error("src/Providers.ts: no ts block in the module header")
  return block.replace(/^ \* ?/gm, "")
}

/** The compiler's output for `source` checked alone with the workspace's options; empty when it type-checks. */
const typeErrors = (source: string): string => {
  const name = `.providers-example-${process.pid}`
  const file = join(here, `${name}.ts`)
  const config = join(here, `${name}.tsconfig.json`)
  writeFileSync(file, source)
  writeFileSync(config, JSON.stringify({ extends: "../../../tsconfig.base.json", files: [`./${name}.ts`] }))
  try {
    const ran = spawnSync(process.execPath, [tsc, "-p", config, "--noEmit"], { encoding: "utf8" })
    return `${ran.stdout}${ran.stderr}`
  } finally {
    rmSync(file, { force: true })
    rmSync(config, { force: true })
  }
}

describe("Providers' module header", () => {
  it("has an example that runs as written: its Manager needs nothing more than the environment", () => {
    const launched = `${headerExample()}
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
Layer.launch(Manager).pipe(NodeRuntime.runMain)
`
    assert.strictEqual(typeErrors(launched), "")
  }, 120_000)
})
