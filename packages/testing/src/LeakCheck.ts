/**
 * Everything a program let out, for tests that prove a secret or a prompt
 * never leaks.
 *
 * `LeakCheck.make()` gives a `Logger` and a `Tracer` that record every log
 * line (its text, the JSON of every logged value, its cause pretty-printed)
 * and every span (its name, attributes, events, and the cause it failed
 * with, which an OTLP exporter sends as an `exception` event); wrap the
 * program under test with `capture` (logs also become events of their span,
 * as under Effect's default loggers), add the errors it returned with
 * `addErrors` (their message, `String`, JSON and pretty cause are all kept),
 * then assert on `texts()`: one string per line, error rendering, span name,
 * attribute, event and failure.
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
import { Cause, Effect, Exit, Formatter, Logger, Tracer } from "effect"

/**
 * A recorder of logs, spans and errors.
 *
 * @since 0.1.0
 */
export interface LeakCheck {
  /** Runs an effect with the recording logger (replacing the others, Effect's span-event logger kept) and tracer. */
  readonly capture: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Keeps every rendering of these errors. */
  readonly addErrors: (errors: ReadonlyArray<unknown>) => void
  /**
   * Every log line, error rendering, span name (`span <name>`), attribute
   * (`key=value`), event (`event <name> <attributes>`) and failure (its
   * cause pretty-printed) seen so far, with every string they hold as
   * written (unescaped).
   */
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

/**
 * Every string in `value`, as written (JSON and other renderings escape a
 * quote or a line break, so a prompt holding one would not be found there):
 * itself, an error's message, and those of its fields and items, a few
 * levels down.
 */
const strings = (value: unknown, depth = 4, seen = new Set<object>()): ReadonlyArray<string> => {
  if (typeof value === "string") return [value]
  if (typeof value !== "object" || value === null || depth === 0 || seen.has(value)) return []
  seen.add(value)
  const own = Object.values(value).flatMap((part) => strings(part, depth - 1, seen))
  return value instanceof Error ? [value.message, ...own] : own
}

const renderings = (error: unknown): ReadonlyArray<string> => [
  error instanceof Error ? error.message : "",
  String(error),
  json(error),
  Cause.pretty(Cause.fail(error)),
  ...strings(error)
]

/** A cause pretty-printed, and every rendering of each error and defect in it (pretty-printing shows no fields). */
const causeTexts = (cause: Cause.Cause<unknown>): ReadonlyArray<string> => [
  Cause.pretty(cause),
  ...cause.reasons.flatMap((reason) =>
    reason._tag === "Fail" ? renderings(reason.error) : reason._tag === "Die" ? renderings(reason.defect) : []
  )
]

/** What a span lets out: its name, attributes, events (as an exporter renders them, and every string in them) and the cause it ended with. */
const spanTexts = (span: Tracer.NativeSpan): ReadonlyArray<string> => [
  `span ${span.name}`,
  ...[...span.attributes.entries()].flatMap(([key, value]) => [`${key}=${Formatter.format(value)}`, ...strings(value)]),
  ...span.events.flatMap((
    [name, , attributes]
  ) => [`event ${name} ${Formatter.format(attributes)}`, ...strings(attributes)]),
  ...(span.status._tag === "Ended" && Exit.isFailure(span.status.exit) ? causeTexts(span.status.exit.cause) : [])
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
    lines.push(
      [Logger.formatSimple.log(options), ...items.map(json), ...causeTexts(options.cause), ...strings(items)].join(" ")
    )
  })
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return {
    capture: (self) =>
      self.pipe(Effect.provide(Logger.layer([logger, Logger.tracerLogger])), Effect.withTracer(tracer)),
    addErrors: (more) => {
      for (const error of more) errors.push(...renderings(error))
    },
    texts: () => [
      ...lines,
      ...errors,
      ...spans.flatMap(spanTexts)
    ],
    counts: () => ({ lines: lines.length, spans: spans.length })
  }
}
