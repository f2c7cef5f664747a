/**
 * Sequencing that skips the fiber's steps when the first effect is already
 * done. In Effect 4 an `Exit` is an `Effect` (`Effect.succeed`,
 * `Effect.fail` and `Effect.void` build one), so an effect that is an `Exit`
 * needs no run to be read: `flatMap` on it would still take a step for it
 * and one for the continuation. Any other effect is sequenced as usual.
 */
import { Effect, Exit } from "effect"

/**
 * `f` of `effect`'s value: called at once when `effect` is already an `Exit`
 * (once, when the effect is built, not at each run: `f` should only build
 * an effect), else `Effect.flatMap`. A throw from `f` is a defect either way.
 */
export const flatMapNow = <A, E, R, B, E2, R2>(
  effect: Effect.Effect<A, E, R>,
  f: (a: A) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E | E2, R | R2> => {
  if (!Exit.isExit(effect)) return Effect.flatMap(effect, f)
  // an `Exit` of `effect`: of its own `A` and `E`
  const exit = effect as Exit.Exit<A, E>
  // a failure holds no value: the same exit, as one of `B`
  if (Exit.isFailure(exit)) return exit as Exit.Exit<never, E>
  try {
    return f(exit.value)
  } catch (defect) {
    return Effect.die(defect)
  }
}
