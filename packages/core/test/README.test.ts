/**
 * The README's quick start compiles: its `ts` block is read from README.md,
 * written to a temporary file inside the workspace (so `@baton/*` and
 * `@effect/platform-node` resolve as they do for a user of the packages) and
 * type-checked with the workspace's compiler options through the TypeScript
 * API. A broken copy of the snippet must fail the same check.
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..", "..", "..")

/** The first `ts` code block under the `## Quick start` heading. */
const quickStart = (): string => {
  const readme = readFileSync(join(root, "README.md"), "utf8")
  const section = readme.slice(readme.indexOf("## Quick start"))
  const block = /```ts\n([\s\S]*?)```/.exec(section)
  if (block?.[1] === undefined) throw new Error("README.md: no ts block under ## Quick start")
  return block[1]
}

const compilerOptions = (): ts.CompilerOptions => {
  const configPath = join(root, "tsconfig.base.json")
  const config = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path))
  return { ...ts.parseJsonConfigFileContent(config.config, ts.sys, root).options, noEmit: true }
}

/**
 * The compiler's diagnostics for each source, as modules of this package
 * checked in one program (one load of the packages' types), one line each.
 */
const diagnosticsOf = (sources: ReadonlyArray<string>): ReadonlyArray<ReadonlyArray<string>> => {
  const files = sources.map((source, i) => {
    const file = join(here, `.readme-quick-start-${process.pid}-${i}.ts`)
    writeFileSync(file, source)
    return file
  })
  try {
    const program = ts.createProgram(files, compilerOptions())
    return files.map((file) =>
      ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((diagnostic) =>
        ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")
      )
    )
  } finally {
    for (const file of files) rmSync(file, { force: true })
  }
}

describe("README", () => {
  it("the quick start type-checks against the packages, and a broken copy of it does not", () => {
    const snippet = quickStart()
    const [good, broken] = diagnosticsOf([snippet, snippet.replace("generateStructured(", "generateStructuredd(")])
    assert.deepStrictEqual(good, [])
    assert.isTrue(broken?.some((message) => message.includes("generateStructuredd")))
  }, 120_000)
})
