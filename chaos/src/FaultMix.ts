/**
 * The seeded mix of provider faults the chaos runs inject: every way a
 * provider misbehaves that Baton must survive, each equally likely, together
 * firing on a chosen share of the calls.
 *
 * The mock server draws each call's fault from its seed, so a run repeats.
 *
 * @since 0.1.0
 */
import * as MockFault from "@baton/testing/MockFault"
import type * as MockProviderServer from "@baton/testing/MockProviderServer"
import { Effect } from "effect"

/**
 * A fault and the name the summary gives it.
 *
 * @since 0.1.0
 */
export interface Entry {
  readonly name: string
  readonly fault: MockFault.MockFault
}

/**
 * The faults, for per-attempt limits of `limitMs` (an attempt `2 limitMs`):
 * the slow ones stay silent longer than any limit.
 *
 * @since 0.1.0
 */
export const faults = (limitMs: number): ReadonlyArray<Entry> => [
  { name: "429 Retry-After 1", fault: MockFault.rateLimited({ retryAfter: "1" }) },
  { name: "429", fault: MockFault.rateLimited() },
  { name: "500", fault: MockFault.status(500) },
  { name: "503", fault: MockFault.status(503) },
  { name: "silent connection", fault: MockFault.noResponse },
  { name: "slow first token", fault: MockFault.slowFirstToken(limitMs * 2 + 1_000) },
  { name: "reset", fault: MockFault.resetBeforeHeaders },
  { name: "non-JSON body", fault: MockFault.notJson },
  { name: "ill-typed fields", fault: MockFault.illTyped },
  { name: "cut stream", fault: MockFault.cutStream },
  { name: "stalled stream", fault: MockFault.stallMidStream("forever") },
  { name: "stalled after usage", fault: MockFault.stallMidStream("forever", { after: "end" }) }
]

/**
 * Injects `entries` on `provider` so that each fires on `rate / n` of the
 * calls and one of them on `rate` of the calls: the mock plays the first
 * entry that fires, so the k-th entry fires with probability
 * `w / (1 - k w)`, `w = rate / n`, given that none before it did.
 *
 * @since 0.1.0
 */
export const inject = (
  server: MockProviderServer.MockProviderServer["Service"],
  provider: MockProviderServer.MockProvider,
  entries: ReadonlyArray<Entry>,
  rate: number
): Effect.Effect<void> => {
  const share = rate / entries.length
  return Effect.forEach(
    entries,
    (entry, k) => server.inject(provider, entry.fault, { probability: share / (1 - k * share) }),
    { discard: true }
  )
}
