/**
 * The variables' table in `LlmConfig`'s module header and the one in the
 * README's "Environment variables" agree: the same variables, and for a row
 * both tables write alike, the same default. (Their meanings are read by
 * people: the README may say more.)
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))

/** The rows of the first markdown table in `lines`: cells, trimmed, for each row whose first cell names a variable. */
const rows = (lines: ReadonlyArray<string>): ReadonlyArray<ReadonlyArray<string>> =>
  lines.filter((line) => line.startsWith("| `")).map((line) =>
    line.slice(1, line.lastIndexOf("|")).split(" | ").map((cell) => cell.trim())
  )

/** The variables a first cell names; `_MODEL` after `LLM_COMPAT_<NAME>_BASE_URL` is `LLM_COMPAT_<NAME>_MODEL`. */
const variables = (cell: string): ReadonlyArray<string> => {
  const names = [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? "")
  const prefix = (names[0] ?? "").replace(/(?:_[A-Z]+)+$/, "")
  return names.map((name) => name.startsWith("_") ? `${prefix}${name}` : name)
}

const moduleTable = () =>
  rows(
    readFileSync(join(here, "..", "src", "LlmConfig.ts"), "utf8").split("\n").map((line) => line.replace(/^ \* /, ""))
  )

const readmeTable = () => {
  const readme = readFileSync(join(here, "..", "..", "..", "README.md"), "utf8")
  const section = readme.slice(readme.indexOf("## Environment variables"))
  return rows(section.slice(0, section.indexOf("\n## ")).split("\n"))
}

describe("LlmConfig's table of variables", () => {
  it("names the variables the README's names", () => {
    const names = (table: ReadonlyArray<ReadonlyArray<string>>) =>
      table.flatMap((row) => variables(row[0] ?? "")).sort()
    assert.isAbove(moduleTable().length, 30)
    assert.deepStrictEqual(names(moduleTable()), names(readmeTable()))
  })

  it("gives the defaults the README gives", () => {
    const readme = new Map(readmeTable().map((row) => [row[0], row[1]]))
    for (const [variable, fallback] of moduleTable()) {
      if (!readme.has(variable)) continue
      assert.strictEqual(readme.get(variable), fallback, variable)
    }
  })
})
