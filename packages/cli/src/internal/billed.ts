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
import { Effect, Layer } from "effect"

/** A request log that sums the usage of every attempt, and a way to read that sum. @internal */
export interface Billed {
  /** The `RequestLog` to build the manager with. */
  readonly layer: Layer.Layer<RequestLog.RequestLog>
  /** The sum so far; `undefined` while no attempt billed anything. */
  readonly usage: Effect.Effect<TokenUsage.TokenUsage | undefined>
}

/** A new sum, of nothing yet. @internal */
export const make: Effect.Effect<Billed> = Effect.sync(() => {
  let billed: TokenUsage.TokenUsage | undefined
  const log = RequestLog.RequestLog.of({
    write: ({ usage }) =>
      Effect.sync(() => {
        if (usage !== undefined) billed = billed === undefined ? usage : TokenUsage.add(billed, usage)
      })
  })
  return { layer: Layer.succeed(RequestLog.RequestLog, log), usage: Effect.sync(() => billed) }
})
