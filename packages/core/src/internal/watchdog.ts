/**
 * The manager's one clock. Every guarded call runs in a child fiber and is
 * checked by a ticker shared by all the calls on the same `Clock`: one
 * sleeping fiber that wakes when the earliest check falls due, instead of a
 * watchdog fiber and a timer per call. A call's check says, at a time, either
 * how it failed (the call is then interrupted, awaited, and fails with that
 * error) or when to check it next. The ticker sleeps until the earliest
 * next check; a call whose first check falls before that wakes it early, and
 * it stops when nothing is left to watch. Checks run at exactly their due
 * times, so `TestClock` drives them as it drove one sleep per call.
 *
 * The ticker is a detached fiber: it outlives the request that started it
 * and the manager's layer (an in-flight call stays guarded while the layer
 * closes), and ends by itself once idle. On the live clock its timer holds
 * the process open only while a call is watched; an idle ticker keeps
 * sleeping until its last due time on an unref'd timer, so calls one after
 * the other share it instead of starting one each. A check that throws
 * fails only its own call (a defect); a ticker that ends for any reason is
 * started again by the next call.
 */
import { Clock, Context, Duration, Effect, type Exit, Fiber } from "effect"

/** The clock a fiber has when none was provided (`TestClock` and others are not it). */
const liveClock: Clock.Clock = Context.get(Context.empty(), Clock.Clock)

/** Node's longest timer. */
const maxTimerMs = 2 ** 31 - 1

/** At `now`: the call's failure, or the time (ms) by which to check it again (later than `now`). */
export type Check<E> = (now: number) => E | number

/** One guarded call: its check, and how it ends when the check fails. */
interface Entry<E> {
  readonly check: Check<E>
  readonly expire: (failure: Effect.Effect<never, E>) => void
}

/** The calls watched on one clock, and the ticker fiber that checks them. */
interface Ticker<E> {
  readonly clock: Clock.Clock
  readonly entries: Set<Entry<E>>
  /** When the ticker next wakes; `Infinity` when it is not running. */
  wakeAt: number
  fiber: Fiber.Fiber<void> | undefined
  /** The live clock's pending timer, the running ticker's own: ref'd while a call is watched. */
  timer: ReturnType<typeof setTimeout> | undefined
}

/** Guards calls for one manager. */
export interface Watchdog<E> {
  /** Runs `call` until it ends or `check` fails it (first checked when the call starts). */
  readonly guard: <A>(call: Effect.Effect<A, E>, check: Check<E>) => Effect.Effect<A, E>
}

/** Holds the process open while `ticker` watches a call, not while it is idle. */
const holdWhileWatching = <E>(ticker: Ticker<E>): void => {
  const timer = ticker.timer
  if (typeof timer !== "object") return
  if (ticker.entries.size > 0) timer.ref()
  else timer.unref()
}

/**
 * Forgets `timer` as the ticker's timer, unless a newer sleep has replaced it:
 * a restarted ticker's new sleep stores its timer before the old sleep is
 * interrupted, and that timer must stay reachable to be unref'd.
 */
const forget = <E>(ticker: Ticker<E>, timer: ReturnType<typeof setTimeout>): void => {
  if (ticker.timer === timer) ticker.timer = undefined
}

/** Sleeps `ms` on the ticker's clock (on the live clock, a timer held only while a call is watched). */
const sleepFor = <E>(ticker: Ticker<E>, ms: number): Effect.Effect<void> =>
  ticker.clock === liveClock
    ? Effect.callback<undefined>((resume) => {
      const timer = setTimeout(() => {
        forget(ticker, timer)
        resume(Effect.undefined)
      }, Math.min(ms, maxTimerMs))
      ticker.timer = timer
      holdWhileWatching(ticker)
      return Effect.sync(() => {
        forget(ticker, timer)
        clearTimeout(timer)
      })
    })
    : ticker.clock.sleep(Duration.millis(ms))

/** `check` at `now`, a throw turned into the call's defect. */
const checkAt = <E>(entry: Entry<E>, now: number): Effect.Effect<never, E> | number => {
  try {
    const outcome = entry.check(now)
    return typeof outcome === "number" ? outcome : Effect.fail(outcome)
  } catch (defect) {
    return Effect.die(defect)
  }
}

/** A watchdog with one ticker per clock. */
export const make = <E>(): Watchdog<E> => {
  const tickers = new WeakMap<Clock.Clock, Ticker<E>>()

  const tickerOf = (clock: Clock.Clock): Ticker<E> => {
    const found = tickers.get(clock)
    if (found !== undefined) return found
    const made: Ticker<E> = {
      clock,
      entries: new Set(),
      wakeAt: Number.POSITIVE_INFINITY,
      fiber: undefined,
      timer: undefined
    }
    tickers.set(clock, made)
    return made
  }

  /** Checks every entry at `now`, fails the expired ones, and sleeps until the earliest next check. */
  const tick = (ticker: Ticker<E>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const now = ticker.clock.currentTimeMillisUnsafe()
      let next = Number.POSITIVE_INFINITY
      for (const entry of ticker.entries) {
        const outcome = checkAt(entry, now)
        if (typeof outcome !== "number") {
          ticker.entries.delete(entry)
          entry.expire(outcome)
        } else if (outcome < next) next = outcome
      }
      ticker.wakeAt = next
      if (next === Number.POSITIVE_INFINITY) return Effect.void
      return Effect.andThen(sleepFor(ticker, Math.max(1, next - now)), tick(ticker))
    })

  /** Makes the ticker wake by `due`: starts it, or restarts it when it sleeps past `due`. */
  const wakeBy = (ticker: Ticker<E>, due: number, now: number): Effect.Effect<void> => {
    if (due >= ticker.wakeAt && ticker.fiber !== undefined) return Effect.void
    ticker.wakeAt = due
    const previous = ticker.fiber
    return Effect.map(
      Effect.forkDetach(Effect.andThen(sleepFor(ticker, Math.max(0, due - now)), tick(ticker)), {
        startImmediately: true
      }),
      (fiber) => {
        ticker.fiber = fiber
        previous?.interruptUnsafe()
        // however it ends, the next call starts a new one
        fiber.addObserver(() => {
          if (ticker.fiber !== fiber) return
          ticker.fiber = undefined
          ticker.wakeAt = Number.POSITIVE_INFINITY
        })
      }
    )
  }

  /** Waits for `fiber`, failing as the ticker found if it expired first. */
  const watch = <A>(ticker: Ticker<E>, fiber: Fiber.Fiber<A, E>, check: Check<E>): Effect.Effect<A, E> =>
    Effect.callback<A, E>((resume) => {
      let expired: Effect.Effect<never, E> | undefined
      const entry: Entry<E> = {
        check,
        expire: (failure) => {
          expired = failure
          fiber.interruptUnsafe()
        }
      }
      const unwatch = () => {
        ticker.entries.delete(entry)
        holdWhileWatching(ticker)
      }
      ticker.entries.add(entry)
      holdWhileWatching(ticker)
      fiber.addObserver((exit: Exit.Exit<A, E>) => {
        unwatch()
        // a call that still succeeded keeps its result (and what it billed)
        resume(expired === undefined || exit._tag === "Success" ? exit : expired)
      })
      return Effect.suspend(() => {
        unwatch()
        return Fiber.interrupt(fiber)
      })
    })

  const guard = <A>(call: Effect.Effect<A, E>, check: Check<E>): Effect.Effect<A, E> =>
    Effect.clockWith((clock) => {
      const now = clock.currentTimeMillisUnsafe()
      const first = check(now)
      if (typeof first !== "number") return Effect.fail(first)
      const ticker = tickerOf(clock)
      return Effect.flatMap(Effect.forkChild(call, { startImmediately: true }), (fiber) => {
        const done = fiber.pollUnsafe()
        if (done !== undefined) return done
        return Effect.andThen(wakeBy(ticker, first, now), watch(ticker, fiber, check))
      })
    })

  return { guard }
}
