/**
 * The one interface every LLM provider implements.
 *
 * An `LlmProvider` generates text, generates structured output decoded by a
 * schema, and streams. Each adapter (`@baton/providers`: DeepSeek, Gemini,
 * OpenAI, Anthropic, any OpenAI-compatible endpoint) is a `Layer` providing
 * this one tag, so a program written against `LlmProvider` runs on any of
 * them, and the manager composes several into a fallback chain.
 *
 * A provider makes exactly one attempt per call: no retries, no fallback, no
 * quota. Those belong to `LlmManager`. It maps every failure to a
 * `ProviderError` and reports usage from the provider's own fields.
 *
 * Adapters implement the lower-level `Implementation` (structured output
 * arrives as a ready `StructuredOutput`) and wrap it with `make`, which adds
 * the public `generateStructured` that takes an Effect `Schema` or a raw JSON
 * Schema.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import * as LlmProvider from "@baton/core/LlmProvider"
 *
 * const Question = Schema.Struct({ question: Schema.String, answer: Schema.String })
 *
 * const program = Effect.gen(function*() {
 *   const text = yield* LlmProvider.generate({ prompt: "Say hi" })
 *   const quiz = yield* LlmProvider.generateStructured({ prompt: "One question on Mars" }, Question)
 *   return [text.content, quiz.value.question]
 * })
 * // provide a provider layer, e.g. DeepSeek.layerConfig from @baton/providers
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Schema, Stream } from "effect"
import type { GenerationResult, StreamPart, StructuredResult } from "./GenerationResult.ts"
import type { ModelId, ProviderName } from "./Ids.ts"
import type { InvalidOptions } from "./LlmError.ts"
import * as LlmRequest from "./LlmRequest.ts"
import type { ProviderError } from "./ProviderError.ts"
import * as StructuredOutput from "./StructuredOutput.ts"

/**
 * What a provider can do beyond the basics; the manager reads these (e.g. to
 * continue a cut stream only on a provider that accepts an assistant prefill).
 *
 * @since 0.1.0
 */
export interface Capabilities {
  /** The model continues a final `assistant` message instead of answering anew. */
  readonly assistantPrefill: boolean
  /** Streams report token usage at their end. */
  readonly streamUsage: boolean
  /** How structured output is enforced: a JSON Schema the provider honours, or JSON mode plus the schema in the prompt. */
  readonly structuredOutput: "json-schema" | "json-mode"
}

/**
 * What an adapter implements.
 *
 * @since 0.1.0
 */
export interface Implementation {
  readonly name: ProviderName
  /** The model used when the request names none. */
  readonly model: ModelId
  readonly capabilities: Capabilities
  readonly generate: (request: LlmRequest.LlmRequest) => Effect.Effect<GenerationResult, ProviderError>
  readonly generateStructured: <A>(
    request: LlmRequest.LlmRequest,
    output: StructuredOutput.StructuredOutput<A>
  ) => Effect.Effect<StructuredResult<A>, ProviderError>
  readonly stream: (request: LlmRequest.LlmRequest) => Stream.Stream<StreamPart, ProviderError>
}

/**
 * Structured generation from any schema specification.
 *
 * @since 0.1.0
 */
export interface GenerateStructured {
  <A>(
    request: LlmRequest.LlmRequest,
    schema: Schema.Codec<A, unknown> | StructuredOutput.StructuredOutput<A>
  ): Effect.Effect<StructuredResult<A>, ProviderError | InvalidOptions>
  (
    request: LlmRequest.LlmRequest,
    schema: StructuredOutput.JsonSchema
  ): Effect.Effect<StructuredResult<unknown>, ProviderError | InvalidOptions>
}

/**
 * The service every provider layer provides.
 *
 * @since 0.1.0
 */
export interface Service extends Omit<Implementation, "generateStructured"> {
  readonly generateStructured: GenerateStructured
  /** The adapter's own structured generation, for callers that already hold a `StructuredOutput`. */
  readonly generateStructuredOutput: Implementation["generateStructured"]
}

/**
 * The provider tag.
 *
 * @since 0.1.0
 */
export class LlmProvider extends Context.Service<LlmProvider, Service>()("@baton/core/LlmProvider") {}

/**
 * Wraps an adapter's implementation into the service.
 *
 * @since 0.1.0
 */
export const make = (implementation: Implementation): Service => {
  function generateStructured<A>(
    request: LlmRequest.LlmRequest,
    schema: Schema.Codec<A, unknown> | StructuredOutput.StructuredOutput<A>
  ): Effect.Effect<StructuredResult<A>, ProviderError | InvalidOptions>
  function generateStructured(
    request: LlmRequest.LlmRequest,
    schema: StructuredOutput.JsonSchema
  ): Effect.Effect<StructuredResult<unknown>, ProviderError | InvalidOptions>
  function generateStructured(
    request: LlmRequest.LlmRequest,
    spec: StructuredOutput.Spec<unknown>
  ): Effect.Effect<StructuredResult<unknown>, ProviderError | InvalidOptions> {
    return Effect.flatMap(
      StructuredOutput.fromSpec(spec),
      (output) => implementation.generateStructured(request, output)
    )
  }
  return LlmProvider.of({
    ...implementation,
    generateStructured,
    generateStructuredOutput: implementation.generateStructured
  })
}

/**
 * A layer providing an implementation.
 *
 * @since 0.1.0
 */
export const layer = (implementation: Implementation): Layer.Layer<LlmProvider> =>
  Layer.succeed(LlmProvider, make(implementation))

const toRequest = LlmRequest.fromInput

/**
 * Generates text with the current provider.
 *
 * @since 0.1.0
 */
export const generate = (
  input: LlmRequest.Input | LlmRequest.LlmRequest
): Effect.Effect<GenerationResult, ProviderError | InvalidOptions, LlmProvider> =>
  Effect.flatMap(toRequest(input), (request) => LlmProvider.use((provider) => provider.generate(request)))

/**
 * Generates a value decoded by a schema with the current provider.
 *
 * @since 0.1.0
 */
export function generateStructured<A>(
  input: LlmRequest.Input | LlmRequest.LlmRequest,
  schema: Schema.Codec<A, unknown> | StructuredOutput.StructuredOutput<A>
): Effect.Effect<StructuredResult<A>, ProviderError | InvalidOptions, LlmProvider>
export function generateStructured(
  input: LlmRequest.Input | LlmRequest.LlmRequest,
  schema: StructuredOutput.JsonSchema
): Effect.Effect<StructuredResult<unknown>, ProviderError | InvalidOptions, LlmProvider>
export function generateStructured(
  input: LlmRequest.Input | LlmRequest.LlmRequest,
  spec: StructuredOutput.Spec<unknown>
): Effect.Effect<StructuredResult<unknown>, ProviderError | InvalidOptions, LlmProvider> {
  return Effect.flatMap(
    Effect.zip(toRequest(input), StructuredOutput.fromSpec(spec)),
    ([request, output]) => LlmProvider.use((provider) => provider.generateStructuredOutput(request, output))
  )
}

/**
 * Streams text deltas, then a `Finish` with the usage, from the current provider.
 *
 * @since 0.1.0
 */
export const stream = (
  input: LlmRequest.Input | LlmRequest.LlmRequest
): Stream.Stream<StreamPart, ProviderError | InvalidOptions, LlmProvider> =>
  Stream.unwrap(
    Effect.flatMap(toRequest(input), (request) => LlmProvider.useSync((provider) => provider.stream(request)))
  )
