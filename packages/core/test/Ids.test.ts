import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as Ids from "../src/Ids.ts"

/** The providers' model ids of late 2026 (shared/providers.md), with a fine-tuned OpenAI id and a tuned Gemini one. */
const realModelIds = [
  "deepseek-flash",
  "deepseek-v4-pro",
  "deepseek-v4-flash",
  "gemini-2.5-flash",
  "gemini-2.5-flash-lite",
  "gemini-3.5-flash",
  "gemini-3.8-flash",
  "gpt-4o-mini",
  "gpt-4.1",
  "gpt-5-mini",
  "gpt-5.4-mini",
  "gpt-5.6-luna",
  "gpt-6-sol",
  "claude-haiku-4-5",
  "claude-sonnet-4-6",
  "claude-sonnet-5-5",
  "ft:gpt-4o-mini-2024-07-18:my-org:quiz-grader:9xYz1234",
  "tunedModels/quiz-grader-3f7a2b9c1d"
]

describe("ModelId", () => {
  it("takes every real model id, all well under the cap", () => {
    for (const id of realModelIds) {
      assert.isTrue(Schema.is(Ids.ModelId)(id), id)
      assert.isAtMost(id.length, 64, id)
    }
  })

  it("is at most 256 characters: a longer one is refused with a message that does not repeat it", () => {
    assert.isTrue(Schema.is(Ids.ModelId)("m".repeat(256)))
    for (const length of [257, 1_000_000]) {
      const exit = Schema.decodeUnknownExit(Ids.ModelId)("m".repeat(length))
      assert.isTrue(exit._tag === "Failure", `${length} characters`)
      const message = String(exit)
      assert.include(message, "a model id is at most 256 characters")
      assert.isBelow(message.length, 1_000, "the value is not repeated in the message")
    }
  })

  it("still refuses a blank id, outer spaces and control characters", () => {
    for (const id of ["", "   ", " gpt-4.1", "gpt-4.1 ", "gpt\n4", "gpt-4.1\u0007", "\u001bgpt", "\u0000"]) {
      assert.isFalse(Schema.is(Ids.ModelId)(id), JSON.stringify(id))
    }
  })
})

describe("SubjectId", () => {
  it("takes an emoji at either end, a flag of tag characters or one joined by ZWJ included", () => {
    const england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}"
    for (const id of [`team-${england}`, `${england}-team`, "class-\u{1F469}\u200D\u{1F3EB}", "t\u00ADeam"]) {
      assert.isTrue(Schema.is(Ids.SubjectId)(id), JSON.stringify(id))
    }
  })

  it("refuses an invisible format character at either end", () => {
    for (const id of ["t-1\u200B", "\uFEFFt-1", "t-1\u2060", "\u200Dt-1", "t-1\u00AD"]) {
      assert.isFalse(Schema.is(Ids.SubjectId)(id), JSON.stringify(id))
    }
  })
})
