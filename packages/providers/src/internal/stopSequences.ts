/**
 * Stop sequences Baton applies itself, those a codec does not send
 * (`Codec.unsentStop`: all of them for OpenAI's o3, o4-mini and gpt-5, which
 * answer `stop` with a 400; on Anthropic those of whitespace alone, which it
 * refuses): the answer is what the provider would have given, the text up
 * to, not including, the stop sequence that ends first.
 *
 * A plain answer is cut once ({@link cut}). A stream is cut as it comes
 * ({@link make}): only the end of the text so far that could begin a stop
 * sequence (at most the longest one's length less one) is held back, the
 * rest goes on at once; the held end goes on when the next text shows it
 * begins none, or when the stream ends. Once a stop sequence is found,
 * nothing after it is handed on.
 */

/**
 * Where the stop sequence in `text` that ends first starts, or -1: a model
 * stops as soon as one is complete, so of `["\nUser:", "User"]` in
 * `"q\nUser: hi"` it is `"User"` (the answer `"q\n"`), however the text
 * came in pieces; of two ending at the same place, the longer.
 */
const indexIn = (text: string, stops: ReadonlyArray<string>): number => {
  let start = -1
  let end = Number.POSITIVE_INFINITY
  for (const stop of stops) {
    const at = text.indexOf(stop)
    if (at === -1) continue
    const ends = at + stop.length
    if (ends < end || (ends === end && at < start)) {
      start = at
      end = ends
    }
  }
  return start
}

/** `text` up to the first stop sequence in it, or `undefined` when none occurs. */
export const cut = (text: string, stops: ReadonlyArray<string>): string | undefined => {
  const at = indexIn(text, stops)
  return at === -1 ? undefined : text.slice(0, at)
}

/** The length of the longest end of `text` that begins a stop sequence, at most `longest - 1`. */
const openEnd = (text: string, stops: ReadonlyArray<string>, longest: number): number => {
  for (let length = Math.min(text.length, longest - 1); length > 0; length--) {
    const end = text.slice(text.length - length)
    if (stops.some((stop) => stop.startsWith(end))) return length
  }
  return 0
}

/** The cut of one stream: fed its text delta by delta. */
export const make = (stops: ReadonlyArray<string>) => {
  const longest = Math.max(...stops.map((stop) => stop.length))
  // the end of the text so far that could begin a stop sequence
  let held = ""
  let found = false
  // the text from the stop sequence on, of the delta that completed it
  let dropped = ""
  return {
    /** The text to hand on for a delta: all but an end that could begin a stop sequence, up to one found. */
    text: (text: string): string => {
      const joined = held + text
      const at = indexIn(joined, stops)
      if (at !== -1) {
        found = true
        held = ""
        dropped = joined.slice(at)
        return joined.slice(0, at)
      }
      const keep = openEnd(joined, stops, longest)
      held = joined.slice(joined.length - keep)
      return joined.slice(0, joined.length - keep)
    },
    /** Whether a stop sequence was found: the answer ends before it. */
    found: (): boolean => found,
    /** The text the cut left out of the delta that completed the stop sequence (the sequence and what followed). */
    dropped: (): string => dropped,
    /** The end held back, to hand on as the stream ends. */
    flush: (): string => {
      const text = held
      held = ""
      return text
    }
  }
}

/** The cut of one stream. */
export type StopSequences = ReturnType<typeof make>
