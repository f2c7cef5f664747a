/**
 * The linear-time matcher of a client's patterns (`internal/linearPattern.ts`,
 * under `StructuredOutput.fromJsonSchema(schema, { untrusted: true })`): it
 * says what `RegExp` with the `u` flag says, on every pattern it accepts, and
 * refuses what would need backtracking.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as LinearPattern from "../src/internal/linearPattern.ts"

const patterns = [
  "^[a-z]+$",
  "a+b",
  "abc",
  "",
  "^$",
  "^(a+)+$",
  "^(a|a)*$",
  "^(a|ab)(c|bcd)(d*)$",
  "colou?r",
  "^\\d{4}-\\d{2}-\\d{2}$",
  "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$",
  "x{2,3}y",
  "x{2,}",
  "x{0}y",
  "^(?:ab){2}$",
  "(?<word>[A-Z]\\w*)\\s",
  "\\bcat\\b",
  "\\Bat",
  "^.$",
  "^[\\s\\S]*$",
  "^\\p{Lu}\\p{Ll}+$",
  "^\\u{1F600}+$",
  "^\\uD83D\\uDE00$",
  "^😀.😀$",
  "^[😀-😂]$",
  "^\\x41\\u0042\\cJ?\\0?$",
  "^[\\]\\\\-]+$",
  "^(?:)*a$",
  "^(?:a*)*b$",
  "^(a?){3}a{3}$",
  "[]",
  "^[^]$",
  "a|b|",
  "^(?:(?:a|b)c|d)+$",
  "^(?:[A-Za-z0-9_'+\\-]+\\.)*[A-Za-z0-9_'+\\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$",
  "^(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|::)$",
  "^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$"
]

const inputs = [
  "",
  "a",
  "b",
  "ab",
  "aab",
  "aaaa",
  "aaaa!",
  "abcd",
  "abcdd",
  "color",
  "colour",
  "colouur",
  "2026-01-31",
  "2026-1-31",
  "mock@example.com",
  "a.b@c.de",
  "no at all",
  "xx",
  "xxxy",
  "xy",
  "y",
  "abab",
  "ababab",
  "Hello world",
  "the cat sat",
  "concatenate",
  "bat",
  "at",
  "\n",
  "é",
  "Éa",
  "Paris",
  "😀",
  "😀😀",
  "😀x😀",
  "😁",
  "\ud83d",
  "AB\n",
  "AB",
  "]\\-",
  "acdbc",
  "dd",
  "2001:db8:0:0:0:0:2:1",
  "::",
  "192.168.0.1",
  "256.1.1.1"
]

/** A budget no test here spends. */
const unbounded: LinearPattern.Budget = { left: Infinity }

const compiled = (source: string): LinearPattern.LinearPattern =>
  Result.getOrThrow(LinearPattern.compile(source, unbounded))

describe("LinearPattern", () => {
  it("agrees with RegExp (u flag) on every pattern and input", () => {
    for (const source of patterns) {
      const linear = compiled(source)
      const native = new RegExp(source, "u")
      for (const input of inputs) {
        assert.strictEqual(linear.test(input), native.test(input), `/${source}/u on ${JSON.stringify(input)}`)
      }
    }
  })

  it("answers in linear time where RegExp backtracks exponentially", () => {
    const long = "a".repeat(20_000)
    assert.isFalse(compiled("^(a+)+$").test(`${long}!`))
    assert.isTrue(compiled("^(a+)+$").test(long))
    assert.isFalse(compiled("^(a|a)*$").test(`${long}!`))
    assert.isFalse(compiled("^\\w*\\w*\\w*\\w*!").test(long))
    assert.isFalse(compiled("a+b").test(long))
  })

  const refused: ReadonlyArray<readonly [string, string]> = [
    ["(a)\\1", "has a backreference"],
    ["(?<x>a)\\k<x>", "has a backreference"],
    ["(?=a)a", "has a lookaround"],
    ["(?!a)b", "has a lookaround"],
    ["(?<=a)b", "has a lookaround"],
    ["(?<!a)b", "has a lookaround"],
    ["(a", "is not a regular expression"],
    ["a{2,1}", "is not a regular expression"],
    ["(a{100}){100}", "instructions"],
    ["a{1000000000}", "instructions"],
    ["x{0,100000}", "instructions"],
    [`${"(".repeat(100)}a${")".repeat(100)}`, "nests groups"]
  ]
  for (const [source, reason] of refused) {
    it(`refuses ${source.slice(0, 24)}: ${reason}`, () => {
      const result = LinearPattern.compile(source, unbounded)
      assert.isTrue(Result.isFailure(result))
      assert.include(Result.isFailure(result) ? result.failure : "", reason)
    })
  }

  it("a test draws on the budget, and says no once it is spent", () => {
    const budget: LinearPattern.Budget = { left: 1_000 }
    // unanchored: a thread starts at every position, and up to 50 of them run at once
    const pattern = Result.getOrThrow(LinearPattern.compile("[a-z]{1,50}!", budget))
    assert.isTrue(pattern.test("abc!"))
    assert.isBelow(budget.left, 1_000)
    assert.isFalse(pattern.test(`${"a".repeat(200)}!`))
    assert.isAtMost(budget.left, 0)
    assert.isFalse(pattern.test("abc!"))
  })

  it("an empty group repeated any number of times costs nothing to compile", () => {
    assert.isTrue(compiled("^(?:(?:){1000000000}){1000000000}a$").test("a"))
  })
})
