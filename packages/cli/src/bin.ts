/**
 * The `baton` command: `generate`, `usage`, `check`, `mock-server` and
 * `serve`. Started by `bin/baton.js`, which runs it on a Node that strips
 * types (Node 20 included, through the workspace's Node 24). Exit codes: see
 * `internal/exit.ts` (0 done, 1 bad command line, 2 configuration, 3 failed,
 * 141 the output's reader went away, 130 and 143 stopped by SIGINT and
 * SIGTERM: `CommandRuntime`);
 * `baton` alone prints the help and exits 1, `baton --help` and
 * `baton --version` exit 0.
 *
 * @since 0.1.0
 */
import * as CommandRuntime from "@baton/testing/CommandRuntime"
import * as MockServerCommand from "@baton/testing/MockServerCommand"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as Check from "./Check.ts"
import * as Generate from "./Generate.ts"
import * as Exit from "./internal/exit.ts"
import * as Serve from "./Serve.ts"
import * as Usage from "./Usage.ts"

const baton = Command.make("baton").pipe(
  Command.withDescription("Typed LLM calls with fallback, quotas and cost accounting"),
  Command.withSubcommands([
    Generate.command,
    Usage.command,
    Check.command,
    MockServerCommand.command("mock-server"),
    Serve.command
  ])
)

baton.pipe(
  Command.run({ version: "0.1.0" }),
  // no command: effect/cli prints the help and would exit 0, so that a script calling `baton` by mistake sees success
  Effect.catchTag(
    "ShowHelp",
    (help) =>
      help.errors.length === 0 ? Exit.fail(Exit.usage, "a command is needed (see SUBCOMMANDS)") : Effect.fail(help)
  ),
  // `mock-server` (@baton/testing's command) fails with the start error: one line and exit 2, as `serve` does
  Effect.catchTag(
    "MockServerStartError",
    (error) => Exit.fail(Exit.configuration, MockServerCommand.listenFailure(error.cause))
  ),
  Effect.provide(NodeServices.layer),
  // an output that cannot be written stops the command as Ctrl-C does: its finalizers run (the ledger's row, the quota's refund);
  // watched from here, at load, so that a write made before any async step (a refusal with --json) is watched too
  Effect.raceFirst(Exit.watchOutput()),
  CommandRuntime.runMain
)
