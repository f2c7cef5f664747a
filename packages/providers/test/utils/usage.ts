/**
 * How the usage tests get a call's usage through `LlmManager` (a result's,
 * plain or streamed underneath, or a stream's `Finish`), and what the request
 * log and the usage ledger recorded of it.
 */
import type * as LlmManager from "@baton/core/LlmManager"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import { DateTime, Effect, Layer, Stream } from "effect"
import { Bench } from "../../../core/test/utils/chain.ts"

/** Each way of asking, its `generateVia`, and the usage of the answer: a result's, or that of a stream's `Finish`. */
export const calls = {
  "generate (generateVia: generate)": [
    "generate",
    (llm: LlmManager.Service) => Effect.map(llm.generate({ prompt: "hi" }), (result) => result.usage)
  ],
  "generate (generateVia: stream)": [
    "stream",
    (llm: LlmManager.Service) => Effect.map(llm.generate({ prompt: "hi" }), (result) => result.usage)
  ],
  "stream": [
    "stream",
    (llm: LlmManager.Service) =>
      Stream.runCollect(llm.stream({ prompt: "hi" })).pipe(
        Effect.map((parts) => parts.find((part) => part._tag === "Finish")?.usage)
      )
  ]
} as const

/** A way of asking: a key of {@link calls}. */
export type Way = keyof typeof calls

/** The request log records and today's ledger rows per provider, the ledger flushed first. */
export const recorded = Effect.gen(function*() {
  const records = yield* (yield* RequestLog.RequestLogMemory).records
  const ledger = yield* UsageLedger.UsageLedger
  yield* ledger.flush
  const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
  const rows = yield* ledger.usageByProvider(day, day)
  return { records, rows }
})

/** The mock server, the HTTP client, the default prices, a request log and a usage ledger in memory. */
export const layer = Layer.mergeAll(Bench, RequestLog.layerMemory(), UsageLedger.layerMemory())
