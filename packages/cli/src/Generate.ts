/**
 * `baton generate "prompt"`: one generation through the whole stack
 * (fallback chain, retries, circuit breaker, usage ledger), the content on
 * stdout, and provider, model, attempts, tokens, cost and latency on stderr.
 *
 * Flags: `--provider` (only that provider, no fallback), `--model` (a model
 * id: not blank, at most 256 characters, no control character; no comma when
 * it goes into `LLM_CHAIN`), `--schema FILE` (a JSON Schema: the answer is
 * JSON matching it), `--teacher ID` (the subject charged in the ledger, a
 * subject id: not blank, at most 256 characters, no control character; a bad
 * one is refused naming the flag, not the request's `metadata.subjectId`),
 * `--reasoning none|low|medium|high` (how much a reasoning model thinks,
 * `GenerationOptions`' `reasoning`; left out, nothing is asked and the
 * model decides), `--stream`, `--json`
 * (one JSON object on stdout instead, `{"error": {...}}` on a failure, with
 * the same exit code; `{"error": {"_tag": "Interrupted", ...}}` when Ctrl-C
 * or SIGTERM stops it; an error after a request that billed something
 * carries that `usage`). When the configuration has no provider to call (no
 * API key, no OpenAI-compatible endpoint in the chain), the bundled mock
 * provider server is started in-process, once generation is known enabled
 * and the ledger usable (a refusal starts no mock).
 *
 * A prompt no request can have (empty or blank: `LlmRequest.make`'s rule)
 * is refused before anything starts, with exit code 1.
 *
 * A schema file that cannot be used (missing, not JSON, not an object, not
 * a valid JSON Schema) ends with exit code 2, as other input to fix does,
 * before anything starts: it is read and compiled first.
 *
 * @since 0.1.0
 */
import type * as Attempt from "@baton/core/Attempt"
import * as GenerationOptions from "@baton/core/GenerationOptions"
import { ModelId, SubjectId } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import { GenerationDisabled, type LlmConfigError } from "@baton/core/LlmError"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmRequest from "@baton/core/LlmRequest"
import type { ProviderError } from "@baton/core/ProviderError"
import * as StructuredOutput from "@baton/core/StructuredOutput"
import type { TokenUsage } from "@baton/core/TokenUsage"
import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
import * as Providers from "@baton/providers/Providers"
import type { DatabaseError } from "@baton/sql/SqlDatabase"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import type { MockServerStartError } from "@baton/testing/MockProviderServer"
import { Clock, Data, Duration, Effect, Layer, Option, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { readFileSync } from "node:fs"
import * as Billed from "./internal/billed.ts"
import * as Environment from "./internal/environment.ts"
import * as Exit from "./internal/exit.ts"
import * as FlagCheck from "./internal/flagCheck.ts"
import * as Ledger from "./internal/ledger.ts"
import * as Stores from "./internal/stores.ts"

const providerKinds = ["deepseek", "gemini", "openai", "anthropic"] as const

/** `sqlite:.baton/usage.sqlite`: where the ledger is when `LLM_USAGE_STORE_URL` is not set. @since 0.1.0 */
export const defaultLedgerUrl = Ledger.defaultUrl

/**
 * The manager with the usage ledger, from `LlmConfig`.
 *
 * @since 0.1.0
 */
export const Stack = LlmManager.layerConfig(Providers.layersFromConfig).pipe(
  Layer.provide(SqlUsageLedger.layerFromConfig({ fallbackUrl: defaultLedgerUrl })),
  Layer.provide([LlmConfig.layerPricing, ProviderHttpClient.layer]),
  Layer.provideMerge(LlmConfig.layer)
)

interface Flags {
  readonly prompt: string
  readonly provider: Option.Option<(typeof providerKinds)[number]>
  readonly model: Option.Option<string>
  readonly schema: Option.Option<string>
  readonly teacher: Option.Option<string>
  readonly reasoning: Option.Option<GenerationOptions.Reasoning>
  readonly stream: boolean
  readonly json: boolean
}

/** `LLM_CHAIN` with `model` as its first step's model (whether the step named one or not). */
const chainWithModel = (chain: string, model: string): string => {
  const [first = "", ...rest] = chain.split(",")
  return [`${first.trim().split("/")[0]}/${model}`, ...rest].join(",")
}

/** The variables `--provider` (that provider alone) and `--model` (the first provider's model) override. */
const overridesOf = (flags: Flags): Record<string, string> => {
  const provider = Option.getOrUndefined(flags.provider)
  const only = provider === undefined
    ? {}
    : { LLM_PRIMARY_PROVIDER: provider, LLM_FALLBACK_PROVIDER: "none", LLM_FALLBACK_PROVIDERS: "", LLM_CHAIN: "" }
  if (Option.isNone(flags.model)) return only
  const chain = provider === undefined ? process.env["LLM_CHAIN"]?.trim() : undefined
  if (chain !== undefined && chain.length > 0) return { LLM_CHAIN: chainWithModel(chain, flags.model.value) }
  // read as `LlmConfig` reads it: trimmed, any case, blank for unset
  const primary = provider ?? (process.env["LLM_PRIMARY_PROVIDER"]?.trim() || "deepseek")
  return { ...only, [`${primary.toUpperCase()}_MODEL`]: flags.model.value }
}

/** A `--schema` file that cannot be used: missing, not JSON, not an object, not a valid JSON Schema. */
class SchemaFileError extends Data.TaggedError("SchemaFileError")<{ readonly message: string }> {}

/** Flags that cannot go together. */
class CommandLineError extends Data.TaggedError("CommandLineError")<{ readonly message: string }> {}

/** A stream that ended without the manager's `Finish`. */
class NoAnswer extends Data.TaggedError("NoAnswer")<{ readonly message: string }> {}

const schemaProblem = (file: string, detail: string) => new SchemaFileError({ message: `--schema ${file}: ${detail}` })

const readSchema = (file: string): Effect.Effect<StructuredOutput.JsonSchema, SchemaFileError> =>
  Effect.try({
    try: () => {
      const value: unknown = JSON.parse(readFileSync(file, "utf8"))
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object")
      return value as StructuredOutput.JsonSchema
    },
    catch: (cause) => schemaProblem(file, cause instanceof Error ? cause.message : String(cause))
  })

/** The schema in `file`, read and compiled before anything starts: a schema the library refuses is the file's problem. */
const schemaOf = (file: string): Effect.Effect<StructuredOutput.StructuredOutput<unknown>, SchemaFileError> =>
  Effect.flatMap(readSchema(file), (schema) =>
    StructuredOutput.fromJsonSchema(schema).pipe(
      // its message is `schema: why`
      Effect.mapError((error) => schemaProblem(file, error.message.replace(/^schema: /, "")))
    ))

interface Outcome {
  readonly content: string
  readonly value?: unknown
  readonly provider: string
  readonly model: string
  readonly attempts: number
  readonly usage: TokenUsage
}

const summary = (outcome: Outcome, latencyMs: number): string =>
  `${outcome.provider}/${outcome.model} · ${outcome.attempts} attempt(s) · ` +
  `${outcome.usage.promptTokens} in / ${outcome.usage.completionTokens} out tokens · ` +
  `$${outcome.usage.estimatedCostUsd.toFixed(6)} · ${Math.round(latencyMs)} ms`

const streamed = (manager: LlmManager.Service, input: LlmManager.Input, echo: boolean) =>
  Effect.suspend(() => {
    let content = ""
    let finish: Outcome | undefined
    return Effect.gen(function*() {
      yield* Stream.runForEach(manager.stream(input), (part) =>
        Effect.sync(() => {
          switch (part._tag) {
            case "TextDelta":
              content += part.text
              if (echo) process.stdout.write(part.text)
              return
            case "Finish":
              finish = {
                content: "",
                provider: part.provider,
                model: part.model,
                // the manager's `Finish` lists every attempt
                attempts: part.attempts?.length ?? 1,
                usage: part.usage
              }
              return
            // the CLI sends no tools and asks for no restart: neither part comes
            case "ToolCallDelta":
            case "Restart":
              return
          }
        }))
      return finish === undefined ? undefined : { ...finish, content }
    }).pipe(
      // the echoed text ends its line: the answer's, or the part of one before a failure
      Effect.ensuring(Effect.sync(() => {
        if (echo && (finish !== undefined || content.length > 0)) process.stdout.write("\n")
      }))
    )
  })

/** The request the flags ask for. */
const inputOf = (flags: Flags): LlmRequest.Input => ({
  prompt: flags.prompt,
  ...Option.match(flags.reasoning, { onNone: () => ({}), onSome: (reasoning) => ({ options: { reasoning } }) }),
  metadata: { subjectId: Option.getOrUndefined(flags.teacher), tags: { feature: "cli" } }
})

const run = (
  flags: Flags,
  input: LlmRequest.Input,
  schema: Option.Option<StructuredOutput.StructuredOutput<unknown>>
) =>
  Effect.gen(function*() {
    const manager = yield* LlmManager.LlmManager
    const started = yield* Clock.currentTimeMillis
    let outcome: Outcome | undefined
    if (Option.isSome(schema)) {
      const result = yield* manager.generateStructured(input, schema.value)
      outcome = { ...result, attempts: result.attempts.length, content: JSON.stringify(result.value, null, 2) }
    } else if (flags.stream) {
      outcome = yield* streamed(manager, input, !flags.json)
    } else {
      const result = yield* manager.generate(input)
      outcome = { ...result, attempts: result.attempts.length }
    }
    const latencyMs = (yield* Clock.currentTimeMillis) - started
    if (outcome === undefined) return yield* new NoAnswer({ message: "the stream ended without an answer" })
    if (flags.json) {
      const { attempts, content, model, provider, usage, value } = outcome
      process.stdout.write(
        `${JSON.stringify({ content, value, provider, model, attempts, usage, latencyMs: Math.round(latencyMs) })}\n`
      )
    } else if (!flags.stream) {
      process.stdout.write(`${outcome.content}\n`)
    }
    process.stderr.write(`${summary(outcome, latencyMs)}\n`)
  })

/** Every way `generate` fails. */
type Failure =
  | SchemaFileError
  | CommandLineError
  | DatabaseError
  | LlmConfigError
  | MockServerStartError
  | NoAnswer
  | LlmManager.StreamError

const exitCodeOf = (error: Failure): number => {
  switch (error._tag) {
    case "CommandLineError":
    case "InvalidOptions":
      return Exit.usage
    case "SchemaFileError":
    case "DatabaseError":
    case "LlmConfigError":
    case "MockServerStartError":
      return Exit.configuration
    default:
      return Exit.failed
  }
}

/** A provider error for a script: its tag, message and, when the provider or Baton said when to retry, that wait. */
const providerErrorJson = (error: ProviderError) => ({
  _tag: error._tag,
  message: error.message,
  ...("retryAfter" in error ? { retryAfterMs: Duration.toMillis(error.retryAfter) } : {})
})

const attemptJson = (attempt: Attempt.Attempt) => ({
  provider: attempt.provider,
  model: attempt.model,
  role: attempt.role,
  outcome: attempt.outcome,
  latencyMs: Math.round(attempt.latencyMs),
  ...(attempt.error === undefined ? {} : { error: providerErrorJson(attempt.error) })
})

/** What a failed or stopped request billed, as a success's `usage`: nothing when it billed nothing. */
const usageJson = (usage: TokenUsage | undefined) => usage === undefined ? {} : { usage }

/** What a failure adds for a script: the attempts made and what they billed, the field or the variable to fix. */
const detailsOf = (error: Failure): Record<string, unknown> => {
  switch (error._tag) {
    case "AllProvidersFailed":
    case "DeadlineExceeded":
    case "StreamInterrupted":
      return { attempts: (error.attempts ?? []).map(attemptJson), ...usageJson(error.usage) }
    case "InvalidOptions":
      return { field: error.field }
    case "LlmConfigError":
      return { variable: error.variable }
    case "DatabaseError":
      return { variable: "LLM_USAGE_STORE_URL" }
    default:
      return {}
  }
}

/** Ends a failed `generate`: one line on stderr and its exit code, and with `--json` one JSON object on stdout. */
const failWith = (json: boolean) => (error: Failure) => {
  const message = error._tag === "DatabaseError" ? Exit.ledgerProblem(error.message) : error.message
  return Effect.andThen(
    Effect.sync(() => {
      if (json) {
        process.stdout.write(`${JSON.stringify({ error: { _tag: error._tag, message, ...detailsOf(error) } })}\n`)
      }
    }),
    Exit.fail(exitCodeOf(error), message)
  )
}

/**
 * With `--json`, a `generate` stopped by a signal still prints its one JSON
 * object: the error of an answer cut short, with what the request billed
 * before it stopped (the manager's reports of its attempts, the cancelled
 * one included).
 */
const interrupted = (json: boolean, billed: Billed.Billed) =>
  Effect.flatMap(billed.usage, (usage) =>
    Effect.sync(() => {
      if (json) {
        const error = { _tag: "Interrupted", message: "stopped before the answer was complete", ...usageJson(usage) }
        process.stdout.write(`${JSON.stringify({ error })}\n`)
      }
    }))

/** What `generate` refuses before it calls a provider: generation turned off, a ledger it cannot use (`Stores.ledger`). */
const refusals = LlmConfig.LlmConfig.use((settings): Effect.Effect<unknown, GenerationDisabled | DatabaseError> =>
  settings.generationEnabled ? Stores.ledger(settings) : Effect.fail(new GenerationDisabled())
)

/** `generate` summing what its request bills in `billed`, for the error of a signal's stop. */
const generateWith = (flags: Flags, billed: Billed.Billed) =>
  Effect.gen(function*() {
    if (flags.stream && Option.isSome(flags.schema)) {
      return yield* new CommandLineError({ message: "--stream and --schema cannot be used together" })
    }
    const input = inputOf(flags)
    // a request the manager would refuse (an empty or blank prompt) is refused before the ledger or a mock server
    yield* LlmRequest.make(input)
    const schema = yield* Effect.transposeOption(Option.map(flags.schema, schemaOf))
    const overrides = overridesOf(flags)
    if (Option.isSome(flags.model) && flags.model.value.includes(",") && (overrides["LLM_CHAIN"] ?? "") !== "") {
      // a comma would start another step of the chain
      return yield* new CommandLineError({
        message: `--model ${flags.model.value}: a model of LLM_CHAIN's first step cannot contain ','`
      })
    }
    const config = yield* Environment.withMockWhenNoProvider(refusals, overrides)
    yield* run(flags, input, schema).pipe(Effect.provide(Stack.pipe(Layer.provide([config, billed.layer]))))
  }).pipe(
    Effect.scoped,
    Effect.catch(failWith(flags.json)),
    Effect.onInterrupt(() => interrupted(flags.json, billed)),
    Exit.logsOnStderr
  )

const generate = (flags: Flags) => Effect.flatMap(Billed.make, (billed) => generateWith(flags, billed))

/**
 * The `generate` command.
 *
 * @since 0.1.0
 */
export const command = Command.make("generate", {
  prompt: Argument.String("prompt").pipe(Argument.withDescription("what to ask")),
  provider: Flag.Literals("provider", providerKinds).pipe(
    Flag.optional,
    Flag.withDescription("use only this provider (no fallback)")
  ),
  model: Flag.String("model").pipe(
    FlagCheck.nonBlank("a model name"),
    FlagCheck.decodes(ModelId, "a model name"),
    Flag.optional,
    Flag.withDescription("model of the first provider")
  ),
  schema: Flag.String("schema").pipe(
    Flag.optional,
    Flag.withDescription("FILE with a JSON Schema; the answer is JSON matching it")
  ),
  teacher: Flag.String("teacher").pipe(
    FlagCheck.nonBlank("a subject id"),
    FlagCheck.decodes(SubjectId, "a subject id"),
    Flag.optional,
    Flag.withDescription("subject charged in the usage ledger")
  ),
  reasoning: Flag.Literals("reasoning", GenerationOptions.Reasoning.literals).pipe(
    Flag.optional,
    Flag.withDescription("how much a reasoning model thinks (default: the model decides)")
  ),
  stream: Flag.Boolean("stream").pipe(Flag.withDefault(false), Flag.withDescription("print the answer as it comes")),
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("print one JSON object on stdout"))
}, generate).pipe(Command.withDescription("Generate an answer (the bundled mock server when no API key is set)"))
