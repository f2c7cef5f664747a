/**
 * What a successful generation returns, and the parts a stream is made of.
 *
 * A `GenerationResult` has the text, the priced `TokenUsage` of the whole
 * request (every billed attempt, not only the answering one), the provider
 * and model that answered, the latency of the answering attempt, the
 * normalised `finishReason` and every attempt that led to it (retries,
 * fallbacks and hedges included), so a caller can always see what a result
 * cost and where it came from.
 *
 * A stream is a `Stream` of `StreamPart`s: `TextDelta`s (and, when the model
 * calls tools, `ToolCallDelta`s as the provider streams each call's
 * arguments), then exactly one `Finish` carrying the finish reason, the usage
 * and the assembled tool calls. A stream that ends without its `Finish` was
 * cut, and fails rather than ending quietly: an adapter's with
 * `ProviderConnectionFailed` or `MalformedResponse`, `LlmManager.stream`
 * (once text reached the caller and no rescue completed the answer) with
 * `StreamInterrupted`. `LlmManager.stream` with `rescue: "restart"` may send one
 * `Restart` when it restarts a broken answer: discard the text received so
 * far, the whole new answer follows.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Attempt } from "./Attempt.ts"
import { ModelId, ProviderName, RequestId } from "./Ids.ts"
import { TokenUsage } from "./TokenUsage.ts"
import { type Replay, ToolCall } from "./Tool.ts"

/**
 * Why the model stopped, normalised across providers: a natural stop (or a
 * stop sequence), the token limit, a safety filter, a tool call, or anything
 * else.
 *
 * @since 0.1.0
 */
export const FinishReason = Schema.Literals(["stop", "length", "content_filter", "tool_calls", "other"])

/** @since 0.1.0 */
export type FinishReason = typeof FinishReason.Type

/** The longest response id kept (OpenAI's, Anthropic's and Gemini's are under 64 characters). */
const maxResponseIdChars = 256

/**
 * A provider's response id as Baton keeps it (a result's or a `Finish`'s
 * `responseId`, the span's `gen_ai.response.id`): a non-empty string of at
 * most 256 characters, else `undefined` (a broken server's huge or
 * ill-typed id is not carried into results and spans). Every adapter reads
 * its provider's id through it.
 *
 * @since 0.1.0
 */
export const responseIdOf = (u: unknown): string | undefined =>
  typeof u === "string" && u.length > 0 && u.length <= maxResponseIdChars ? u : undefined

/**
 * The model a provider's response names as Baton keeps it (a result's or a
 * `Finish`'s `responseModel`, the span's `gen_ai.response.model`): OpenAI's
 * and Anthropic's `model` (a dated snapshot such as `gpt-4o-2024-08-06`),
 * Gemini's `modelVersion`; bounded as {@link responseIdOf} is.
 *
 * @since 0.1.0
 */
export const responseModelOf: (u: unknown) => string | undefined = responseIdOf

/**
 * A provider and model that produced text of an answer.
 *
 * @since 0.1.0
 */
export const Source = Schema.Struct({ provider: ProviderName, model: ModelId })

/** @since 0.1.0 */
export type Source = typeof Source.Type

/**
 * A completed generation.
 *
 * @since 0.1.0
 */
export const GenerationResult = Schema.Struct({
  content: Schema.String,
  /**
   * What the whole request billed: the sum of every attempt's usage (a
   * structured answer's re-asks, failed attempts before a retry or a
   * fallback, a cancelled hedge, the broken attempts of a rescued answer),
   * as the request log and the usage ledger record them one attempt per row
   * and as a stream's `Finish.usage` sums them. With a single attempt, that
   * attempt's usage. Each attempt's own usage is in the request log.
   */
  usage: TokenUsage,
  model: ModelId,
  provider: ProviderName,
  /**
   * How long the attempt that answered took, in milliseconds: not the
   * request's. The retries, backoffs and fallbacks before it are not in it;
   * each attempt's own is on `attempts`.
   */
  latencyMs: Schema.Finite,
  finishReason: FinishReason,
  requestId: RequestId,
  attempts: Schema.Array(Attempt),
  /**
   * The id the provider gave the answering attempt's response (OpenAI's
   * `chatcmpl-...`, Anthropic's `msg_...`, Gemini's `responseId`), the
   * span's `gen_ai.response.id`; absent when the provider sent none.
   */
  responseId: Schema.optional(Schema.String),
  /**
   * The model the provider says answered (`responseModelOf`: often a dated
   * snapshot of the `model` asked for), the span's `gen_ai.response.model`;
   * absent when the provider named none.
   */
  responseModel: Schema.optional(Schema.String),
  /**
   * The tools the model called (finish reason `tool_calls`); absent when it
   * called none. Put them as they are on the next `assistant` message: a
   * call's `replay` goes back to the provider that made it (`Tool.Replay`).
   */
  toolCalls: Schema.optionalKey(Schema.Array(ToolCall)),
  /**
   * From `LlmManager.generate` and `generateStructured`: every provider and
   * model whose text or tool calls the answer holds, in order (more than one
   * when a broken answer was continued by another attempt; after a restart,
   * those of the new answer only), as a stream's `Finish.sources`. Absent on
   * a provider's own result.
   */
  sources: Schema.optionalKey(Schema.Array(Source)),
  /**
   * From `LlmManager.generate` and `generateStructured`: whether the answer
   * survived a broken attempt (continued or restarted by another), as a
   * stream's `Finish.rescued`. Absent on a provider's own result.
   */
  rescued: Schema.optionalKey(Schema.Boolean)
})

/** @since 0.1.0 */
export type GenerationResult = typeof GenerationResult.Type

/**
 * A completed structured generation: the result plus the decoded value.
 *
 * @since 0.1.0
 */
export interface StructuredResult<A> extends GenerationResult {
  readonly value: A
}

/**
 * A piece of streamed text.
 *
 * @since 0.1.0
 */
export interface TextDelta {
  readonly _tag: "TextDelta"
  readonly text: string
}

/**
 * A piece of a tool call, as the provider streams it. The first delta with
 * a given `index` opens that call (`argumentsDelta` may be `""`); every
 * delta of the call repeats its `id` and `name`, and `argumentsDelta` is the
 * next fragment of its JSON arguments. Joined in order, a call's fragments
 * are its `arguments`; the `Finish` carries the assembled calls. Gemini sends
 * each call whole, as one delta, which carries the call's `replay` (its
 * signature), so that a caller forwarding deltas as they come (the gateway)
 * need not wait for the `Finish`. Once a delta reached the caller, the
 * manager never completes the answer on another provider (a tool-call answer
 * is not spliced): a cut stream fails with `StreamInterrupted`.
 *
 * @since 0.1.0
 */
export interface ToolCallDelta {
  readonly _tag: "ToolCallDelta"
  /** The call's position in the answer (0 for the first call). */
  readonly index: number
  readonly id: string
  readonly name: string
  readonly argumentsDelta: string
  /**
   * What the provider asks to have sent back with the call (`Tool.Replay`),
   * on the delta whose fragment brought it (Gemini's signature, on its call's
   * one delta), stamped with the provider and model as the `Finish`'s call's
   * is; absent on every other delta. The `Finish`'s calls carry every replay
   * (DeepSeek's reasoning only there).
   */
  readonly replay?: Replay | undefined
}

/**
 * The end of a stream: why it stopped and what it cost. `provider` and
 * `model` are those of the attempt that finished the answer; from
 * `LlmManager.stream`, `sources` lists every provider and model whose text
 * the answer holds (in order; more than one after a continued rescue; after
 * a `Restart`, those of the new answer only), `rescued`
 * says whether the answer survived a broken attempt, `usage` is the sum
 * of every billed attempt of the request and `attempts` lists them all.
 *
 * @since 0.1.0
 */
export interface Finish {
  readonly _tag: "Finish"
  readonly finishReason: FinishReason
  readonly usage: TokenUsage
  readonly provider: ProviderName
  readonly model: ModelId
  /** The id the provider gave the finishing attempt's response (as a result's `responseId`), when it gave one. */
  readonly responseId?: string | undefined
  /** The model the provider says answered the finishing attempt (as a result's `responseModel`), when it named one. */
  readonly responseModel?: string | undefined
  readonly sources?: ReadonlyArray<Source> | undefined
  readonly rescued?: boolean | undefined
  /** The tools the model called, assembled from the stream's tool-call deltas, each with its `replay` (as a result's). */
  readonly toolCalls?: ReadonlyArray<ToolCall> | undefined
  /** From `LlmManager.stream`: every attempt of the request, in the order they started (as a result's `attempts`). */
  readonly attempts?: ReadonlyArray<Attempt> | undefined
}

/**
 * The answer so far is abandoned and starts again from its first character
 * (`LlmManager.stream` with `rescue: "restart"`): `reason` says why.
 *
 * @since 0.1.0
 */
export interface Restart {
  readonly _tag: "Restart"
  readonly reason: string
}

/**
 * One element of a generation stream.
 *
 * @since 0.1.0
 */
export type StreamPart = TextDelta | ToolCallDelta | Restart | Finish

/**
 * A text delta.
 *
 * @since 0.1.0
 */
export const textDelta = (text: string): TextDelta => ({ _tag: "TextDelta", text })
