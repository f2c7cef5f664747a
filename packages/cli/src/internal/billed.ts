/**
 * What a `generate` request has billed so far, summed from the attempts the
 * manager reports to its `RequestLog` (cancelled ones included, each with
 * what it billed before it stopped), as the manager sums them into a
 * result's or a failure's `usage`. A call stopped by a signal ends with no
 * result and no error to carry that sum: this is where the CLI reads it.
 *
 * @internal
 */
import * as RequestLog from "@baton/core/RequestLog"
import * as TokenUsage from "@baton/core/TokenUsage"
import { Effect, Layer, Option } from "effect"

/** A request log that sums the usage of every attempt, and a way to read that sum. @internal */
export interface Billed {
  /**
   * The `RequestLog` to build the manager with: it sums each record, then
   * hands it to the `RequestLog` already there, if any (a program that runs
   * the command with its own keeps its records).
   */
  readonly layer: Layer.Layer<RequestLog.RequestLog>
  /** The sum so far; `undefined` while no attempt billed anything. */
  readonly usage: Effect.Effect<TokenUsage.TokenUsage | undefined>
}

/** A new sum, of nothing yet. @internal */
export const make: Effect.Effect<Billed> = Effect.sync(() => {
  let billed: TokenUsage.TokenUsage | undefined
  const summing = (outer: Option.Option<RequestLog.RequestLog["Service"]>) =>
    RequestLog.RequestLog.of({
      write: (record) =>
        Effect.suspend(() => {
          const usage = record.usage
          if (usage !== undefined) billed = billed === undefined ? usage : TokenUsage.add(billed, usage)
          return Option.isSome(outer) ? outer.value.write(record) : Effect.void
        })
    })
  return {
    layer: Layer.effect(RequestLog.RequestLog, Effect.map(Effect.serviceOption(RequestLog.RequestLog), summing)),
    usage: Effect.sync(() => billed)
  }
})
