/**
 * Server-Sent Events framing for provider streams.
 *
 * A provider stream arrives as byte chunks split anywhere: inside a UTF-8
 * character, inside a line, between the CR and LF of a CRLF. `make` returns a
 * push decoder that turns each chunk into the complete events it finishes,
 * keeping the rest for the next chunk. Framing follows the WHATWG algorithm
 * through Effect's `Sse.makeParser`: `:` comment lines (`: keep-alive`) are
 * skipped, `data:` lines of one event are joined with `\n`, `event:` names
 * the event, and an event without a blank line after it when the body ends
 * is dropped (it was cut).
 */
import { Sse } from "effect/encoding"

/** One complete event: its name (`message` when unnamed) and its data. */
export interface SseEvent {
  readonly event: string
  readonly data: string
}

/** A push decoder: feed byte chunks, get the events they complete. */
export interface SseDecoder {
  /** The events completed by this chunk; a string when an event exceeds the size limit. */
  readonly feed: (chunk: Uint8Array) => ReadonlyArray<SseEvent> | string
}

/** A fresh decoder for one response body. */
export const make = (): SseDecoder => {
  const text = new TextDecoder()
  let events: Array<SseEvent> = []
  const parser = Sse.makeParser((event) => {
    if (event._tag === "Event") events.push({ event: event.event, data: event.data })
  })
  return {
    feed: (chunk) => {
      const error = parser.feed(text.decode(chunk, { stream: true }))
      if (error !== undefined) return error.message
      const out = events
      events = []
      return out
    }
  }
}
