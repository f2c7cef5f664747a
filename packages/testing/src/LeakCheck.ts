/**
 * Everything a program let out, for tests that prove a secret or a prompt
 * never leaks.
 *
 * `LeakCheck.make()` gives a `Logger` and a `Tracer` that record every log
 * line (its text, the JSON of every logged value, its cause pretty-printed)
 * and every span; wrap the program
 * under test with `capture`, add the errors it returned with `addErrors`
 * (their message, `String`, JSON and pretty cause are all kept), then assert
 * on `texts()`: one string per line, error rendering and span attribute.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as LeakCheck from "@baton/testing/LeakCheck"
 *
 * const check = LeakCheck.make()
 * const program = Effect.logInfo("hello").pipe(Effect.withSpan("work"), check.capture)
 * // after running it: check.texts().some((text) => text.includes("sk-...")) === false
 * ```
 *
 * @since 0.1.0
 */
import { Cause, Effect, Logger, Tracer } from "effect"

/**
 * A recorder of logs, spans and errors.
 *
 * @since 0.1.0
 */
export interface LeakCheck {
  /** Runs an effect with the recording logger (replacing the others) and tracer. */
  readonly capture: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Keeps every rendering of these errors. */
  readonly addErrors: (errors: ReadonlyArray<unknown>) => void
  /** Every log line, error rendering and span attribute (`key=value`) seen so far. */
  readonly texts: () => ReadonlyArray<string>
  /** How many log lines and spans were recorded (to check the capture worked). */
  readonly counts: () => { readonly lines: number; readonly spans: number }
}

/** JSON of a logged value (an error's fields included), or why there is none. */
const json = (value: unknown): string => {
  try {
    return JSON.stringify(value)
  } catch (error) {
    return `(not JSON: ${String(error)})`
  }
}

const renderings = (error: unknown): ReadonlyArray<string> => [
  error instanceof Error ? error.message : "",
  String(error),
  json(error),
  Cause.pretty(Cause.fail(error))
]

/**
 * A fresh recorder.
 *
 * @since 0.1.0
 */
export const make = (): LeakCheck => {
  const lines: Array<string> = []
  const errors: Array<string> = []
  const spans: Array<Tracer.NativeSpan> = []
  const logger = Logger.make((options) => {
    const items: ReadonlyArray<unknown> = Array.isArray(options.message) ? options.message : [options.message]
    lines.push([Logger.formatSimple.log(options), ...items.map(json), Cause.pretty(options.cause)].join(" "))
  })
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return {
    capture: (self) => self.pipe(Effect.provide(Logger.layer([logger])), Effect.withTracer(tracer)),
    addErrors: (more) => {
      for (const error of more) errors.push(...renderings(error))
    },
    texts: () => [
      ...lines,
      ...errors,
      ...spans.flatMap((span) => [...span.attributes.entries()].map(([key, value]) => `${key}=${String(value)}`))
    ],
    counts: () => ({ lines: lines.length, spans: spans.length })
  }
}
