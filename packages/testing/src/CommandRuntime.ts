/**
 * How a Baton command line program runs (`baton`, `baton-mock-server`): as
 * effect's `NodeRuntime.runMain` runs it (SIGINT and SIGTERM interrupt the
 * program, whose finalizers run: a call cancelled, its ledger row written, a
 * server closed; a failure's exit code), except for the exit code of a
 * program a signal stopped. `NodeRuntime` answers 130 to both signals, so a
 * supervisor that sent SIGTERM (`kill`, a container's stop) read a Ctrl-C;
 * here it is what a shell reports for the signal, 128 + its number: 130 for
 * SIGINT, 143 for SIGTERM.
 *
 * A program that ends on its own keeps its exit code, `process.exitCode`
 * included (what a command sets after printing its own error line).
 *
 * @since 0.1.0
 */
import { Cause, Exit } from "effect"
import * as Runtime from "effect/Runtime"
import { constants } from "node:os"

const signals = ["SIGINT", "SIGTERM"] as const

type Signal = (typeof signals)[number]

/** 128 + the signal's number: what a shell reports for a process the signal stopped. */
const stoppedBy = (signal: Signal): number => 128 + constants.signals[signal]

/**
 * Runs `effect` as the program's main fiber until it ends or SIGINT or
 * SIGTERM interrupts it, then runs `teardown` (if given) and exits: 128 + the
 * number of the first signal received for a program a signal stopped (130,
 * 143), else as `NodeRuntime.runMain` does.
 *
 * @example
 * ```ts
 * import * as CommandRuntime from "@baton/testing/CommandRuntime"
 * import { Effect } from "effect"
 *
 * // `kill <pid>` ends it with exit code 143, Ctrl-C with 130
 * Effect.never.pipe(CommandRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  let received: Signal | undefined
  const listeners = signals.map((signal) => {
    const listener = () => {
      // a second signal during the shutdown does not change what stopped the program
      received ??= signal
      fiber.interruptUnsafe(fiber.id)
    }
    process.on(signal, listener)
    return () => process.removeListener(signal, listener)
  })
  fiber.addObserver((exit) => {
    for (const remove of listeners) remove()
    const signal = received
    const stopped = signal !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
    teardown(exit, (code) => {
      if (stopped) process.exit(stoppedBy(signal))
      // 0: the exit code a command set, if any
      else if (signal !== undefined || code !== 0) process.exit(code === 0 ? undefined : code)
    })
  })
})
