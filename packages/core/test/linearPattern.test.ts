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
  "^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$",
  // lookarounds
  "(?=a)a",
  "(?!a)b",
  "(?<=a)b",
  "(?<!a)b",
  "(?=)",
  "(?!)",
  "(?<=)",
  "(?<!)",
  "a(?=b)",
  "a(?!b)",
  "(?<=a)",
  "(?<!a)$",
  "^(?!a)",
  "(?=a$)",
  "(?<=^a)b",
  "(?<!^)b",
  "(?<=a+)b",
  "(?<=^a*)b",
  "(?<!^a*)b",
  "(?<=^(?:ab)*)a",
  "(?<=ab|^)c",
  "(?<=\\bc)a",
  "\\b(?=\\w)",
  "(?<!\\w)cat(?!\\w)",
  "(?<=\\B)at",
  "\\b(?<=t)",
  "(?<=\\p{L})\\d",
  "(?<![a-z])\\d+(?![a-z])",
  "^(?=.{1,5}$)",
  "^(?=.*a)(?=.*b)",
  "(?=.*a)(?=.*b)",
  "^(?!.*(?:aa|bb))[ab]+$",
  "^(?=(a+)+$)",
  "x(?=y)|y(?<=xy)",
  "^(?:(?=a)\\w|(?!a)\\d)+$",
  "^(?:a(?=b)|b(?!a))+$",
  "(?:(?<=a)b)+",
  "^(?:(?<=a)b|a)*$",
  "^(?:(?=a)){2}a",
  "^(?:(?=a))*b",
  "^(?:a|(?=b))*b$",
  "(?=(?<=a)b)",
  "(?<=(?=a).)b",
  "(?<=(?<!b)a)c",
  "(?=a(?!b))",
  "(?=a(?=b(?=c)))",
  "(?<=(?<=a)b)c",
  "(?<=😀)x",
  "(?<=^.)x",
  "^.(?<=😀)",
  "(?=😀$)",
  "(?<!😀)x",
  "(?<=\\uD83D)",
  "(?=\\uDE00)",
  "(?<=\\uDE00)",
  "(?<=[😀-😂]{2})",
  "^(?=[\\s\\S]*😀)[\\s\\S]{2,3}$",
  // zod 4's `z.toJSONSchema` patterns (zod/v4/core/regexes.js) and a password rule
  /^(?=.{1,253}\.?$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[-0-9a-zA-Z]{0,61}[0-9a-zA-Z])?)*\.?$/
    .source,
  /^(?=.{1,253}$)([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/.source,
  /^[A-Z]{2}(?!00|01|99)\d{2}[A-Z0-9]{11,30}$/.source,
  /^P(?:(\d+W)|(?!.*W)(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+([.,]\d+)?S)?)?)$/.source,
  /^(?=[\s\S]*[\p{Extended_Pictographic}\p{Regional_Indicator}\u20E3])[\p{Extended_Pictographic}\p{Emoji_Component}]+$/u
    .source,
  "^(?=.*[A-Z])(?=.*\\d).{8,}$",
  "^(?=.*[a-z])(?=.*[A-Z])(?=.*\\d)(?=.*[^\\w\\s]).{8,}$"
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
  "256.1.1.1",
  "ba",
  "bab",
  "cab",
  "aaab",
  "abba",
  "abac",
  "bc",
  "ac",
  "aab c",
  "cat",
  "cat5",
  "x",
  "ax",
  "xy",
  "axy",
  "😀x",
  "a😀x",
  "😀😀x",
  "😀\ud83d",
  "\ud83d\ud83d\ude00",
  "\ude00",
  "\ude00\ude00",
  "😀😁😂",
  "a1 b2",
  "abcde",
  "abcdef",
  "password1",
  "Password1",
  "PASSWORD12",
  "Passw0rd!",
  "Short1A",
  "example.com",
  "sub.example.co.uk",
  "example.com.",
  "-bad.com",
  "localhost",
  "a..b",
  `${"h".repeat(63)}.com`,
  `${"h".repeat(64)}.com`,
  `${"h.".repeat(124)}com`,
  `${"h.".repeat(125)}com`,
  "GB82WEST12345698765432",
  "GB00WEST12345698765432",
  "GB99WEST12345698765432",
  "GB02WEST1234",
  "P1D",
  "PT1H30M",
  "P1W",
  "P1WT1H",
  "P",
  "PT",
  "P1Y2M3DT4H5M6.5S",
  "P1DT",
  "👍",
  "👍🏽",
  "🇫🇷",
  "#\ufe0f\u20e3",
  "123"
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

  it("answers in linear time with lookarounds where RegExp backtracks", () => {
    const long = "a".repeat(20_000)
    // exponential in a backtracking engine
    assert.isFalse(compiled("^(?=(a+)+$)").test(`${long}!`))
    assert.isTrue(compiled("^(?=(a+)+$)").test(long))
    assert.isTrue(compiled("(?<!^(a|a)*)!").test(`b${long}!`))
    // quadratic: every start position scans to the end
    assert.isFalse(compiled("(?=.*a)(?=.*b)").test(`${"c".repeat(20_000)}a`))
    assert.isTrue(compiled("(?=.*a)(?=.*b)").test(`${"c".repeat(20_000)}ab`))
    assert.isFalse(compiled("(?<=a.*)(?<=b.*)$").test(`a${"c".repeat(20_000)}`))
  })

  const refused: ReadonlyArray<readonly [string, string]> = [
    ["(a)\\1", "has a backreference"],
    ["(?<x>a)\\k<x>", "has a backreference"],
    ["(a", "is not a regular expression"],
    ["a{2,1}", "is not a regular expression"],
    ["(a{100}){100}", "instructions"],
    ["a{1000000000}", "instructions"],
    ["x{0,100000}", "instructions"],
    // each program is under the limit, all of them over it
    ["(?=a{900})(?=b{900})c{400}", "instructions"],
    [`${"(".repeat(100)}a${")".repeat(100)}`, "nests groups"],
    [`${"(?=".repeat(100)}a${")".repeat(100)}`, "nests groups"]
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

  it("a lookaround's table draws on the same budget, and one the budget cut short is not used", () => {
    const budget: LinearPattern.Budget = { left: 1_000 }
    // the main program costs a few steps a character; the lookbehind's, up to 50 threads at once
    const pattern = Result.getOrThrow(LinearPattern.compile("(?<=[a-z]{1,50})!", budget))
    assert.isTrue(pattern.test("abc!"))
    const long = `${"a".repeat(200)}!`
    assert.isFalse(pattern.test(long))
    assert.isAtMost(budget.left, 0)
    // with a new budget, the table is computed again, not read from the run that stopped halfway
    budget.left = 100_000
    assert.isTrue(pattern.test(long))
    assert.isBelow(budget.left, 100_000 - 200 * 50)
    // cut short, the table of this negative lookahead would hold at the start, where RegExp says it does not
    const negative = Result.getOrThrow(LinearPattern.compile("^(?!.*!)", budget))
    budget.left = 1_000
    assert.isFalse(negative.test(`!${"a".repeat(2_000)}`))
    budget.left = 100_000
    assert.isFalse(negative.test(`!${"a".repeat(2_000)}`))
    assert.isTrue(negative.test("a".repeat(2_000)))
  })

  it("an empty group repeated any number of times costs nothing to compile", () => {
    assert.isTrue(compiled("^(?:(?:){1000000000}){1000000000}a$").test("a"))
  })
})
