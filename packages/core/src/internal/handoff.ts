/**
 * A stream fed by a producer effect, each batch handed straight to the
 * consumer that waits for it.
 *
 * `Stream.callback` puts a `Queue` between the two fibers, and a `Queue`
 * wakes a waiting taker on its own dispatcher: one more turn of the event
 * loop per wake, which is most of what `manager.stream` cost over `generate`
 * with 512 requests in flight. Here the producer resumes the waiting consumer
 * in place (as a `Deferred` resumes its waiters), and waits itself until its
 * batch is taken: at most one batch is ahead of the consumer. A producer
 * outside any fiber (a provider's push) gives its batch instead of emitting
 * it, and holds until it is taken.
 *
 * The producer starts when the stream is run and runs in the stream's scope:
 * a consumer that stops early (or is interrupted) interrupts it. Its failure
 * fails the stream once the batches before it are taken. It hands on one
 * batch at a time (the manager's chain does): an emit (or `taken()`) that
 * starts while another waits is a defect. An emit interrupted while its batch waits
 * leaves the batch to be taken, as the manager counts it delivered once
 * emitted: the next batch handed on is added to it, in order.
 */
import { Cause, Channel, Effect, type Exit, Stream } from "effect"
import type * as Pull from "effect/Pull"
import type { Hold } from "../LlmProvider.ts"

/** How the producer hands batches to the consumer. */
export interface Handoff<A> {
  /** Hands a batch on and completes once the consumer took it (an empty batch at once). */
  readonly emit: (batch: ReadonlyArray<A>) => Effect.Effect<void>
  /**
   * Hands a batch on without waiting: `undefined` once the consumer took it
   * at once (or it is empty), else a `Hold` that resumes its caller once the
   * consumer took it.
   */
  readonly give: (batch: ReadonlyArray<A>) => Hold | undefined
  /** What completes once the consumer took every batch handed on: `Effect.void` when it has. */
  readonly taken: () => Effect.Effect<void>
}

/** Resumes a fiber waiting in `Effect.callback`. */
type Resume<A, E = never> = (effect: Effect.Effect<A, E>) => void

const overlapping = "Handoff: a wait for the taking started while another waited"

/** The stream of the batches `produce` hands on, ending when `produce` does. */
export const stream = <A, E>(produce: (handoff: Handoff<A>) => Effect.Effect<unknown, E>): Stream.Stream<A, E> =>
  Stream.fromChannel(Channel.fromTransform((_, scope) => {
    let batch: readonly [A, ...Array<A>] | undefined
    // the producer, waiting until `batch` is taken: in an emit (or `taken`), or held
    let giver: (() => void) | undefined
    let holder: (() => void) | undefined
    // the consumer, waiting for a batch or the end
    let taker: Resume<readonly [A, ...Array<A>], E | Cause.Done> | undefined
    let end: Pull.Pull<never, E> | undefined

    /** Hands `next` to the waiting consumer (`true`), else keeps it, after any batch kept before. */
    const hand = (next: readonly [A, ...Array<A>]): boolean => {
      if (taker !== undefined) {
        const waiting = taker
        taker = undefined
        waiting(Effect.succeed(next))
        return true
      }
      batch = batch === undefined ? next : [...batch, ...next]
      return false
    }

    /** Waits until the kept batch is taken; interrupted, the batch stays to be taken and nothing waits. */
    const wait = Effect.callback<undefined>((resume) => {
      if (batch === undefined) {
        resume(Effect.undefined)
        return
      }
      if (giver !== undefined) {
        resume(Effect.die(new Error(overlapping)))
        return
      }
      const waiting = () => {
        resume(Effect.undefined)
      }
      giver = waiting
      return Effect.sync(() => {
        if (giver === waiting) giver = undefined
      })
    })

    const emit = (parts: ReadonlyArray<A>): Effect.Effect<void> =>
      parts.length === 0
        ? Effect.void
        : Effect.suspend(() => hand(parts as readonly [A, ...Array<A>]) ? Effect.void : wait)

    const hold: Hold = (resume) => {
      if (batch === undefined) resume()
      else holder = resume
    }

    const give = (parts: ReadonlyArray<A>): Hold | undefined =>
      parts.length === 0 || hand(parts as readonly [A, ...Array<A>]) ? undefined : hold

    const taken = (): Effect.Effect<void> => batch === undefined ? Effect.void : wait

    const ended = (exit: Exit.Exit<unknown, E>): void => {
      end = exit._tag === "Success" ? Cause.done() : Effect.failCause(exit.cause)
      const waiting = taker
      taker = undefined
      waiting?.(end)
    }

    const pull: Pull.Pull<readonly [A, ...Array<A>], E> = Effect.suspend(() => {
      if (batch !== undefined) {
        const taken = batch
        const waiting = giver
        const holding = holder
        batch = undefined
        giver = undefined
        holder = undefined
        holding?.()
        waiting?.()
        return Effect.succeed(taken)
      }
      if (end !== undefined) return end
      return Effect.callback<readonly [A, ...Array<A>], E | Cause.Done>((resume) => {
        taker = resume
        return Effect.sync(() => {
          taker = undefined
        })
      })
    })

    // `addObserver` calls back at once when the producer has already ended
    return Effect.map(Effect.forkIn(produce({ emit, give, taken }), scope, { startImmediately: true }), (fiber) => {
      fiber.addObserver(ended)
      return pull
    })
  }))
