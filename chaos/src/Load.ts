/**
 * The load of a chaos run: `requests` calls through `LlmManager` at a fixed
 * concurrency, `generate`, `generateStructured` and `stream` in turn, each
 * with a deadline, spread over many subjects; every call's outcome is kept.
 *
 * @since 0.1.0
 */
import type * as LlmManager from "@baton/core/LlmManager"
import { Cause, Effect, Exit, Option, Schema, Stream } from "effect"

/**
 * How a call was made.
 *
 * @since 0.1.0
 */
export type Mode = "generate" | "structured" | "stream"

/**
 * How one call ended.
 *
 * @since 0.1.0
 */
export interface Outcome {
  readonly requestId: string
  readonly subjectId: string
  readonly mode: Mode
  /** `"success"`, the typed error's tag, `"defect"` or `"interrupted"`. */
  readonly tag: string
  /** The attempts the result or the error listed (a stream's `Finish` lists none). */
  readonly attempts: number | undefined
  readonly latencyMs: number
  /** The defect's text, for a call that died. */
  readonly defect?: string | undefined
}

/**
 * The shape of a load.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly requests: number
  readonly concurrency: number
  /** Each request's deadline (`options.timeout`). */
  readonly timeoutMs: number
  /** Prefix of the request ids, unique per run. */
  readonly runId: string
  /** The subject a request spends quota of (it may change as the run goes). */
  readonly subject: (index: number) => string
  /** Calls started per second (an open-loop arrival rate, so fast failures do not rush the run); default: as fast as the concurrency allows. */
  readonly ratePerSecond?: number | undefined
  /** Called as each call ends, with the number ended so far. */
  readonly onSettled?: ((settled: number) => void) | undefined
}

const Answer = Schema.Struct({ answer: Schema.String })

const modes: ReadonlyArray<Mode> = ["generate", "structured", "stream"]

const attemptsOf = (value: unknown): number | undefined =>
  typeof value === "object" && value !== null && "attempts" in value && Array.isArray(value.attempts)
    ? value.attempts.length
    : undefined

const drain = (stream: Stream.Stream<unknown, unknown>) =>
  Stream.runFold(stream, () => false, (finished, part) => finished || isFinish(part)).pipe(
    Effect.flatMap((finished) =>
      finished ? Effect.succeed({ attempts: undefined }) : Effect.die(new Error("stream ended without Finish"))
    )
  )

const isFinish = (part: unknown): boolean =>
  typeof part === "object" && part !== null && "_tag" in part && part._tag === "Finish"

const call = (manager: LlmManager.Service, mode: Mode, input: LlmManager.Input): Effect.Effect<unknown, unknown> => {
  switch (mode) {
    case "generate":
      return manager.generate(input)
    case "structured":
      return manager.generateStructured(input, Answer)
    case "stream":
      return drain(manager.stream(input))
  }
}

const classify = (exit: Exit.Exit<unknown, unknown>): Pick<Outcome, "tag" | "attempts" | "defect"> => {
  if (Exit.isSuccess(exit)) return { tag: "success", attempts: attemptsOf(exit.value) }
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isSome(error)) {
    const tag = typeof error.value === "object" && error.value !== null && "_tag" in error.value
      ? String(error.value._tag)
      : "untagged error"
    return { tag, attempts: attemptsOf(error.value) }
  }
  return Cause.hasInterruptsOnly(exit.cause)
    ? { tag: "interrupted", attempts: undefined }
    : { tag: "defect", attempts: undefined, defect: Cause.pretty(exit.cause) }
}

/**
 * Runs the load and returns every call's outcome, in request order.
 *
 * @since 0.1.0
 */
export const run = (manager: LlmManager.Service, options: Options): Effect.Effect<ReadonlyArray<Outcome>> => {
  let settled = 0
  const begin = performance.now()
  const rate = options.ratePerSecond
  const pace = (index: number) =>
    rate === undefined
      ? Effect.void
      : Effect.suspend(() => Effect.sleep(Math.max(0, begin + index * 1000 / rate - performance.now())))
  return Effect.forEach(
    Array.from({ length: options.requests }, (_, index) => index),
    (index) =>
      Effect.andThen(pace(index), () => {
        const mode = modes[index % modes.length] ?? "generate"
        const requestId = `${options.runId}-${index}`
        const subjectId = options.subject(index)
        const started = performance.now()
        const input = {
          prompt: `Question ${index}: one quiz question about the planets, please`,
          options: { timeout: options.timeoutMs, maxTokens: 64 },
          metadata: { subjectId, requestId }
        }
        return Effect.map(Effect.exit(call(manager, mode, input)), (exit): Outcome => {
          options.onSettled?.(++settled)
          return { requestId, subjectId, mode, latencyMs: performance.now() - started, ...classify(exit) }
        })
      }),
    { concurrency: options.concurrency }
  )
}
