/**
 * How a `baton` command ends: one line on stderr starting with `baton:` and
 * an exit code a shell can act on.
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | done |
 * | 1 | bad command line: no command (after the help); what effect/cli refuses (an unknown or empty flag, a port not in decimal digits 0 to 65535, a model or subject id no request can take) with the usage; a value the command refuses (a day, a teacher id, flags that do not go together) named in one line |
 * | 2 | configuration or input file to fix (a missing key names its variable; a `--schema` file that cannot be used; a ledger that is not there for `usage`, a database that is not a ledger, or one that cannot be reached; Redis unreachable) |
 * | 3 | the work failed (every provider failed, a quota, a database), or its output could not be written (a full disk: ENOSPC) |
 * | 130, 143 | stopped by SIGINT (Ctrl-C) or SIGTERM after a clean shutdown (`@baton/testing/CommandRuntime`) |
 * | 141 | the output was closed (its reader went away, as `\| head -1` does): the work is stopped as Ctrl-C stops it |
 *
 * @internal
 */
import { Deferred, Effect, Logger, Predicate } from "effect"

/** @internal */
export const usage = 1
/** @internal */
export const configuration = 2
/** @internal */
export const failed = 3

/** 128 + SIGPIPE, what a shell reports for a command whose reader went away. @internal */
export const outputClosed = 141

/** Whether a write's error is EPIPE: the reader went away, which is no failure of the command. */
const readerGone = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "code" in error && error.code === "EPIPE"

/** `error`'s property `name`, when it has one. @internal */
export const fieldOf = (error: unknown, name: string): unknown =>
  Predicate.hasProperty(error, name) ? error[name] : undefined

/**
 * An error's message (`ENOSPC: no space left on device, write`); else Node's
 * code (an `AggregateError` of refused connections has no message); else
 * itself.
 */
const messageOf = (error: unknown): string => {
  const text = [fieldOf(error, "message"), fieldOf(error, "code")].find((value) =>
    typeof value === "string" && value.length > 0
  )
  return typeof text === "string" ? text : String(error)
}

/**
 * Watches stdout and stderr from now on (its listeners are kept for the life
 * of the process: a write after the command ended must not crash either) and
 * returns an effect that succeeds once one of them cannot be written, the
 * command then stopped as Ctrl-C stops it. EPIPE (its reader went away, as
 * `| head -1` does) sets the exit code `outputClosed` and prints nothing; any
 * other error (a full disk: ENOSPC) is a failure, exit code `failed`, said on
 * stderr when stdout failed. Without a listener, Node throws the write's error
 * from an `error` event: a stack trace and exit code 1. Called before the
 * program runs, since a command can write (a refusal with `--json`) before a
 * fiber raced with it would have started; the listeners also see the errors
 * effect/cli's console ignores (`--help`, `--version`).
 *
 * @internal
 */
export const watchOutput = (): Effect.Effect<undefined> => {
  const stopped = Deferred.makeUnsafe<undefined>()
  const onError = (stream: NodeJS.WriteStream) => (error: unknown) => {
    if (readerGone(error)) {
      process.exitCode = outputClosed
    } else {
      if (stream === process.stdout) process.stderr.write(`baton: cannot write the output: ${messageOf(error)}\n`)
      process.exitCode = failed
    }
    Deferred.doneUnsafe(stopped, Effect.undefined)
  }
  process.stdout.on("error", onError(process.stdout))
  process.stderr.on("error", onError(process.stderr))
  return Deferred.await(stopped)
}

/** Prints `baton: message` on stderr and sets the exit code. @internal */
export const fail = (code: number, message: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(`baton: ${message}\n`)
    process.exitCode = code
  })

/** The line of a ledger that cannot be opened: the variable that names it, then why. @internal */
export const ledgerProblem = (message: string): string => `LLM_USAGE_STORE_URL: ${message}`

/**
 * The line of a Redis that cannot be reached: the variable, then `cause`,
 * the client's error under the `RedisError` (which has no message of its
 * own); it never repeats the URL, nor its password.
 */
const redisProblem = (cause: unknown): string => `REDIS_URL: cannot connect to Redis: ${messageOf(cause)}`

/**
 * The line of a command that could not start: a ledger that cannot be
 * opened (`ledgerProblem`), a Redis that cannot be reached, else the
 * error's message. `check` and `serve` say it alike.
 *
 * @internal
 */
export const startProblem = (error: unknown): string => {
  switch (fieldOf(error, "_tag")) {
    case "DatabaseError":
      return ledgerProblem(messageOf(error))
    case "RedisError":
      return redisProblem(fieldOf(error, "cause"))
    default:
      return messageOf(error)
  }
}

/**
 * Runs a command whose stdout is its output (an answer, a table, one JSON
 * object) with its logs on stderr, so that a warning logged on the way
 * (`LLM_PRICES` naming a provider not configured) never mixes into what a
 * script reads.
 *
 * @internal
 */
export const logsOnStderr = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(self, Logger.LogToStderr, true)
