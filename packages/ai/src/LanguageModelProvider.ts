/**
 * Any `effect/ai` `LanguageModel` as one step of Baton's chain: an
 * `@effect/ai-*` provider package (or a model made with `LanguageModel.make`)
 * becomes an `LlmProvider` layer that `LlmManager` retries, falls back from,
 * breaks the circuit of, and charges quotas, logs and the ledger for, like
 * its own adapters, without a new adapter.
 *
 * - Requests: Baton's messages become the `Prompt`; `GenerationOptions`
 *   (temperature, maxTokens, model, stop, seed) are the wrapped model's own
 *   configuration and are not passed on; the attempt limits still apply (the
 *   manager owns time).
 * - Structured output: `generateObject` with an Effect Schema rebuilt from
 *   the request's JSON Schema (`SchemaRepresentation.fromJsonSchemaDocument`,
 *   once per schema), then Baton's own decoder on the answer's JSON, so a
 *   mismatch is `StructuredOutputInvalid` and is re-asked.
 * - Results: text, finish reason and usage from the `Response` parts; usage
 *   priced with `Pricing` under the step's `name` and `model`.
 * - Errors: each `AiError` reason becomes the `ProviderError` of the same
 *   meaning (`RateLimitError` -> `ProviderRateLimited`, `InternalProviderError`
 *   -> `ProviderUnavailable`, `NetworkError` -> `ProviderConnectionFailed`,
 *   `AuthenticationError` -> `ProviderAuthenticationFailed`, ...), so Baton's
 *   one error table decides retries and fallback. A stream that fails after
 *   text, or ends without its `finish` part, is `StreamInterrupted`.
 *
 * @example
 * ```ts
 * import * as LanguageModelProvider from "@baton/ai/LanguageModelProvider"
 * import * as LlmManager from "@baton/core/LlmManager"
 * import type { Layer } from "effect"
 * import type { LanguageModel } from "effect/ai"
 *
 * declare const OpenAiModel: Layer.Layer<LanguageModel.LanguageModel> // e.g. from @effect/ai-openai
 * const Manager = LlmManager.layer({
 *   providers: [LanguageModelProvider.layer({ name: "openai", model: "gpt-4o-mini", languageModel: OpenAiModel })]
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { FinishReason, GenerationResult, StreamPart, StructuredResult } from "@baton/core/GenerationResult"
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmProvider from "@baton/core/LlmProvider"
import type { LlmRequest } from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import * as ProviderError from "@baton/core/ProviderError"
import type { StructuredOutput } from "@baton/core/StructuredOutput"
import type { TokenUsage } from "@baton/core/TokenUsage"
import { Clock, Effect, Layer, Schema, SchemaRepresentation, Stream } from "effect"
import { type AiError, LanguageModel, type Response } from "effect/ai"
import { toProviderError } from "./internal/aiError.ts"
import * as Prompt from "./internal/prompt.ts"
import { toCounts, toFinishReason } from "./internal/response.ts"

const isDefinitions = Schema.is(Schema.Record(Schema.String, Schema.Record(Schema.String, Schema.Unknown)))

/**
 * A chain step: its provider name (logs, ledger, prices, circuit key), the
 * model it reports, and the `LanguageModel` layer behind it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E, R> {
  readonly name: string
  readonly model: string
  readonly languageModel: Layer.Layer<LanguageModel.LanguageModel, E, R>
}

/**
 * What a wrapped `LanguageModel` can do, as far as Baton knows.
 *
 * @since 0.1.0
 * @category models
 */
export const capabilities: LlmProvider.Capabilities = {
  assistantPrefill: false,
  streamUsage: true,
  structuredOutput: "json-schema"
}

/**
 * The provider implementation over a built `LanguageModel`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: { readonly name: string; readonly model: string }
): Effect.Effect<LlmProvider.Service, never, LanguageModel.LanguageModel | Pricing.Pricing> =>
  Effect.gen(function*() {
    const languageModel = yield* LanguageModel.LanguageModel
    const pricing = yield* Pricing.Pricing
    const name = ProviderName.make(options.name)
    const model = ModelId.make(options.model)
    const schemas = new WeakMap<StructuredOutput<unknown>, Schema.Codec<Record<string, unknown>>>()

    const fail = (error: AiError.AiError) => toProviderError(name, model, error)
    const price = (usage: Response.Usage): TokenUsage => pricing.usage(name, model, toCounts(usage))
    /** The model's content filter stopped the answer (billed `usage`): `generate` and streams alike. */
    const contentFiltered = (usage: TokenUsage) =>
      new ProviderError.ContentFiltered({
        provider: name,
        model,
        stage: "response",
        message: `${name}'s content filter stopped the answer`,
        usage
      })

    const resultOf = (
      request: LlmRequest,
      response: { readonly text: string; readonly finishReason: Response.FinishReason; readonly usage: Response.Usage },
      started: number
    ) =>
      Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<GenerationResult, ProviderError.ProviderError> => {
        const usage = price(response.usage)
        const finishReason = toFinishReason(response.finishReason)
        if (finishReason === "content_filter") return Effect.fail(contentFiltered(usage))
        const latencyMs = now - started
        return Effect.succeed({
          content: response.text,
          usage,
          model,
          provider: name,
          latencyMs,
          finishReason,
          requestId: request.requestId,
          attempts: [{ provider: name, model, role: "primary", outcome: "success", latencyMs }]
        })
      })

    const generate = (request: LlmRequest) =>
      Effect.flatMap(Clock.currentTimeMillis, (started) =>
        languageModel.generateText({ prompt: Prompt.fromMessages(request.messages) }).pipe(
          Effect.mapError(fail),
          Effect.flatMap((response) =>
            resultOf(request, response, started)
          )
        ))

    const schemaOf = (output: StructuredOutput<unknown>): Schema.Codec<Record<string, unknown>> => {
      const known = schemas.get(output)
      if (known !== undefined) return known
      const { $defs, ...schema } = output.jsonSchema
      const decoded = SchemaRepresentation.fromJsonSchemaDocument({
        dialect: "draft-2020-12",
        schema,
        definitions: isDefinitions($defs) ? $defs : {}
      })
      // The answer of a structured request is a JSON object: its schema, typed as such.
      const built = Schema.make<Schema.Codec<Record<string, unknown>>>(decoded.ast)
      schemas.set(output, built)
      return built
    }

    const generateStructured = <A>(
      request: LlmRequest,
      output: StructuredOutput<A>
    ): Effect.Effect<StructuredResult<A>, ProviderError.ProviderError> =>
      Effect.flatMap(Clock.currentTimeMillis, (started) =>
        languageModel.generateObject({
          prompt: Prompt.fromMessages(request.messages),
          schema: schemaOf(output),
          objectName: output.name
        }).pipe(
          Effect.mapError(fail),
          Effect.flatMap((response) => resultOf(request, response, started)),
          Effect.flatMap((result): Effect.Effect<StructuredResult<A>, ProviderError.ProviderError> => {
            const decoded = output.decode(result.content)
            return decoded._tag === "Success"
              ? Effect.succeed({ ...result, value: decoded.success })
              : Effect.fail(
                new ProviderError.StructuredOutputInvalid({
                  provider: name,
                  model,
                  issue: decoded.failure,
                  content: result.content,
                  usage: result.usage
                })
              )
          })
        ))

    const stream = (request: LlmRequest): Stream.Stream<StreamPart, ProviderError.ProviderError> =>
      Stream.suspend(() => {
        let partialText = ""
        let finished = false
        // a finish by the content filter ends the stream as `generate` ends: `ContentFiltered`, billed
        let filtered: TokenUsage | undefined
        // once text was sent, a failure interrupts it, with what the error says was billed
        const interrupted = (error: ProviderError.ProviderError, reason: string) =>
          partialText.length === 0
            ? error
            : new ProviderError.StreamInterrupted({
              provider: name,
              model,
              partialText,
              reason,
              ...("usage" in error ? { usage: error.usage } : {})
            })
        const toPart = (part: Response.AnyPart): ReadonlyArray<StreamPart> => {
          if (part.type === "text-delta") {
            // an empty delta is no text: it must not count as an answer the caller was shown
            if (part.delta.length === 0) return []
            partialText += part.delta
            return [{ _tag: "TextDelta", text: part.delta }]
          }
          if (part.type !== "finish") return []
          const finishReason: FinishReason = toFinishReason(part.reason)
          if (finishReason === "content_filter") {
            filtered = price(part.usage)
            return []
          }
          finished = true
          return [{ _tag: "Finish", finishReason, usage: price(part.usage), provider: name, model }]
        }
        const ended = Stream.suspend(() =>
          finished
            ? Stream.empty
            : Stream.fail(
              filtered === undefined
                ? interrupted(
                  new ProviderError.MalformedResponse({
                    provider: name,
                    model,
                    message: `${name} stream ended without finish`
                  }),
                  "the stream ended without its finish part"
                )
                : interrupted(contentFiltered(filtered), "the provider's content filter stopped the answer")
            )
        )
        return languageModel.streamText({ prompt: Prompt.fromMessages(request.messages) }).pipe(
          Stream.mapError((error) => {
            const mapped = fail(error)
            return interrupted(mapped, mapped.message)
          }),
          Stream.flatMap((part) => Stream.fromIterable(toPart(part))),
          Stream.concat(ended)
        )
      })

    return LlmProvider.make({ name, model, capabilities, generate, generateStructured, stream })
  })

/**
 * A chain step from a `LanguageModel` layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(options: Options<E, R>): Layer.Layer<LlmProvider.LlmProvider, E, R | Pricing.Pricing> =>
  Layer.effect(LlmProvider.LlmProvider, make(options)).pipe(Layer.provide(options.languageModel))
