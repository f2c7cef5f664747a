/**
 * The manager's one clock. Every guarded call runs in a child fiber and is
 * checked by a ticker shared by all the calls on the same `Clock`: one
 * sleeping fiber that wakes when the earliest check falls due, instead of a
 * watchdog fiber and a timer per call. A call's check says, at a time, either
 * how it failed (the call is then interrupted, awaited, and fails with that
 * error) or when to check it next. The ticker sleeps until the earliest
 * next check; a call whose first check falls before that wakes it early, and
 * it stops when nothing is left to watch. Checks run at exactly their due
 * times, so `TestClock` drives them as it drove one sleep per call. An idle
 * ticker on the live clock keeps sleeping until its last due time on an
 * unref'd timer (it never holds the process open), so calls one after the
 * other share it instead of starting one each.
 */
import { Clock, Context, Duration, Effect, type Exit, Fiber, type Scope } from "effect"

/** The clock a fiber has when none was provided (`TestClock` and others are not it). */
const liveClock: Clock.Clock = Context.get(Context.empty(), Clock.Clock)

/** Node's longest timer. */
const maxTimerMs = 2 ** 31 - 1

/**
 * Sleeps `ms` on `clock`. On the live clock the ticker's timer is unref'd: a
 * manager left idle (its layer never closed) does not keep the process alive.
 */
const sleepOn = (clock: Clock.Clock, ms: number): Effect.Effect<void> =>
  clock === liveClock
    ? Effect.callback<undefined>((resume) => {
      const timer = setTimeout(() => {
        resume(Effect.undefined)
      }, Math.min(ms, maxTimerMs))
      timer.unref()
      return Effect.sync(() => {
        clearTimeout(timer)
      })
    })
    : clock.sleep(Duration.millis(ms))

/** At `now`: the call's failure, or the time (ms) by which to check it again (later than `now`). */
export type Check<E> = (now: number) => E | number

/** One guarded call: its check, and how it ends when the check fails. */
interface Entry<E> {
  readonly check: Check<E>
  readonly expire: (error: E) => void
}

/** The calls watched on one clock, and the ticker fiber that checks them. */
interface Ticker<E> {
  readonly entries: Set<Entry<E>>
  /** When the ticker next wakes; `Infinity` when it is not running. */
  wakeAt: number
  fiber: Fiber.Fiber<void> | undefined
}

/** Guards calls for one manager. */
export interface Watchdog<E> {
  /** Runs `call` until it ends or `check` fails it (first checked when the call starts). */
  readonly guard: <A>(call: Effect.Effect<A, E>, check: Check<E>) => Effect.Effect<A, E>
}

/** A watchdog whose tickers live in `scope` (closing it stops them). */
export const make = <E>(scope: Scope.Scope): Watchdog<E> => {
  const tickers = new WeakMap<Clock.Clock, Ticker<E>>()

  const tickerOf = (clock: Clock.Clock): Ticker<E> => {
    const found = tickers.get(clock)
    if (found !== undefined) return found
    const made: Ticker<E> = { entries: new Set(), wakeAt: Number.POSITIVE_INFINITY, fiber: undefined }
    tickers.set(clock, made)
    return made
  }

  /** Checks every entry at `now`, fails the expired ones, and sleeps until the earliest next check. */
  const tick = (ticker: Ticker<E>, clock: Clock.Clock): Effect.Effect<void> =>
    Effect.suspend(() => {
      const now = clock.currentTimeMillisUnsafe()
      let next = Number.POSITIVE_INFINITY
      for (const entry of ticker.entries) {
        const outcome = entry.check(now)
        if (typeof outcome !== "number") {
          ticker.entries.delete(entry)
          entry.expire(outcome)
        } else if (outcome < next) next = outcome
      }
      ticker.wakeAt = next
      if (next === Number.POSITIVE_INFINITY) {
        ticker.fiber = undefined
        return Effect.void
      }
      return Effect.andThen(sleepOn(clock, Math.max(1, next - now)), tick(ticker, clock))
    })

  /** Makes the ticker wake by `due`: starts it, or restarts it when it sleeps past `due`. */
  const wakeBy = (ticker: Ticker<E>, clock: Clock.Clock, due: number, now: number): Effect.Effect<void> => {
    if (due >= ticker.wakeAt) return Effect.void
    ticker.wakeAt = due
    const previous = ticker.fiber
    return Effect.map(
      Effect.forkIn(Effect.andThen(sleepOn(clock, due - now), tick(ticker, clock)), scope, {
        startImmediately: true
      }),
      (fiber) => {
        previous?.interruptUnsafe()
        ticker.fiber = fiber
      }
    )
  }

  /** Waits for `fiber`, failing with what the ticker found if it expired first. */
  const watch = <A>(ticker: Ticker<E>, fiber: Fiber.Fiber<A, E>, check: Check<E>): Effect.Effect<A, E> =>
    Effect.callback<A, E>((resume) => {
      let expired: { readonly error: E } | undefined
      const entry: Entry<E> = {
        check,
        expire: (error) => {
          expired = { error }
          fiber.interruptUnsafe()
        }
      }
      ticker.entries.add(entry)
      fiber.addObserver((exit: Exit.Exit<A, E>) => {
        ticker.entries.delete(entry)
        // a call that still succeeded keeps its result (and what it billed)
        resume(expired === undefined || exit._tag === "Success" ? exit : Effect.fail(expired.error))
      })
      return Effect.suspend(() => {
        ticker.entries.delete(entry)
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
        return Effect.andThen(wakeBy(ticker, clock, first, now), watch(ticker, fiber, check))
      })
    })

  return { guard }
}
