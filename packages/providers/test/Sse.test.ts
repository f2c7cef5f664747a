import { assert, describe, it } from "@effect/vitest"
import { Sse as EffectSse } from "effect/encoding"
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
  const decoder = Sse.make(1024 * 1024)
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

  it("counts an event's size as its data lines, each with its LF", () => {
    const encoded = (text: string) => new TextEncoder().encode(text)
    // 5 + 1 + 3 + 1 = 10 units of data
    assert.deepStrictEqual(Sse.make(10).feed(encoded("data: 12345\ndata: 678\n\n")), [
      { event: "message", data: "12345\n678" }
    ])
    assert.isString(Sse.make(9).feed(encoded("data: 12345\ndata: 678\n\n")))
    assert.deepStrictEqual(Sse.make(6).feed(encoded("data: 12345\n\n")), [{ event: "message", data: "12345" }])
    assert.isString(Sse.make(5).feed(encoded("data: 12345\n\n")))
    // an event still open when its chunk ends counts the same
    assert.isString(Sse.make(9).feed(encoded("data: 12345\ndata: 678\n")))
    assert.deepStrictEqual(Sse.make(10).feed(encoded("data: 12345\ndata: 678\n")), [])
  })

  it("strips two leading BOMs (UTF-8 decoding's, then the event stream's), one byte at a time too", () => {
    const body = new TextEncoder().encode("\uFEFF\uFEFFdata: a\n\n\uFEFFdata: b\n\n")
    const expected = [{ event: "message", data: "a" }]
    assert.deepStrictEqual(decodeAll([body]), expected)
    assert.deepStrictEqual(decodeAll(Array.from(body, (_, i) => body.subarray(i, i + 1))), expected)
  })

  it("decodes invalid UTF-8 the same however the bytes are split", () => {
    const next = random(20261204)
    // ASCII, LF, whole 2-, 3- and 4-byte characters' bytes, a stray continuation, invalid and overlong leads
    const bytes = Buffer.from("610ac3a9e282acf09f8c8d80c0c2e080edf490ff", "hex")
    for (let run = 0; run < 500; run++) {
      const body = Uint8Array.from(
        Array.from({ length: 1 + Math.floor(next() * 30) }, () => bytes[Math.floor(next() * bytes.length)] ?? 0)
      )
      const whole = Uint8Array.from([...new TextEncoder().encode("data: "), ...body, 0x0a, 0x0a])
      const chunks: Array<Uint8Array> = []
      for (let start = 0; start < whole.length;) {
        const end = Math.min(whole.length, start + 1 + Math.floor(next() * 4))
        chunks.push(whole.subarray(start, end))
        start = end
      }
      const reference = new TextDecoder().decode(whole).slice(6, -2).replaceAll(/\r\n?/g, "\n")
      const events = decodeAll(chunks)
      assert.deepStrictEqual(events, decodeAll([whole]), `run ${run}: ${body.join(",")}`)
      assert.strictEqual(events.map((event) => event.data).join(""), reference.split("\n")[0])
    }
  })
})

/**
 * A deterministic pseudo-random generator (mulberry32), so a failing case is
 * reproducible from its seed.
 */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const pieces = [
  "data: ",
  "data:",
  "data",
  "datax: ",
  "event: ",
  "event: ping",
  "event",
  ": comment",
  "x",
  "\u00e9",
  "\ud83c\udf0d",
  "{\"a\":1}",
  " ",
  ":",
  "\n",
  "\r\n",
  "\r",
  "\n\n",
  "\r\n\r\n",
  "id: 7",
  "retry: 10"
]

/** Events as Effect's own SSE parser reads the same text (retry and id ignored, as our adapters do). */
const referenceEvents = (text: string): Array<Sse.SseEvent> => {
  const events: Array<Sse.SseEvent> = []
  const parser = EffectSse.makeParser((event) => {
    if (event._tag === "Event") events.push({ event: event.event, data: event.data })
  })
  parser.feed(text)
  return events
}

describe("Sse matches Effect's parser", () => {
  it("on 2,000 random streams split at random points", () => {
    const next = random(20261125)
    for (let run = 0; run < 2_000; run++) {
      const length = 1 + Math.floor(next() * 40)
      const text = (next() < 0.1 ? "\uFEFF" : "") +
        Array.from({ length }, () => pieces[Math.floor(next() * pieces.length)]).join("")
      const encoded = new TextEncoder().encode(text)
      const chunks: Array<Uint8Array> = []
      let start = 0
      while (start < encoded.length) {
        const end = Math.min(encoded.length, start + Math.floor(next() * 8))
        chunks.push(encoded.subarray(start, end))
        start = end
      }
      assert.deepStrictEqual(decodeAll(chunks), referenceEvents(text), `run ${run}: ${JSON.stringify(text)}`)
    }
  })
})
