/**
 * Stream events that repeat the one before them but for their text.
 *
 * A chat-completions stream sends one JSON object per token, and from one
 * token to the next most providers change nothing in it but the text: the
 * id, the model, the creation time and the nulls stay as they were (an
 * Anthropic `content_block_delta` changes only its `text` too). Parsing
 * every event whole is most of what a stream costs per token. A template
 * keeps such an event's JSON around its text's string literal. An event made
 * of the same JSON around another string literal is the same object with
 * another text, so its text is read from that literal alone. Nothing else is
 * assumed: an event that differs anywhere else, or whose middle is not
 * exactly one JSON string literal, is not read here and gets parsed whole.
 *
 * A template is found by scanning a text-only event whose text is not the
 * marker below, and used only once the event, parsed with a marker in place
 * of its literal, reads as a text-only event whose text is the marker. The
 * two parses differ only in that literal and give different texts, so the
 * literal is the text's (the last of duplicate keys included), and the
 * event carries nothing else the decoder would act on. The check waits for
 * the first event that fits, so a stream whose events all differ (OpenAI's
 * chunks carry a random `obfuscation` field by default) parses nothing twice.
 */
import * as Json from "./json.ts"
import type { SseEvent } from "./sse.ts"

/**
 * An event's JSON before and after its text's string literal, found by
 * scanning an event; checked (with one parse) the first time another event
 * fits it.
 */
interface Template {
  readonly prefix: string
  readonly suffix: string
  checked: "not yet" | "yes" | "refused"
}

/** The text a marked event must read as (a NUL no provider sends, and the name). */
const marker = "\u0000baton"
const markerLiteral = JSON.stringify(marker)

/** Whether `text` holds, between `from` and `to`, no quote, backslash or control character: nothing to unescape. */
const unescaped = (text: string, from: number, to: number): boolean => {
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i)
    if (code === 34 || code === 92 || code < 32) return false
  }
  return true
}

/** The string `middle` is the JSON literal of, or `undefined` when it is not exactly one string literal. */
const literal = (middle: string): string | undefined => {
  const last = middle.length - 1
  if (last < 1 || middle.charCodeAt(0) !== 34 || middle.charCodeAt(last) !== 34) return undefined
  if (unescaped(middle, 1, last)) return middle.slice(1, last)
  const parsed = Json.parse(middle)
  return typeof parsed === "string" ? parsed : undefined
}

/** The position of the quote that closes the string literal whose characters start at `from`, or -1. */
const closingQuote = (text: string, from: number): number => {
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === 92) i++
    else if (code === 34) return i
  }
  return -1
}

/**
 * The template of `data`, an event whose text (as parsing it whole gave)
 * is `text` and whose only `opener` (`"<key>":"`) opens a string literal; unchecked.
 * `undefined` when the key is missing or repeated, or when `text` is the
 * marker (the check must tell the event's own text from the marker's). When
 * `previous` has the same prefix and suffix it is kept, checked or refused.
 * Scanning only: no event is parsed until another one fits.
 */
const templateOf = (data: string, opener: string, text: string, previous?: Template): Template | undefined => {
  const at = data.indexOf(opener)
  if (text === marker || at === -1 || data.indexOf(opener, at + 1) !== -1) return undefined
  const start = at + opener.length - 1
  const end = closingQuote(data, start + 1)
  if (end === -1) return undefined
  const prefix = data.slice(0, start)
  const suffix = data.slice(end + 1)
  return previous?.prefix === prefix && previous.suffix === suffix ? previous : { prefix, suffix, checked: "not yet" }
}

/**
 * The text of `data` when it is `template` around another string literal,
 * else `undefined` (parse it whole). `read` is the codec's reading of a
 * text-only event (its text, `undefined` for any other event): the first time
 * an event fits, the template is checked by reading it with a marker in
 * place of the text, which must read as the marker.
 */
const textOf = (
  template: Template,
  data: string,
  read: (json: unknown) => string | undefined
): string | undefined => {
  const { prefix, suffix } = template
  const end = data.length - suffix.length
  // compared as slices: `startsWith` walks a long prefix character by character (bench/README.md, "Repeated chunks")
  if (
    template.checked === "refused" || end < prefix.length + 2 || data.slice(end) !== suffix ||
    data.slice(0, prefix.length) !== prefix
  ) {
    return undefined
  }
  const text = literal(data.slice(prefix.length, end))
  if (text === undefined || template.checked === "yes") return text
  template.checked = read(Json.parse(prefix + markerLiteral + suffix)) === marker ? "yes" : "refused"
  return template.checked === "yes" ? text : undefined
}

/** What a codec's text-only events look like. */
export interface Shape {
  /** The SSE event name a repeated event is read under (others are parsed whole). */
  readonly event: string
  /** The key whose string literal holds the text. */
  readonly key: string
  /**
   * The text of a text-only event, `undefined` for any other: it must rule
   * out every event the decoder acts on beyond its text.
   */
  readonly read: (json: unknown) => string | undefined
}

/** One stream's reading of its repeated events: it keeps the last text-only event's template. */
export interface Reader {
  /** The text of `event` read from the template, or `undefined`: parse it whole and hand it to `fromParsed`. */
  readonly fromTemplate: (event: SseEvent) => string | undefined
  /** The text of `json` (`event` parsed whole) when it is text-only, its template kept; else `undefined`. */
  readonly fromParsed: (event: SseEvent, json: unknown) => string | undefined
}

/** A {@link Reader} for a new stream of events shaped as `shape` says. */
export const make = (shape: Shape): Reader => {
  const opener = `"${shape.key}":"`
  let last: Template | undefined
  return {
    fromTemplate: (event) =>
      last === undefined || event.event !== shape.event ? undefined : textOf(last, event.data, shape.read),
    fromParsed: (event, json) => {
      const text = shape.read(json)
      if (text !== undefined) last = templateOf(event.data, opener, text, last)
      return text
    }
  }
}
