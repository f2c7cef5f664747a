/**
 * Baton as an `effect/ai` `LanguageModel`: code written against
 * `LanguageModel.LanguageModel` gets Baton's fallback chain, retries, circuit
 * breaker, deadline, quotas, usage ledger, request logs and metrics by
 * swapping one layer.
 *
 * ```ts
 * // before: OpenAiLanguageModel.layer({ model: "gpt-4o-mini" })
 * const Model = BatonLanguageModel.layer.pipe(Layer.provide(Manager)) // Manager: an LlmManager layer
 * ```
 *
 * How `effect/ai` (Effect 4.1, `effect/ai`) maps onto Baton:
 *
 * | `effect/ai` | Baton |
 * | --- | --- |
 * | `LanguageModel.LanguageModel` (`generateText`, `generateObject`, `streamText`) | `LlmManager` (`generate`, `generateStructured`, `stream`): this layer is built with `LanguageModel.make` over the manager |
 * | `Prompt` (system / user / assistant / tool messages of parts) | `LlmRequest` messages: text parts joined per message (a user's one a line, as `effect/ai`'s OpenAI-compatible provider joins them; an assistant's with nothing between, as fragments of one answer, where `effect/ai`'s providers send each as a message of its own); an assistant's `tool-call` parts as its `toolCalls`; each `tool-result` as a `tool` message (its tool's `toModelOutput`, as text, in place of the result when it has one; a failure, `isFailure`, with `isError: true`, sent as each provider says a call failed); reasoning parts dropped; a file part is an `InvalidUserInputError` before any call |
 * | `LanguageModel.ProviderOptions.responseFormat: json` (`generateObject`) | `generateStructured` with the schema's JSON Schema (compiled once per schema and `objectName`, the name sent where a provider takes one; kept for a schema's 16 most recently used names: a name back after 16 others is compiled again), the answer checked by it and then decoded by the schema's codec (its filters too), so a non-matching answer is re-asked once (`LLM_STRUCTURED_OUTPUT_RETRIES`; not one cut at `maxTokens`) and may fall back; `generateObject` then decodes the value with its own codec. A structured answer is JSON, never a tool call: `generateObject` with a toolkit the model may call fails with an `InvalidRequestError` naming `tools` |
 * | `Response` parts | `text` (or `text-start`/`-delta`/`-end` when streaming, and a tool call's `tool-params-start`/`-delta`/`-end` as its arguments stream), `response-metadata` (`id` = Baton request id, `modelId` = the model that answered), `finish` (finish reason, `Usage` with cached and reasoning tokens apart; `metadata.baton` = provider, cost in nano-USD and USD, price source, every attempt; `sources`, every provider and model whose text the answer holds, and `rescued`, whether a broken answer was completed by another attempt) |
 * | `AiError` and its reasons | Baton's errors (`internal/aiError.ts`): `ProviderRateLimited` -> `RateLimitError` (`QuotaExhaustedError` when its server said not to retry, `x-should-retry: false`), `ProviderQuotaExhausted` and the subject quota `RateLimitExceeded` -> `QuotaExhaustedError`, `ProviderConnectionFailed`/`ProviderTimeout` -> `NetworkError` (its `url` empty: Baton's errors carry none, its `description` names the provider; `InternalProviderError` when the request was billed: a `NetworkError` has no metadata to carry it), a stream the manager ended after its first text (`StreamInterrupted`) as `HttpProblem` answers it: `InternalProviderError` (retryable: a new request may get past a broken answer), the refusal's reason when a content filter stopped it (`ContentPolicyError`, `metadata.baton.tag` `ContentFiltered`), `InternalProviderError` when the request's deadline ended it (a timeout, as the deadline before any text: retryable, `metadata.baton.tag` `StreamInterrupted`), `ProviderAuthenticationFailed` -> `AuthenticationError`, `InvalidRequest`/`ContextLengthExceeded`/`InvalidOptions` -> `InvalidRequestError`, `ContentFiltered` -> `ContentPolicyError` (the model's refusal in its own words, when it gave one, in `metadata.baton.refusal`), `MalformedResponse` -> `InvalidOutputError` (retryable, as Baton retries it: `effect/ai`'s `InvalidResponseError` never is), `StructuredOutputInvalid` -> `StructuredOutputError` (one cut at `maxTokens`, not retryable, -> `InvalidResponseError`, its message saying so), `ProviderUnavailable` -> `InternalProviderError` (`UnknownError` when its server said not to retry); `AllProvidersFailed`: every provider skipped, by its open circuit or its spent local budget (`ProviderThrottled`; a step's refusal of a model it does not serve, before any call, counts as no attempt), -> `RateLimitError` with `retryAfter` the earliest wait, when the first circuit half-opens or budget refills (`ErrorPolicy.retryAfterAllFailed`, the HTTP layers' `Retry-After`), some attempts timed out and the rest skipped (no provider refused it) -> `RateLimitError` with the skips' earliest wait (none when a skip knows no wait), every attempt timed out -> `NetworkError` (`effect/ai` has no timeout reason; `InternalProviderError` when billed), refused as the request's own fault (`ErrorPolicy.allFailed`, the HTTP layers' 400) -> the reason of the refusal it names (the first a provider was sent), else its deciding attempt, refusals passed over as one route's (the last real failure another try may get past, a rate limit with its `retryAfter`; else the last real failure; else a skip: `RateLimitError` with no wait, as the HTTP layers' 503 without `Retry-After`); `DeadlineExceeded` and `QuotaStoreUnavailable` (the request ran out of time, or could not be counted: no provider refused it) -> `InternalProviderError`. `isRetryable` equals Baton's `LlmError.isRetryable` (where the natural reason's fixed answer differs, the next reason that agrees is used), but for the manager's `StreamInterrupted` above, which Baton does not retry within the request, and for the failed chains and requests just named (all skipped, all timed out or skipped, refused on some routes and skipped on the rest, deadline, quota store), which a new request may get past: retryable |
 * | `Telemetry` (GenAI span attributes) | Baton's `chat <model>` spans (one per provider call, under its own `baton.request` span) carry the `gen_ai.*` attributes, as descendants of `effect/ai`'s own span (`LanguageModel.generateText`, `LanguageModel.generateObject`, `LanguageModel.streamText`); this layer adds none, so they are not emitted twice |
 * | `Tool` / `Toolkit`, `ToolChoice` | `LlmRequest.tools` (name, description, `Tool.getJsonSchema`) and `toolChoice`; the model's `toolCalls` come back as `tool-call` parts (finish reason `tool-calls`), so `effect/ai` runs the handlers and its tool loop (or `Chat`) continues over Baton. Tools reach providers speaking the OpenAI format (OpenAI, DeepSeek, compatible servers), Anthropic and Gemini |
 * | provider config (`withConfigOverride` in `@effect/ai-*`) | {@link Config}: the quota subject, units and request id, tags and `GenerationOptions` of every call; {@link withConfigOverride} for one call |
 *
 * Gotchas:
 * - The quota subject comes from {@link Config} (`subjectId`); without one,
 *   no quota is spent (Baton's rule for requests without a subject). A call
 *   spends {@link Config}'s `units` (a quiz: its questions), 1 by default.
 * - A failed call has no `finish` part, nor has a stream that fails after
 *   its first text (`StreamInterrupted`): the `AiError` reason's
 *   `metadata.baton` names the Baton error (`tag`, `provider`, `model`; a
 *   stream a content filter stopped mid-way: `ContentFiltered`) and
 *   what the whole request was billed (re-asked answers, a content filter's
 *   reply, text before an interruption): `usage` (in `Response.Usage`'s
 *   shape), `costNanoUsd`, `estimatedCostUsd`, `pricing`.
 * - `streamText` refuses `rescue: "restart"` in {@link Config}'s options
 *   (`InvalidRequestError` naming `rescue`, before any call): its parts
 *   cannot take back the text a restarted answer discards.
 * - Retrying an `AiError` whose `isRetryable` is true re-runs the whole Baton
 *   request (all its attempts): Baton has already retried and fallen back
 *   within the request's deadline.
 *
 * @example
 * ```ts
 * import * as BatonLanguageModel from "@baton/ai/BatonLanguageModel"
 * import { Effect } from "effect"
 * import { LanguageModel } from "effect/ai"
 *
 * const program = LanguageModel.generateText({ prompt: "One question about Mars" }).pipe(
 *   BatonLanguageModel.withConfigOverride({ subjectId: "teacher-42" })
 * )
 * // provide BatonLanguageModel.layer, itself provided with an LlmManager layer
 * ```
 *
 * @since 0.1.0
 */
import type * as GenerationOptions from "@baton/core/GenerationOptions"
import { InvalidOptions } from "@baton/core/LlmError"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as StructuredOutput from "@baton/core/StructuredOutput"
import { Cause, Context, Effect, Exit, Layer, Option, Result, Schema, Stream, Tracer } from "effect"
import { AiError, LanguageModel } from "effect/ai"
import { dual } from "effect/Function"
import { toAiError } from "./internal/aiError.ts"
import * as Prompt from "./internal/prompt.ts"
import * as Response from "./internal/response.ts"
import * as Tools from "./internal/tools.ts"

/**
 * What every call sends along, as the request's metadata (`LlmRequest`): the
 * quota subject, the `units` of its daily quota a call spends (default 1;
 * more than the per-request maximum is an `InvalidRequestError` before any
 * call), the `requestId` its logs, ledger rows and `response-metadata` carry
 * (default: a new UUID per call; one set here is every call's in its scope,
 * so the ledger's totals, `UsageLedger.totals`, which count distinct request
 * ids, count the calls in that scope as one request, each call still with
 * rows of its own), tags for logs and the ledger, and Baton's
 * `GenerationOptions` (temperature, maxTokens, model, reasoning, timeout,
 * ...; `streamText` refuses `rescue: "restart"`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  readonly subjectId?: string | undefined
  readonly units?: number | undefined
  readonly requestId?: string | undefined
  readonly tags?: Readonly<Record<string, string>> | undefined
  readonly options?: GenerationOptions.Input | undefined
}

/**
 * The {@link Config} of the calls in its scope (empty by default).
 *
 * @since 0.1.0
 * @category context
 */
export const Config: Context.Reference<Config> = Context.Reference<Config>("@baton/ai/BatonLanguageModel/Config", {
  defaultValue: () => ({})
})

/**
 * Runs an effect with `overrides` merged over the current {@link Config}
 * (tags and options merged field by field).
 *
 * @since 0.1.0
 * @category context
 */
export const withConfigOverride: {
  (overrides: Config): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, overrides: Config): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, overrides: Config): Effect.Effect<A, E, R> =>
    Effect.flatMap(Config, (config) => Effect.provideService(self, Config, merge(config, overrides)))
)

const merge = (config: Config, overrides: Config): Config => ({
  subjectId: overrides.subjectId ?? config.subjectId,
  units: overrides.units ?? config.units,
  requestId: overrides.requestId ?? config.requestId,
  tags: { ...config.tags, ...overrides.tags },
  options: { ...config.options, ...overrides.options }
})

/**
 * A stream's request, unless it asks for `rescue: "restart"`: `effect/ai`'s parts cannot take back the text a
 * restarted answer discards, so the caller would get the broken answer's text, then the whole new answer.
 */
const withoutRestart = (request: LlmRequest.LlmRequest) =>
  request.options.rescue === "restart"
    ? Effect.fail(
      toAiError("streamText")(
        new InvalidOptions({
          field: "rescue",
          message: "rescue: \"restart\" cannot be streamed as effect/ai parts (sent text cannot be taken back); " +
            "use \"auto\" or \"none\""
        })
      )
    )
    : Effect.succeed(request)

const objectNameOf = (name: string): string => name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64) || "output"

/** How many object names a schema's outputs are kept under: a program's few (a name made per call is rebuilt). */
const namesPerSchema = 16

/** `schema`'s output kept under `name`, if any, made its most recently used name. */
const recall = (
  outputs: WeakMap<Schema.Top, Map<string, StructuredOutput.StructuredOutput<unknown>>>,
  schema: Schema.Top,
  name: string
): StructuredOutput.StructuredOutput<unknown> | undefined => {
  const named = outputs.get(schema)
  const known = named?.get(name)
  if (named !== undefined && known !== undefined) {
    // a `Map` keeps insertion order: put back last, the name is the last to be dropped
    named.delete(name)
    named.set(name, known)
  }
  return known
}

/**
 * Keeps `output` as `schema`'s under `name`, dropping the schema's least recently used name past
 * {@link namesPerSchema}.
 */
const remember = (
  outputs: WeakMap<Schema.Top, Map<string, StructuredOutput.StructuredOutput<unknown>>>,
  schema: Schema.Top,
  name: string,
  output: StructuredOutput.StructuredOutput<unknown>
): void => {
  const named = outputs.get(schema) ?? new Map<string, StructuredOutput.StructuredOutput<unknown>>()
  const [leastRecent] = named.keys()
  if (named.size >= namesPerSchema && leastRecent !== undefined) named.delete(leastRecent)
  named.set(name, output)
  outputs.set(schema, named)
}

/**
 * A `LanguageModel` served by the `LlmManager` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<LanguageModel.LanguageModel, never, LlmManager.LlmManager> = Effect.gen(function*() {
  const manager = yield* LlmManager.LlmManager
  // by schema, then by object name: one schema may be asked for under several names
  const outputs = new WeakMap<Schema.Top, Map<string, StructuredOutput.StructuredOutput<unknown>>>()

  const requestOf = (method: string, options: LanguageModel.ProviderOptions) =>
    Effect.gen(function*() {
      const config = yield* Config
      const messages = yield* Prompt.toMessages(method, options.prompt)
      return yield* LlmRequest.make({
        prompt: messages,
        options: config.options,
        metadata: { subjectId: config.subjectId, units: config.units, requestId: config.requestId, tags: config.tags },
        ...Tools.toRequest(options)
      }).pipe(Effect.mapError(toAiError(method)))
    })

  const outputOf = (objectName: string, schema: Schema.Top) => {
    const name = objectNameOf(objectName)
    const known = recall(outputs, schema, name)
    if (known !== undefined) return Effect.succeed(known)
    const { codec, jsonSchema } = LanguageModel.defaultCodecTransformer(schema)
    // a schema's checks JSON Schema cannot say (filters) are `generateObject`'s own decode: Baton runs it too, on the
    // answer its JSON Schema admits, so such an answer is re-asked; the value stays the answer's JSON, which
    // `generateObject` decodes
    // (a decode that needs a service or waits cannot run here: it is left to `generateObject`)
    const decodeValue = Schema.decodeUnknownExit(codec as Schema.Codec<unknown, unknown>)
    return StructuredOutput.fromJsonSchema(jsonSchema, { name }).pipe(
      Effect.map((output): StructuredOutput.StructuredOutput<unknown> => ({
        ...output,
        decode: (text) =>
          Result.flatMap(output.decode(text), (value) => {
            const decoded = decodeValue(value, { errors: "all" })
            const issue = Exit.isFailure(decoded) ? Cause.findErrorOption(decoded.cause) : Option.none()
            return Option.isSome(issue) ? Result.fail(issue.value.message) : Result.succeed(value)
          })
      })),
      Effect.tap((output) =>
        Effect.sync(() => {
          remember(outputs, schema, name, output)
        })
      ),
      Effect.mapError((error) =>
        AiError.make({
          module: "BatonLanguageModel",
          method: "generateObject",
          reason: new AiError.UnsupportedSchemaError({ description: error.message })
        })
      )
    )
  }

  const generateText = (options: LanguageModel.ProviderOptions) => {
    const format = options.responseFormat
    if (format.type === "json") {
      return Effect.gen(function*() {
        const request = yield* requestOf("generateObject", options)
        const output = yield* outputOf(format.objectName, format.schema)
        const result = yield* manager.generateStructured(request, output).pipe(
          Effect.mapError(toAiError("generateObject"))
        )
        return Response.resultParts(result, JSON.stringify(result.value))
      })
    }
    return Effect.gen(function*() {
      const request = yield* requestOf("generateText", options)
      const result = yield* manager.generate(request).pipe(Effect.mapError(toAiError("generateText")))
      return Response.resultParts(result, result.content)
    })
  }

  // effect/ai runs a stream in its consumer's context and hands its `LanguageModel.streamText` span on only as
  // `options.span`: Baton's spans are parented on it, as `generateText`'s are on theirs
  const streamText = (options: LanguageModel.ProviderOptions) =>
    Stream.unwrap(
      Effect.map(Effect.flatMap(requestOf("streamText", options), withoutRestart), (request) =>
        manager.stream(request).pipe(
          Stream.mapError(toAiError("streamText")),
          Stream.mapAccum(Response.initialState, Response.streamParts(request.requestId))
        ))
    ).pipe(Stream.provideService(Tracer.ParentSpan, options.span))

  return yield* LanguageModel.make({ generateText, streamText })
})

/**
 * `LanguageModel.LanguageModel` from the `LlmManager` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, LlmManager.LlmManager> = Layer.effect(
  LanguageModel.LanguageModel,
  make
)
