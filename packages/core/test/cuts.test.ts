/**
 * Where `Redact.scrub` looks for a prefix of a configured secret
 * (`internal/cuts.ts`): the end of the text, a truncation marker, and a run
 * of `*` only where the characters before it may end such a prefix, so
 * Markdown's `**bold**` and `*emphasis*` are not searched run by run.
 */
import { assert, describe, it } from "@effect/vitest"
import { cutsOf } from "../src/internal/cuts.ts"

const key = "sk-CANARY-1234567890"

describe("cutsOf", () => {
  it("a Markdown text's runs of * are no cuts: only its end is", () => {
    const markdown = "## Step **one**: write *clear* prose, then ***bold*** the terms.\n- item **x** and *y*\n".repeat(
      20
    )
    assert.deepStrictEqual(cutsOf(markdown, [key]), [markdown.length])
  })

  it("a mask after a secret's first characters is a cut, as a marker and the end are", () => {
    const masked = `Incorrect API key provided: ${key.slice(0, 9)}****7890. See **docs**...[12 more characters]`
    assert.deepStrictEqual(cutsOf(masked, [key]), [
      masked.indexOf("****"),
      masked.indexOf("...["),
      masked.length
    ])
  })
})
