/**
 * Any `effect/ai` `LanguageModel` as one step of Baton's chain: an
 * `@effect/ai-*` provider package (or a model made with `LanguageModel.make`)
 * becomes an `LlmProvider` layer that `LlmManager` retries, falls back from,
 * breaks the circuit of, and charges quotas, logs and the ledger for, like
 * its own adapters, without a new adapter.
 *
 * - Requests: Baton's messages become the `Prompt`; `GenerationOptions`
 *   (temperature, maxTokens, stop, seed, reasoning) are the wrapped model's own
 *   configuration and are not passed on; the attempt limits still apply (the
 *   manager owns time). The model is the layer's too: a request naming
 *   another (`options.model`) is refused before any call, as a provider
 *   refuses a model it does not serve (`InvalidRequest`, status 404, `param`
 *   `model`, code `ProviderError.modelNotServed`), so the chain falls back to
 *   a step that serves it, and nothing is priced as a model it is not. The
 *   refused attempt is an error row naming the model asked for, at no cost;
 *   no circuit counts it (nothing was sent), but it spends the step's local
 *   budget (`ProviderThrottle`: the manager takes a request and the token
 *   estimate before the attempt and gives nothing back). An answered attempt,
 *   its log row, spans and metrics name the step's model, the one called and
 *   priced. `responseFormat: "json"` has no schema-less
 *   counterpart in `effect/ai`: as for Anthropic, an instruction asking for
 *   one JSON value is added to the system prompt.
 * - Tools: the request's tools go to the model as a toolkit of
 *   `Tool.dynamic` tools carrying their JSON Schemas, with the tool choice,
 *   and `disableToolCallResolution`: the model's calls are not run here but
 *   returned, as every Baton provider returns them (`toolCalls`, finish
 *   reason `tool_calls`; on streams, `ToolCallDelta`s as the params stream,
 *   then the assembled calls on the `Finish`). Calls the model's provider ran
 *   itself (`providerExecuted`) are not the caller's and are left out.
 * - Structured output: `generateObject` with an Effect Schema rebuilt from
 *   the request's JSON Schema (`SchemaRepresentation.fromJsonSchemaDocument`,
 *   once per schema), then Baton's own decoder on the answer's JSON, so a
 *   mismatch is `StructuredOutputInvalid` and is re-asked (unless cut at
 *   its token limit). Any JSON Schema
 *   `StructuredOutput` takes is served: draft-07 and 2019-09 are read as
 *   they mean (`definitions` and `$ref`s into them, tuple `items` lists),
 *   patterns are left to Baton's decoder, and a schema the import cannot
 *   express (`if` / `then`, `contains`, `not`, ...) is asked for with
 *   `generateText` and the schema in the system prompt. The answer is read
 *   as `effect/ai` hands it to its span transformer (`CurrentSpanTransformer`:
 *   one in the call's context or the step's is still called; one provided
 *   to the `LanguageModel` layer alone is not, for structured calls), before
 *   `effect/ai`'s own decode: an answer that decode
 *   rejects is still billed (`StructuredOutputInvalid` with its usage), and
 *   one the content filter stopped is `ContentFiltered`. That decode
 *   recurses a level of the answer at a time: an answer nested past
 *   `StructuredOutput.maxAnswerDepth` that overflows the stack there is
 *   refused by Baton's decoder for its depth, as on any step (any other
 *   defect stays one). A `LanguageModel`
 *   not made with `LanguageModel.make` may not call the transformer; its
 *   rejected answers are then `StructuredOutputInvalid` without usage.
 * - Results: text, finish reason and usage from the `Response` parts; usage
 *   priced with `Pricing` under the step's `name` and `model` (a prompt or
 *   completion total the model does not report is the sum of the parts it
 *   does: uncached, cache reads and writes; text and reasoning). A side it
 *   reports neither of (all of it, from a server that reports no usage) is
 *   Baton's estimate (`TokenUsage.estimate`: the prompt sent, the answer's
 *   text, its tool calls' names and arguments, and its reasoning, four
 *   characters a token), and the usage says so (`estimated: true`, as do the
 *   log record and the ledger row), so the call is still charged.
 * - Errors: each `AiError` reason becomes the `ProviderError` of the same
 *   meaning (`RateLimitError` -> `ProviderRateLimited`, `InternalProviderError`
 *   -> `ProviderUnavailable`, `NetworkError` -> `ProviderConnectionFailed`,
 *   `AuthenticationError` -> `ProviderAuthenticationFailed`, an
 *   `UnknownError` carrying an HTTP status `effect/ai` does not name (408,
 *   409, 404, ...) -> the error Baton's adapters read from that status
 *   (`ProviderError.fromStatus`: a 408 is `ProviderUnavailable`, retried),
 *   one with no status -> `Defect`: not retried, falls back, ...), so Baton's one error table
 *   decides retries and fallback. An answer the model's
 *   content filter stops is `ContentFiltered`, with the usage its finish
 *   reported; one whose finish reason is `error` (its provider failed it
 *   in the response itself) is `ProviderUnavailable`, a stream's with what
 *   its `error` part says; a stream that ends without its `finish` part is
 *   `MalformedResponse` (all as below once a stream sent text).
 * - Reasoning (`reasoning-delta` parts) is not handed on, but tells the
 *   supervisor the stream is alive (`LlmProvider.Supervisor`'s `reasoning`),
 *   so a model that reasons longer than the first-token limit is not cut.
 * - Broken streams follow `LlmProvider.Supervisor`, as Baton's adapters do:
 *   under a supervisor (every `LlmManager` attempt) a stream that fails
 *   after some text fails with the underlying error, since the manager knows
 *   what it delivered and decides (rescue on the next attempt or step, or a
 *   final `StreamInterrupted`); used on its own, the step fails with
 *   `StreamInterrupted` carrying the text it sent. Either way a stream that
 *   breaks after text, tool calls or reasoning is billed: the usage its error
 *   reported, else the estimate of what came (`estimated: true`), told to
 *   the supervisor (so the attempt's log row, the ledger and the request's
 *   final error carry it) or on the `StreamInterrupted`; one its consumer
 *   stops there (a caller gone, a hedge lost) tells the supervisor that
 *   estimate.
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
import {
  type FinishReason,
  type GenerationResult,
  responseIdOf,
  type StreamPart,
  type StructuredResult
} from "@baton/core/GenerationResult"
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import type { LlmConfigError } from "@baton/core/LlmError"
import * as LlmProvider from "@baton/core/LlmProvider"
import type { LlmRequest, Message } from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import * as ProviderError from "@baton/core/ProviderError"
import {
  answerNestsTooDeep,
  decodeResult,
  jsonInstruction,
  type JsonSchema,
  type StructuredOutput
} from "@baton/core/StructuredOutput"
import { estimate, type TokenCounts, type TokenUsage } from "@baton/core/TokenUsage"
import type * as BatonTool from "@baton/core/Tool"
import { Clock, Effect, Layer, Option, Predicate, Schema, SchemaRepresentation, Stream } from "effect"
import { type AiError, LanguageModel, type Response, Telemetry, Tool, type Toolkit } from "effect/ai"
import { toProviderError } from "./internal/aiError.ts"
import * as Prompt from "./internal/prompt.ts"
import { toCounts, toFinishReason } from "./internal/response.ts"

const isDefinitions = Schema.is(Schema.Record(Schema.String, Schema.Record(Schema.String, Schema.Unknown)))

/**
 * The request's messages, with `instruction` in the system prompt: by default the JSON instruction when the request
 * asks for JSON.
 */
const messagesOf = (
  request: LlmRequest,
  instruction = request.options.responseFormat === "json" ? jsonInstruction : undefined
): ReadonlyArray<Message> => {
  if (instruction === undefined) return request.messages
  const [first, ...rest] = request.messages
  return first?.role === "system"
    ? [{ role: "system", content: `${first.content}\n\n${instruction}` }, ...rest]
    : [{ role: "system", content: instruction }, ...request.messages]
}

/**
 * How a structured request is asked: with the codec `generateObject` is given, or, when no codec says its JSON
 * Schema, as text with the instruction in the system prompt that does.
 */
type Asked = Schema.Codec<Record<string, unknown>> | string

/** The reasons `generateObject` fails with once it has the answer: its own decode rejected it. */
const rejectedAnswer: ReadonlySet<string> = new Set([
  "StructuredOutputError",
  "InvalidOutputError",
  "UnsupportedSchemaError"
])

/** The older dialects `StructuredOutput` takes, as its `$schema` names them (less an empty fragment `#`). */
const draft07 = "http://json-schema.org/draft-07/schema"
const draft2019 = "https://json-schema.org/draft/2019-09/schema"

/**
 * The request's JSON Schema as an Effect Schema, read as Draft 2020-12 says what the schema's own dialect means:
 * `definitions` join `$defs` and a `$ref` into them points there; in draft-07 a `$ref` ignores the keywords beside
 * it; in draft-07 and 2019-09 an `items` list is a tuple (`prefixItems`, then `additionalItems`). Patterns are left
 * out (Baton's own decoder checks them). Throws for what the import cannot express.
 */
const importSchema = (jsonSchema: JsonSchema): Schema.Codec<Record<string, unknown>> => {
  const { $defs, definitions, ...schema } = jsonSchema
  const defs = isDefinitions($defs) ? $defs : {}
  const older = isDefinitions(definitions) ? definitions : {}
  if (Object.keys(older).some((key) => Object.hasOwn(defs, key))) throw new Error("definitions and $defs share a name")
  const dialect = typeof schema.$schema === "string" ? schema.$schema.replace(/#$/, "") : undefined
  const decoded = SchemaRepresentation.fromJsonSchemaDocument({
    dialect: "draft-2020-12",
    schema,
    definitions: { ...older, ...defs }
  }, {
    patterns: "ignore",
    onEnter: (node) => {
      if (typeof node.$ref === "string") {
        const $ref = node.$ref.replace(/^#\/definitions\//, "#/$defs/")
        return dialect === draft07 ? { $ref } : { ...node, $ref }
      }
      if (!Array.isArray(node.items) || (dialect !== draft07 && dialect !== draft2019)) return node
      const { additionalItems, items, ...rest } = node
      return { ...rest, prefixItems: items, ...(additionalItems === undefined ? {} : { items: additionalItems }) }
    }
  })
  // The answer of a structured request is a JSON object: its schema, typed as such.
  return Schema.make<Schema.Codec<Record<string, unknown>>>(decoded.ast)
}

/**
 * How to ask for `jsonSchema`: as its imported codec or, when the import cannot express it, with the schema in the
 * system prompt. Not with a codec for any JSON object: a model's own codec transformer may re-shape it (OpenAI's
 * strict mode asks for a record as `[key, value]` pairs) or pin it (a closed empty object).
 */
const askedOf = (jsonSchema: JsonSchema): Asked => {
  try {
    return importSchema(jsonSchema)
  } catch {
    return `${jsonInstruction} It must match this JSON Schema:\n${JSON.stringify(jsonSchema)}`
  }
}

/** A Baton tool as an `effect/ai` one: its name, description and JSON Schema, no handler. */
const toolOf = (tool: BatonTool.Tool) =>
  Tool.dynamic(tool.name, { description: tool.description, parameters: tool.parameters })

/** The tools a toolkit declares. */
type Declared = Record<string, ReturnType<typeof toolOf>>

/**
 * The request's tools as a toolkit whose calls are never run here: every call
 * passes `disableToolCallResolution`, so `handle` is never reached.
 */
const toolkitOf = (tools: ReadonlyArray<BatonTool.Tool>): Toolkit.WithHandler<Declared> => {
  const declared: Declared = {}
  for (const tool of tools) declared[tool.name] = toolOf(tool)
  return {
    tools: declared,
    handle: (name) => Effect.die(new Error(`LanguageModelProvider does not run tools (asked to run ${name})`))
  }
}

const noTools = toolkitOf([])

/** The id the model's provider gave its response (a `response-metadata` part's), when it gave one Baton keeps. */
const metadataIdOf = (content: ReadonlyArray<Response.AnyPart>): string | undefined => {
  for (const part of content) {
    if (part.type === "response-metadata" && part.id !== undefined) return responseIdOf(part.id)
  }
  return undefined
}

/** What an `error` part of a stream says, when it says it in words. */
const errorDetailOf = (part: Response.ErrorPart): string | undefined =>
  typeof part.error === "string"
    ? part.error
    : Predicate.hasProperty(part.error, "message") && typeof part.error.message === "string"
    ? part.error.message
    : undefined

/** A tool call of the model's answer, unless the model's provider ran it itself. */
const toolCallOf = (part: Response.AnyPart): BatonTool.ToolCall | undefined =>
  part.type === "tool-call" && !part.providerExecuted
    ? { id: part.id, name: String(part.name), arguments: JSON.stringify(part.params ?? {}) }
    : undefined

/** What an estimate counts of tool calls: each call's name and arguments, which the model wrote. */
const callsText = (calls: Iterable<{ readonly name: string; readonly arguments: string }>): string =>
  Array.from(calls, (call) => call.name + call.arguments).join("")

/** The characters of reasoning in an answer's parts. */
const reasoningOf = (content: ReadonlyArray<Response.AnyPart>): number =>
  content.reduce((chars, part) => part.type === "reasoning" ? chars + part.text.length : chars, 0)

/**
 * A chain step: its provider name (logs, ledger, prices, circuit key), the
 * model it reports, and the `LanguageModel` layer behind it. The name must be
 * a `ProviderName` and the model (trimmed) a `ModelId`, else building the
 * step fails with an `LlmConfigError` naming the option.
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
 * The provider implementation over a built `LanguageModel`. Fails with an
 * `LlmConfigError` naming `name` or `model` when it is not a valid provider
 * name or model id.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: { readonly name: string; readonly model: string }
): Effect.Effect<LlmProvider.Service, LlmConfigError, LanguageModel.LanguageModel | Pricing.Pricing> =>
  Effect.gen(function*() {
    const name = yield* LlmConfig.option(ProviderName, "name", options.name)
    const model = yield* LlmConfig.option(ModelId, "model", options.model.trim())
    const languageModel = yield* LanguageModel.LanguageModel
    const pricing = yield* Pricing.Pricing
    const askedBy = new WeakMap<StructuredOutput<unknown>, Asked>()
    // the span transformer effect/ai's model falls back on: the one this step was built with
    const builtTransformer = yield* Effect.serviceOption(Telemetry.CurrentSpanTransformer)
    // one toolkit per request's tools: retries, re-asks and fallbacks of a request share its tools array
    const toolkits = new WeakMap<ReadonlyArray<BatonTool.Tool>, Toolkit.WithHandler<Declared>>()
    const toolkitFor = (tools: ReadonlyArray<BatonTool.Tool> | undefined) => {
      // no tools: an empty toolkit, which `effect/ai` treats as none
      if (tools === undefined) return noTools
      const known = toolkits.get(tools)
      if (known !== undefined) return known
      const built = toolkitOf(tools)
      toolkits.set(tools, built)
      return built
    }
    /** The prompt (with `instruction`, if any), and the request's tools (declared, never run) with its tool choice. */
    const callOptions = (request: LlmRequest, instruction?: string) => ({
      prompt: Prompt.fromMessages(messagesOf(request, instruction)),
      toolkit: toolkitFor(request.tools),
      toolChoice: request.toolChoice ?? "auto",
      disableToolCallResolution: true as const
    })

    /**
     * Nothing for a request this step serves; the refusal of one naming another model (`options.model`), before any
     * call: the wrapped model is fixed by its layer, so answering with it would price, log and trace one model as
     * another. With code `ProviderError.modelNotServed` (status 404, as a provider that does not know a model
     * answers): the chain falls back, and no circuit counts it, as nothing was sent.
     */
    const served = (request: LlmRequest): Effect.Effect<void, ProviderError.InvalidRequest> => {
      const named = request.options.model
      return named === undefined || named === model ? Effect.void : Effect.fail(
        new ProviderError.InvalidRequest({
          provider: name,
          model: named,
          status: 404,
          param: "model",
          code: ProviderError.modelNotServed,
          message: `${name} is an effect/ai LanguageModel step of model ${model} only: the request names ${named}`
        })
      )
    }
    const fail = (error: AiError.AiError) => toProviderError(name, model, error)
    /** Counts priced under the step's name and model, flagged when they are Baton's estimate. */
    const priced = ({ counts, estimated }: { readonly counts: TokenCounts; readonly estimated: boolean }) => {
      const usage = pricing.usage(name, model, counts)
      return estimated ? { ...usage, estimated } : usage
    }
    /**
     * The estimate of a call (`TokenUsage.estimate`): the prompt it sent (`messages`), `output` characters of answer
     * (its text, its tool calls' names and arguments) and `reasoned` characters of reasoning.
     */
    const guess = (messages: ReadonlyArray<Message>, output: string, reasoned: number): TokenCounts =>
      estimate(messages.map((message) => message.content), output, reasoned)
    /** What an answer billed: the usage its finish reported, a side it did not report estimated from what came. */
    const price = (usage: Response.Usage, estimated: () => TokenCounts): TokenUsage =>
      priced(toCounts(usage, estimated))
    /**
     * The error of an answer its model stopped, by its finish reason (`generate` and streams alike): the content
     * filter's, billed `usage`; or an `error`, with what the stream's `error` part said (`detail`). None for an
     * answer.
     */
    const stoppedBy = (
      reason: Response.FinishReason,
      usage: TokenUsage,
      detail?: string
    ): ProviderError.ProviderError | undefined => {
      switch (reason) {
        case "content-filter":
          return new ProviderError.ContentFiltered({
            provider: name,
            model,
            stage: "response",
            message: `${name}'s content filter stopped the answer`,
            usage
          })
        case "error":
          return new ProviderError.ProviderUnavailable({
            provider: name,
            model,
            status: 500,
            message: `${name} ended its answer with an error${detail === undefined ? "" : `: ${detail}`}`,
            usage
          })
        default:
          return undefined
      }
    }

    /** The result of an answer to `request`, asked with `instruction` (the default: `messagesOf`'s). */
    const resultOf = (
      request: LlmRequest,
      response: {
        readonly text: string
        readonly finishReason: Response.FinishReason
        readonly usage: Response.Usage
        readonly content: ReadonlyArray<Response.AnyPart>
      },
      started: number,
      instruction?: string
    ) =>
      Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<GenerationResult, ProviderError.ProviderError> => {
        const toolCalls = response.content.flatMap((part) => toolCallOf(part) ?? [])
        const usage = price(
          response.usage,
          () =>
            guess(messagesOf(request, instruction), response.text + callsText(toolCalls), reasoningOf(response.content))
        )
        const stopped = stoppedBy(response.finishReason, usage)
        if (stopped !== undefined) return Effect.fail(stopped)
        const finishReason = toFinishReason(response.finishReason)
        const latencyMs = now - started
        const responseId = metadataIdOf(response.content)
        return Effect.succeed({
          content: response.text,
          usage,
          model,
          provider: name,
          latencyMs,
          finishReason,
          requestId: request.requestId,
          attempts: [{ provider: name, model, role: "primary", outcome: "success", latencyMs }],
          ...(responseId === undefined ? {} : { responseId }),
          ...(toolCalls.length === 0 ? {} : { toolCalls })
        })
      })

    const generate = (request: LlmRequest) =>
      served(request).pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.flatMap((started) =>
          languageModel.generateText(callOptions(request)).pipe(
            Effect.mapError(fail),
            Effect.flatMap((response) => resultOf(request, response, started))
          )
        )
      )

    const askedFor = (output: StructuredOutput<unknown>): Asked => {
      const known = askedBy.get(output)
      if (known !== undefined) return known
      const built = askedOf(output.jsonSchema)
      askedBy.set(output, built)
      return built
    }

    const generateStructured = <A>(
      request: LlmRequest,
      output: StructuredOutput<A>
    ): Effect.Effect<StructuredResult<A>, ProviderError.ProviderError> =>
      Effect.gen(function*() {
        yield* served(request)
        const started = yield* Clock.currentTimeMillis
        const asked = askedFor(output)
        // the response as effect/ai hands it to the span transformer, before its own decode: an answer it rejects
        // (not JSON, no text, not its codec's) is still the attempt's, billed, and Baton's decoder's to judge
        let seen: Array<Response.Part<Declared>> | undefined
        const transformer = Option.orElse(yield* Effect.serviceOption(Telemetry.CurrentSpanTransformer), () =>
          builtTransformer)
        const response = yield* (typeof asked === "string"
          ? languageModel.generateText(callOptions(request, asked))
          : languageModel.generateObject({ ...callOptions(request), schema: asked, objectName: output.name })).pipe(
            Effect.provideService(Telemetry.CurrentSpanTransformer, (options) => {
              // `generateObject` and `generateText` hand on their response's parts, typed as any tools' parts
              seen = options.response as Array<Response.Part<Declared>>
              if (Option.isSome(transformer)) {
                transformer.value(options)
              }
            }),
            Effect.catch((error) =>
              seen === undefined || !rejectedAnswer.has(error.reason._tag)
                ? Effect.fail(fail(error))
                : Effect.succeed(new LanguageModel.GenerateTextResponse(seen))
            ),
            // effect/ai's codec decodes the answer a level at a time before Baton's decoder: an answer nested deep
            // enough overflows the stack there, and is Baton's decoder's to refuse for its depth
            Effect.catchDefect((defect) => {
              const answered = seen === undefined ? undefined : new LanguageModel.GenerateTextResponse(seen)
              return answered !== undefined && answerNestsTooDeep(answered.text)
                ? Effect.succeed(answered)
                : Effect.die(defect)
            })
          )
        return yield* resultOf(request, response, started, typeof asked === "string" ? asked : undefined).pipe(
          Effect.flatMap((result) =>
            Effect.fromResult(decodeResult(output, result))
          )
        )
      })

    const stream = (request: LlmRequest): Stream.Stream<StreamPart, ProviderError.ProviderError> =>
      Stream.unwrap(LlmProvider.Supervisor.use((supervisor) =>
        Effect.map(served(request), () => {
          let partialText = ""
          // characters of reasoning the model streamed (never handed on): billed, estimated, if no usage says it
          let reasoned = 0
          // its `Finish` was sent, or its failure made (the bill told): nothing more to account for
          let finished = false
          // the model's id of its response (a `response-metadata` part), for the `Finish`
          let responseId: string | undefined
          // what the model's `error` part said, if it sent one
          let errorDetail: string | undefined
          // a finish by the content filter or an error ends the stream as `generate` ends: with its error
          let stopped: ProviderError.ProviderError | undefined
          // the tool calls whose params stream (by id, in the order they started), and the complete ones
          const calls = new Map<string, { readonly index: number; readonly name: string; arguments: string }>()
          const complete = new Set<string>()
          const messages = messagesOf(request)
          // the estimate of what came: the text, the tool calls' names and arguments, the reasoning
          const estimated = () => guess(messages, partialText + callsText(calls.values()), reasoned)
          // what a stream that stops before its finish billed, once output or reasoning came: the estimate of it
          const billedSoFar = (): TokenUsage | undefined => {
            const counts = estimated()
            return counts.completionTokens > 0 ? priced({ counts, estimated: true }) : undefined
          }
          // a supervisor knows what it delivered and decides what a break means: it gets the error itself, and is
          // told what the call billed (what the error says, else `billedSoFar`); on its own, once text was sent, a
          // failure interrupts it, with that usage
          const broken = (error: ProviderError.ProviderError, reason: string) => {
            finished = true
            const usage = ("usage" in error ? error.usage : undefined) ?? billedSoFar()
            if (supervisor !== undefined) {
              if (usage !== undefined) supervisor.usage(usage)
              return error
            }
            return partialText.length === 0 ? error : new ProviderError.StreamInterrupted({
              provider: name,
              model,
              partialText,
              reason,
              ...(usage === undefined ? {} : { usage })
            })
          }
          const delta = (id: string, toolName: string, argumentsDelta: string): ReadonlyArray<StreamPart> => {
            const call = calls.get(id) ?? { index: calls.size, name: toolName, arguments: "" }
            calls.set(id, call)
            call.arguments += argumentsDelta
            return [{ _tag: "ToolCallDelta", index: call.index, id, name: call.name, argumentsDelta }]
          }
          const toPart = (part: Response.AnyPart): ReadonlyArray<StreamPart> => {
            switch (part.type) {
              case "text-delta": {
                // an empty delta is no text: it must not count as an answer the caller was shown
                if (part.delta.length === 0) return []
                partialText += part.delta
                return [{ _tag: "TextDelta", text: part.delta }]
              }
              case "tool-params-start":
                return part.providerExecuted ? [] : delta(part.id, part.name, "")
              case "tool-params-delta": {
                const call = calls.get(part.id)
                return call === undefined || part.delta.length === 0 ? [] : delta(part.id, call.name, part.delta)
              }
              case "tool-call": {
                const call = toolCallOf(part)
                if (call === undefined) return []
                complete.add(call.id)
                // a call whose params did not stream (or streamed nothing) sends them whole
                const streamed = calls.get(call.id)
                return streamed === undefined || streamed.arguments.length === 0
                  ? delta(call.id, call.name, call.arguments)
                  : []
              }
              case "reasoning-delta":
                // reasoning is not the answer, but the model at work: the stream is alive for the supervisor
                reasoned += part.delta.length
                if (part.delta.length > 0) supervisor?.reasoning?.()
                return []
              case "response-metadata":
                responseId = responseIdOf(part.id) ?? responseId
                return []
              case "error":
                errorDetail = errorDetailOf(part) ?? errorDetail
                return []
              case "finish": {
                const usage = price(part.usage, estimated)
                supervisor?.usage(usage)
                stopped = stoppedBy(part.reason, usage, errorDetail)
                if (stopped !== undefined) return []
                const finishReason: FinishReason = toFinishReason(part.reason)
                finished = true
                const toolCalls = [...calls].flatMap(([id, call]) =>
                  complete.has(id) ? [{ id, name: call.name, arguments: call.arguments }] : []
                )
                return [LlmProvider.finishPart({ finishReason, usage, provider: name, model, responseId, toolCalls })]
              }
              default:
                return []
            }
          }
          const ended = Stream.suspend(() =>
            finished
              ? Stream.empty
              : Stream.fail(
                stopped === undefined
                  ? broken(
                    new ProviderError.MalformedResponse({
                      provider: name,
                      model,
                      message: `${name} stream ended without finish`
                    }),
                    "the stream ended without its finish part"
                  )
                  : broken(
                    stopped,
                    stopped._tag === "ContentFiltered"
                      ? "the provider's content filter stopped the answer"
                      : stopped.message
                  )
              )
          )
          return languageModel.streamText(callOptions(request)).pipe(
            Stream.mapError((error) => {
              const mapped = fail(error)
              return broken(mapped, mapped.message)
            }),
            Stream.flatMap((part) => Stream.fromIterable(toPart(part))),
            Stream.concat(ended),
            // stopped before its end by its consumer (a caller gone, a hedge lost): the supervisor is told the bill,
            // unless a finish told it already (one that stopped the answer, its error still to come)
            Stream.ensuring(Effect.sync(() => {
              const usage = finished || stopped !== undefined ? undefined : billedSoFar()
              if (usage !== undefined) supervisor?.usage(usage)
            }))
          )
        })
      ))

    return LlmProvider.make({ name, model, capabilities, generate, generateStructured, stream })
  })

/**
 * A chain step from a `LanguageModel` layer; fails to build with an
 * `LlmConfigError` naming `name` or `model` when either is invalid.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(
  options: Options<E, R>
): Layer.Layer<LlmProvider.LlmProvider, E | LlmConfigError, R | Pricing.Pricing> =>
  Layer.effect(LlmProvider.LlmProvider, make(options)).pipe(Layer.provide(options.languageModel))
