/**
 * The injected faults of one provider, in order. Each call looks at the
 * entries in injection order and plays the first one that fires: a `times`
 * entry fires until used up, a `forMs` entry fires until its window (real
 * time from injection) closes, a `probability` entry fires on a draw from the
 * server's seeded generator and stays until `reset`. Spent entries are
 * dropped.
 *
 * @internal
 */
import type { MockFault } from "../MockFault.ts"

/** When an injected fault fires. @internal */
export type FaultSchedule =
  | { readonly times: number }
  | { readonly forMs: number }
  | { readonly probability: number }

interface Entry {
  readonly fault: MockFault
  readonly schedule: FaultSchedule
  remaining: number
  readonly until: number
}

/** A seeded pseudo-random generator in [0, 1) (mulberry32). @internal */
export const seededRandom = (seed: number): () => number => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** The fault queue of one provider. @internal */
export interface FaultQueue {
  readonly add: (fault: MockFault, schedule: FaultSchedule) => void
  /** The fault for the next call, if any fires. */
  readonly next: () => MockFault | undefined
  readonly clear: () => void
}

/** A fault queue reading the time from `now` and draws from `random`. @internal */
export const makeFaultQueue = (now: () => number, random: () => number): FaultQueue => {
  let entries: Array<Entry> = []
  const fires = (entry: Entry, time: number): boolean => {
    if ("times" in entry.schedule) return entry.remaining-- > 0
    if ("forMs" in entry.schedule) return time < entry.until
    return random() < entry.schedule.probability
  }
  const spent = (entry: Entry, time: number): boolean =>
    ("times" in entry.schedule && entry.remaining <= 0) || ("forMs" in entry.schedule && time >= entry.until)
  return {
    add: (fault, schedule) => {
      const time = now()
      entries.push({
        fault,
        schedule,
        remaining: "times" in schedule ? schedule.times : 0,
        until: "forMs" in schedule ? time + schedule.forMs : Infinity
      })
    },
    next: () => {
      if (entries.length === 0) return undefined
      const time = now()
      const entry = entries.find((e) => !spent(e, time) && fires(e, time))
      entries = entries.filter((e) => !spent(e, time))
      return entry?.fault
    },
    clear: () => {
      entries = []
    }
  }
}
