import { assert, describe, it } from "@effect/vitest"
import * as Sse from "../src/internal/sse.ts"

const stream = [
  ": keep-alive\r\n",
  "\r\n",
  "data: {\"a\":\"caf\u00e9 \ud83c\udf0d\"}\r\n",
  "\r\n",
  "event: message_delta\n",
  "data: line one\n",
  "data: line two\n",
  "\n",
  ": OPENROUTER PROCESSING\n",
  "data:no-space\r",
  "\r",
  "data: [DONE]\n",
  "\n",
  "data: cut before its blank line"
].join("")

const expected: ReadonlyArray<Sse.SseEvent> = [
  { event: "message", data: "{\"a\":\"caf\u00e9 \ud83c\udf0d\"}" },
  { event: "message_delta", data: "line one\nline two" },
  { event: "message", data: "no-space" },
  { event: "message", data: "[DONE]" }
]

const bytes = new TextEncoder().encode(stream)

const decodeAll = (chunks: ReadonlyArray<Uint8Array>): Array<Sse.SseEvent> => {
  const decoder = Sse.make()
  const events: Array<Sse.SseEvent> = []
  for (const chunk of chunks) {
    const out = decoder.feed(chunk)
    if (typeof out === "string") return assert.fail(out)
    events.push(...out)
  }
  return events
}

describe("Sse", () => {
  it("decodes comments, CRLF, CR, multi-line data and named events, dropping a cut last event", () => {
    assert.deepStrictEqual(decodeAll([bytes]), expected)
  })

  it("gives the same events however the bytes are split in two", () => {
    for (let at = 0; at <= bytes.length; at++) {
      assert.deepStrictEqual(decodeAll([bytes.subarray(0, at), bytes.subarray(at)]), expected, `split at ${at}`)
    }
  })

  it("gives the same events one byte at a time (UTF-8 characters split across chunks)", () => {
    const single = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))
    assert.deepStrictEqual(decodeAll(single), expected)
  })
})
