/**
 * Server-Sent Events framing for provider streams.
 *
 * A provider stream arrives as byte chunks split anywhere: inside a UTF-8
 * character, inside a line, between the CR and LF of a CRLF. `make` returns a
 * push decoder that turns each chunk into the complete events it finishes,
 * keeping the rest for the next chunk. Framing follows the WHATWG algorithm
 * (as Effect's `Sse.makeParser` does): lines end with LF, CR or CRLF, `:`
 * comment lines (`: keep-alive`) are skipped, `data:` lines of one event are
 * joined with `\n`, `event:` names the event, and an event without a blank
 * line after it when the body ends is dropped (it was cut). Lines are found
 * with `indexOf` on whole chunks, not character by character: this runs on
 * every byte of every stream. `id:` and `retry:` lines are skipped, as no
 * provider relies on reconnection.
 */

/** One complete event: its name (`message` when unnamed) and its data. */
export interface SseEvent {
  readonly event: string
  readonly data: string
}

/** A push decoder: feed byte chunks, get the events they complete. */
export interface SseDecoder {
  /** The events completed by this chunk; a string when an event exceeds `maxEventSize` (UTF-16 code units). */
  readonly feed: (chunk: Uint8Array) => ReadonlyArray<SseEvent> | string
}

const BOM = "\uFEFF"

/** A fresh decoder for one response body. */
export const make = (maxEventSize: number): SseDecoder => {
  const tooLarge = `an event exceeded the limit of ${maxEventSize} characters`
  // nothing decoded yet: UTF-8 decoding strips a BOM there, before the event stream's own
  let decoding = true
  // the start of a character the last chunk cut, decoded with the next
  let cutCharacter: Uint8Array | undefined
  let first = true
  // pieces of the unterminated line, joined once it ends
  let pending: Array<string> = []
  let pendingLength = 0
  // the previous chunk ended with a CR: a leading LF completes that CRLF
  let skipLf = false
  let eventName = ""
  let data = ""
  // an event completed within one chunk went over the limit
  let oversized = false

  const line = (events: Array<SseEvent>, value: string): void => {
    if (value.length === 0) {
      if (data.length > maxEventSize) oversized = true
      else if (data.length > 0) {
        events.push({ event: eventName === "" ? "message" : eventName, data: data.slice(0, -1) })
      }
      eventName = ""
      data = ""
      return
    }
    const colon = value.indexOf(":")
    const field = colon < 0 ? value : value.slice(0, colon)
    if (field === "data") data += fieldValue(value, colon) + "\n"
    else if (field === "event") eventName = fieldValue(value, colon)
  }

  return {
    feed: (input) => {
      const bytes = cutCharacter === undefined ? input : joined(cutCharacter, input)
      const whole = wholeLength(bytes)
      cutCharacter = whole === bytes.length ? undefined : bytes.slice(whole)
      let chunk = utf8.decode(whole === bytes.length ? bytes : bytes.subarray(0, whole))
      if (decoding && chunk.length > 0) {
        decoding = false
        if (chunk.startsWith(BOM)) chunk = chunk.slice(BOM.length)
      }
      if (chunk.length === 0) return []
      if (first && chunk.startsWith(BOM)) chunk = chunk.slice(BOM.length)
      first = false
      const events: Array<SseEvent> = []
      const length = chunk.length
      let position = 0
      let lf = -1
      let cr = -1
      if (skipLf && chunk.charCodeAt(0) === LF) position = 1
      skipLf = false
      while (position < length) {
        if (lf !== -2 && lf < position) lf = orNone(chunk.indexOf("\n", position))
        if (cr !== -2 && cr < position) cr = orNone(chunk.indexOf("\r", position))
        const end = lf === -2 ? cr : cr === -2 ? lf : Math.min(lf, cr)
        if (end === -2) {
          pending.push(chunk.slice(position))
          pendingLength += length - position
          break
        }
        let value = chunk.slice(position, end)
        if (pending.length > 0) {
          pending.push(value)
          value = pending.join("")
          pending = []
          pendingLength = 0
        }
        line(events, value)
        position = end + 1
        if (end === cr) {
          if (position === length) skipLf = true
          else if (chunk.charCodeAt(position) === LF) position++
        }
      }
      if (oversized || pendingLength + data.length > maxEventSize) {
        oversized = false
        first = true
        pending = []
        pendingLength = 0
        skipLf = false
        eventName = ""
        data = ""
        return tooLarge
      }
      return events
    }
  }
}

const LF = 10

/**
 * UTF-8 decoding of whole characters, shared by every stream: no state, and
 * Node's one-shot path, cheaper per chunk than a `stream: true` decoder per
 * stream (bench: about 3% of a streamed call). `make` strips the BOM.
 */
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true })

/**
 * The length of `bytes` up to the character its last bytes begin but do not
 * finish (a lead byte without all its continuation bytes), which waits for
 * the next chunk; all of it when it ends on a whole character.
 */
const wholeLength = (bytes: Uint8Array): number => {
  const length = bytes.length
  for (let back = 1; back <= 3 && back <= length; back++) {
    const byte = bytes[length - back] ?? 0
    if (byte < 0x80) return length
    // a lead byte (C2-F4; any other is no character's start and decodes as it is)
    if (byte >= 0xC0) return byte >= 0xC2 && byte <= 0xF4 && leadLength(byte) > back ? length - back : length
  }
  return length
}

/** The bytes of the character lead byte `byte` begins. */
const leadLength = (byte: number): number => byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2

/** `start` and then `rest`, in one new array. */
const joined = (start: Uint8Array, rest: Uint8Array): Uint8Array => {
  const bytes = new Uint8Array(start.length + rest.length)
  bytes.set(start)
  bytes.set(rest, start.length)
  return bytes
}

/** `-2` for "none left in this chunk" (`-1` means "not searched yet"). */
const orNone = (index: number): number => index < 0 ? -2 : index

/** The value after `field:`, without the one optional space. */
const fieldValue = (value: string, colon: number): string =>
  colon < 0 ? "" : value.slice(value.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1)
