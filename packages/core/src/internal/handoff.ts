/**
 * A stream fed by a producer effect, each batch handed straight to the
 * consumer that waits for it.
 *
 * `Stream.callback` puts a `Queue` between the two fibers, and a `Queue`
 * wakes a waiting taker on its own dispatcher: one more turn of the event
 * loop per wake, which is most of what `manager.stream` cost over `generate`
 * with 512 requests in flight. Here the producer resumes the waiting consumer
 * in place (as a `Deferred` resumes its waiters), and waits itself until its
 * batch is taken: at most one batch is ahead of the consumer.
 *
 * The producer starts when the stream is run and runs in the stream's scope:
 * a consumer that stops early (or is interrupted) interrupts it. Its failure
 * fails the stream once the batches before it are taken. It emits one batch
 * at a time (the manager's chain does): an emit that starts while another
 * emit waits is a defect. An emit interrupted while its batch waits leaves
 * the batch to be taken, as the manager counts it delivered once emitted:
 * the next emit adds its parts to that batch, in order.
 */
import { Cause, Channel, Effect, type Exit, Stream } from "effect"
import type * as Pull from "effect/Pull"

/** Hands a batch to the consumer and completes once the consumer took it (an empty batch at once). */
export type Emit<A> = (batch: ReadonlyArray<A>) => Effect.Effect<void>

/** Resumes a fiber waiting in `Effect.callback`. */
type Resume<A, E = never> = (effect: Effect.Effect<A, E>) => void

const overlapping = "Handoff: an emit started while another waited"

/** The stream of the batches `produce` emits, ending when `produce` does. */
export const stream = <A, E>(produce: (emit: Emit<A>) => Effect.Effect<unknown, E>): Stream.Stream<A, E> =>
  Stream.fromChannel(Channel.fromTransform((_, scope) => {
    let batch: readonly [A, ...Array<A>] | undefined
    // the producer, waiting until `batch` is taken
    let giver: Resume<undefined> | undefined
    // the consumer, waiting for a batch or the end
    let taker: Resume<readonly [A, ...Array<A>], E | Cause.Done> | undefined
    let end: Pull.Pull<never, E> | undefined

    const emit: Emit<A> = (parts) =>
      parts.length === 0 ? Effect.void : Effect.callback<undefined>((resume) => {
        const next = parts as readonly [A, ...Array<A>]
        if (giver !== undefined) {
          resume(Effect.die(new Error(overlapping)))
          return
        }
        if (taker !== undefined) {
          const waiting = taker
          taker = undefined
          waiting(Effect.succeed(next))
          resume(Effect.undefined)
          return
        }
        // after the batch of an emit interrupted while it waited, if any
        batch = batch === undefined ? next : [...batch, ...next]
        giver = resume
        // interrupted: the batch stays to be taken, its emit no longer waits
        return Effect.sync(() => {
          if (giver === resume) giver = undefined
        })
      })

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
        batch = undefined
        giver = undefined
        waiting?.(Effect.undefined)
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
    return Effect.map(Effect.forkIn(produce(emit), scope, { startImmediately: true }), (fiber) => {
      fiber.addObserver(ended)
      return pull
    })
  }))
