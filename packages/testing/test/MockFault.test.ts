import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as MockFault from "../src/MockFault.ts"

describe("MockFault.parse", () => {
  const cases: ReadonlyArray<readonly [string, MockFault.MockFault]> = [
    ["status=503;shouldRetry=false", MockFault.status(503, { shouldRetry: "false" })],
    ["status=429;retryAfter=2;message=slow%20down", MockFault.status(429, { retryAfter: "2", message: "slow down" })],
    ["rateLimited", MockFault.rateLimited()],
    ["rateLimited;retryAfter=5", MockFault.rateLimited({ retryAfter: "5" })],
    ["quotaExhausted", MockFault.quotaExhausted],
    ["contextLengthExceeded", MockFault.contextLengthExceeded],
    ["contentFilter", MockFault.contentFilter],
    ["contentFilter;after=3", MockFault.contentFilterAfter(3)],
    ["contentFilter;refusal=I%20can%27t", MockFault.refusal("I can't")],
    ["contentFilter;after=2;refusal=No", MockFault.refusal("No", { after: 2 })],
    ["resourceStop", MockFault.resourceStop],
    ["latency=250", MockFault.latency(250)],
    ["noResponse", MockFault.noResponse],
    ["slowFirstToken=10", MockFault.slowFirstToken(10)],
    ["stallMidStream=20", MockFault.stallMidStream(20)],
    ["stallMidStream=forever", MockFault.stallMidStream("forever")],
    ["stallMidStream=forever;after=end", MockFault.stallMidStream("forever", { after: "end" })],
    ["stallMidStream=30;after=2", MockFault.stallMidStream(30, { after: 2 })],
    ["slowTokens=5;content=a%20b", MockFault.slowTokens(5, { content: "a b" })],
    ["cutStream;after=3", MockFault.cutStreamAfter(3)],
    ["cutStream;after=end", MockFault.cutStreamAfter("end")],
    ["malformedEvent;after=2", MockFault.malformedEventAfter(2)],
    ["resetBeforeHeaders", MockFault.resetBeforeHeaders],
    ["notJson", MockFault.notJson],
    ["wrongShape", MockFault.wrongShape],
    ["illTyped", MockFault.illTyped],
    ["cutStream", MockFault.cutStream],
    ["malformedEvent", MockFault.malformedEvent],
    ["noTerminator", MockFault.noTerminator],
    ["oversized=1048576", MockFault.oversized(1048576)],
    ["oversized=forever", MockFault.oversized("forever")],
    ["noUsage", MockFault.noUsage],
    ["rejectPrefill", MockFault.rejectPrefill],
    ["content=a%3Db%3Bc", MockFault.content("a=b;c")]
  ]

  it("reads every fault of the catalogue", () => {
    assert.strictEqual(cases.length - 12, MockFault.names.length)
    for (const [text, fault] of cases) {
      const result = MockFault.parse(text)
      assert.isTrue(Result.isSuccess(result), text)
      if (Result.isSuccess(result)) assert.deepStrictEqual(result.success, fault)
    }
  })

  const failures: ReadonlyArray<readonly [string, string]> = [
    ["explode", "unknown fault \"explode\""],
    ["status", "status needs an HTTP status code"],
    ["status=99", "status needs an HTTP status code"],
    ["latency", "latency needs a whole number of milliseconds"],
    ["latency=-1", "latency needs a whole number of milliseconds"],
    ["noUsage=1", "noUsage takes no value"],
    ["status=503;retry=2", "unknown option \"retry\" for status; accepted options: retryAfter, message"],
    ["cutStream;x=1", "accepted options: after"],
    ["cutStream;after=x", "after needs a whole number of text events or end"],
    ["cutStream=1", "cutStream takes no value"],
    ["contentFilter;after=x", "after needs a whole number of text events"],
    ["contentFilter=1", "contentFilter takes no value"],
    ["stallMidStream=forever;after=soon", "after needs a whole number of text events or end"],
    ["content", "content needs the reply text"],
    ["content=a;b", "unknown option \"b\" for content"],
    ["content=%E0%A4%A", "not valid percent-encoding"]
  ]

  it("rejects bad input with a message saying what is accepted", () => {
    for (const [text, message] of failures) {
      const result = MockFault.parse(text)
      assert.isTrue(Result.isFailure(result), text)
      if (Result.isFailure(result)) {
        assert.strictEqual(result.failure._tag, "MockFaultParseError")
        assert.include(result.failure.message, message)
      }
    }
  })
})
