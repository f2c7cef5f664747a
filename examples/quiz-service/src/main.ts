/**
 * The quiz service as a process: `node src/main.ts` (or `npx -y pnpm@12
 * --filter @baton/example-quiz-service serve`) listens on `HOST:PORT` until
 * Ctrl-C and prints one line with its URL. With no provider API key in the
 * environment it starts the bundled mock provider server first (see
 * `QuizEnvironment`). A variable to fix (an `LlmConfigError`, a ledger
 * database or a quota Redis it cannot reach) stops it at startup with one
 * line on stderr naming the variable, no stack trace, and exit code 1.
 * Stopped by SIGTERM it exits 143, by SIGINT (Ctrl-C) 130.
 *
 * @since 0.1.0
 */
import * as CommandRuntime from "@baton/testing/CommandRuntime"
import { Console, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import * as QuizEnvironment from "./QuizEnvironment.ts"
import * as QuizService from "./QuizService.ts"

const announce = Layer.effectDiscard(Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  yield* Console.log(`quiz-service listening on ${HttpServer.formatAddress(server.address)}`)
}))

const Main = Layer.unwrap(Effect.map(QuizService.listenOptions, QuizService.layer)).pipe(
  (service) => announce.pipe(Layer.provide(service), Layer.merge(service)),
  Layer.provide(QuizEnvironment.layer)
)

/** A variable to fix: its one line on stderr (`message` names it) and exit code 1, no stack trace. */
const misconfigured = (message: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(`quiz-service: ${message}\n`)
    process.exitCode = 1
  })

// stopped by SIGTERM (a container's stop) it exits 143, by Ctrl-C 130, as a shell reports each signal
Layer.launch(Main).pipe(
  Effect.catchTags({
    LlmConfigError: (error) => misconfigured(error.message),
    // a database error's message is its URL without credentials, then why
    DatabaseError: (error) => misconfigured(`LLM_USAGE_STORE_URL: ${error.message}`),
    // at startup, only RedisQuotaStore.layerConfig fails so, its message naming REDIS_URL
    QuotaStoreUnavailable: (error) => misconfigured(error.message)
  }),
  CommandRuntime.runMain
)
