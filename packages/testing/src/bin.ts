/**
 * `baton-mock-server`: runs the mock provider server until Ctrl-C, for
 * clients in any language (see `MockServerCommand`). Started by
 * `bin/baton-mock-server.js`, which runs it on a Node that strips types.
 *
 * ```sh
 * baton-mock-server --port 8787 --host 127.0.0.1 --seed 1
 * ```
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as MockServerCommand from "./MockServerCommand.ts"

MockServerCommand.command("baton-mock-server").pipe(
  Command.run({ version: "0.1.0" }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
