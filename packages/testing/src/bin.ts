/**
 * `baton-mock-server`: runs the mock provider server until Ctrl-C, for
 * clients in any language (see `MockServerCommand`). Started by
 * `bin/baton-mock-server.js`, which runs it on a Node that strips types.
 * Exit codes: 1 bad command line (effect/cli prints the usage), 2 the server
 * could not listen (one line naming the address and the reason, as
 * `baton mock-server` prints it), 130 stopped by Ctrl-C, 143 by SIGTERM
 * (see `CommandRuntime`).
 *
 * ```sh
 * baton-mock-server --port 8787 --host 127.0.0.1 --seed 1
 * ```
 *
 * @since 0.1.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as CommandRuntime from "./CommandRuntime.ts"
import * as MockServerCommand from "./MockServerCommand.ts"

const name = "baton-mock-server"

/** The line on stderr and exit code 2 (the port or host is to fix), as `baton mock-server` ends. */
const cannotListen = (cause: unknown): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(`${name}: ${MockServerCommand.listenFailure(cause)}\n`)
    process.exitCode = 2
  })

MockServerCommand.command(name).pipe(
  Command.run({ version: "0.1.0" }),
  // a port in use, a bad host: one line, no stack trace
  Effect.catchTag("MockServerStartError", (error) => cannotListen(error.cause)),
  Effect.provide(NodeServices.layer),
  CommandRuntime.runMain
)
