/**
 * The OpenAI chat-completions wire format, shared by OpenAI, DeepSeek and
 * every OpenAI-compatible server (Ollama, vLLM, Groq, OpenRouter, ...).
 *
 * `make(dialect)` returns the codec; a `Dialect` says only what differs
 * between servers speaking the format:
 *
 * - `maxTokensField`: OpenAI wants `max_completion_tokens` (`max_tokens` is a
 *   400 on gpt-5 and o-series models); DeepSeek and compatible servers want
 *   `max_tokens`. A limit or temperature left to the provider (`"provider"`)
 *   is not sent.
 * - `onlyDefaultTemperature`: the models that take no temperature but their
 *   default (OpenAI's gpt-5 and o-series); none is sent to them, whatever the
 *   request asks for. Absent: every model is sent one.
 * - `rejectsStop`: the models that reject `stop` (OpenAI's o3, o4-mini and
 *   gpt-5); the request's stop sequences are left out for them, as the
 *   temperature is above, and the codec names them as `unsentStop`, so the
 *   adapter cuts the answer at them itself. Absent: every model is sent them.
 * - `reasoning`: the fields a request's `reasoning` level adds to the body
 *   for a model (DeepSeek's `thinking` and `reasoning_effort`, OpenAI's
 *   `reasoning_effort` per model family, a compatible server's
 *   `reasoning_effort`; see each dialect), `undefined` for none. They only
 *   add to the body: the rest is as without the level. Absent, or the level
 *   left out: nothing is sent, and the model decides.
 * - `structured`: `json-schema` sends `response_format: json_schema` in strict
 *   mode (the schema rewritten to OpenAI's strict subset, see
 *   `strictSchema.ts`); `json-object` sends `response_format: json_object` and
 *   puts the schema, with the word "json", in a system message (DeepSeek;
 *   the wording is `jsonSchemaShape.ts`'s `instruction`, shared with
 *   Anthropic).
 * - `responseFormat: "json"` without a schema sends `response_format:
 *   json_object` in every dialect. OpenAI refuses it (400, `param:
 *   "messages"`) and DeepSeek answers blank unless a message says "json", so
 *   `StructuredOutput.jsonInstruction` (the wording Anthropic and `@baton/ai`
 *   use) goes in a system message after the caller's system messages,
 *   unless a message already mentions JSON (any case); the rest of the body
 *   is as in text mode.
 * - `prefill`: `prefix` marks a final assistant message with `prefix: true`
 *   (DeepSeek's chat prefix completion); `plain` sends it as is.
 * - `usage`: how the server's `usage` object maps to token counts (DeepSeek
 *   reports cache hits as `prompt_cache_hit_tokens`).
 * - `requireDone`: a stream is complete only at `data: [DONE]` (OpenAI,
 *   DeepSeek), or once the usage chunk followed the `finish_reason` (the
 *   answer whole: `answered`, a stream stalled, closed or cut there is that
 *   answer); otherwise a chunk with a `finish_reason` is enough too
 *   (compatible servers that omit the terminator). Either way `[DONE]` ends
 *   the stream, with finish reason `other` when no chunk gave one (as a plain
 *   reply without `finish_reason`). An empty `finish_reason` (`""`, sent by
 *   some compatible servers on every chunk in place of `null`) gives none: a
 *   stream of such chunks cut before `[DONE]` is a cut stream, and it never
 *   overwrites a reason an earlier chunk gave.
 *
 * Streams ask for usage with `stream_options.include_usage`; it arrives in a
 * last chunk with empty `choices`. Usage is read from `usage`, else from
 * `x_groq.usage` (Groq's final chunk carries it there), plain or streamed. A refusal (`message.refusal`, a streamed
 * `delta.refusal`) counts as a content-filter finish that keeps the model's
 * words (`Reply.refusal`; streamed, the pieces joined: `StreamDecoder.refusal`),
 * and a content-filter finish stays one: a later chunk's `finish_reason:
 * "stop"` does not turn a refused stream into an empty answer. A
 * content-filter finish may come with `content` null or left out (Azure
 * OpenAI). A stream chunk that repeats the one before but for its text is
 * read without parsing it whole (`repeatedEvent.ts`). Reasoning deltas
 * (`delta.reasoning_content`, DeepSeek and vLLM; `delta.reasoning`,
 * OpenRouter and newer vLLM) are not part of the answer: a chunk's
 * reasoning, alone or beside text, only tells the decoder's `reasoning`
 * callback that the stream is alive and how many characters of reasoning
 * came (billed, estimated, if the stream stops early).
 *
 * Errors sent with HTTP 200 are read as `httpError.ts` maps them: a chunk
 * (or a plain body) with an `error` object or string (OpenRouter), or vLLM's
 * flat `{"object":"error","message":...,"code":400}`, or whose first choice
 * has an `error` object (OpenRouter's, beside `finish_reason: "error"`), is
 * the error the same body sent with its status is, never a malformed chunk.
 * A `finish_reason` that says the answer was cut (DeepSeek's
 * `insufficient_system_resource`, OpenRouter's `error` for a generation that
 * failed mid-way) is no finished answer: a retryable `MalformedResponse`
 * with the usage billed, plain or streamed (a stream's `Cut`); an `error`
 * object beside it, at the top level or on the choice, decides first.
 * Any other unknown `finish_reason` is `other`.
 */
import type { Reasoning } from "@baton/core/GenerationOptions"
import { type FinishReason, responseIdOf, responseModelOf } from "@baton/core/GenerationResult"
import type { Message } from "@baton/core/LlmRequest"
import { jsonInstruction, nestsTooDeep, unfenced } from "@baton/core/StructuredOutput"
import type { TokenCounts } from "@baton/core/TokenUsage"
import type { Call, Codec, Reply, StreamDecoder } from "./adapter.ts"
import * as HttpError from "./httpError.ts"
import * as Json from "./json.ts"
import * as JsonSchemaShape from "./jsonSchemaShape.ts"
import * as OpenAiTools from "./openAiTools.ts"
import * as RepeatedEvent from "./repeatedEvent.ts"
import * as StrictSchema from "./strictSchema.ts"
import * as ToolStream from "./toolStream.ts"

/** What differs between servers speaking chat completions. */
export interface Dialect {
  readonly maxTokensField: "max_completion_tokens" | "max_tokens"
  /** Whether `model` takes only its default temperature, so none is sent. */
  readonly onlyDefaultTemperature?: ((model: string) => boolean) | undefined
  /** Whether `model` rejects `stop`, so the request's stop sequences are not sent. */
  readonly rejectsStop?: ((model: string) => boolean) | undefined
  /** The fields a `reasoning` level adds to the body for `model`, `undefined` for none. */
  readonly reasoning?: ((model: string, level: Reasoning) => Json.JsonObject | undefined) | undefined
  readonly structured: "json-schema" | "json-object"
  readonly prefill: "prefix" | "plain"
  readonly usage: (usage: Json.JsonObject) => TokenCounts | undefined
  readonly requireDone: boolean
  /**
   * Whether every assistant message of the history carries a
   * `reasoning_content`, `""` where none was kept (DeepSeek's thinking mode;
   * see `deepSeek.ts`); never a prefill (`prefix: true`), whose
   * `reasoning_content` DeepSeek would read as the start of its reasoning.
   */
  readonly reasoningOnEveryAnswer?: boolean | undefined
}

/** OpenAI's usage fields: cached and reasoning counts in `*_details`. */
export const openAiUsage = (usage: Json.JsonObject): TokenCounts | undefined => {
  const promptTokens = Json.count(usage.prompt_tokens)
  const completionTokens = Json.count(usage.completion_tokens)
  if (promptTokens === undefined || completionTokens === undefined) return undefined
  const prompt = Json.isObject(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {}
  const completion = Json.isObject(usage.completion_tokens_details) ? usage.completion_tokens_details : {}
  return {
    promptTokens,
    completionTokens,
    cachedPromptTokens: Json.count(prompt.cached_tokens),
    reasoningTokens: Json.count(completion.reasoning_tokens)
  }
}

/** The normalised finish reason of a chat-completions `finish_reason`. */
export const finishReason = (reason: unknown): FinishReason => {
  switch (reason) {
    case "stop":
    case "length":
    case "content_filter":
    case "tool_calls":
      return reason
    case "function_call":
      return "tool_calls"
    default:
      return "other"
  }
}

/**
 * A choice's `finish_reason` when it gives one: a non-empty string. `null`,
 * absent and `""` (some compatible servers send it on every chunk in place
 * of `null`) give none, so a stream of such chunks has not finished.
 */
const givenFinishReason = (choice: Json.JsonObject): string | undefined =>
  typeof choice.finish_reason === "string" && choice.finish_reason.length > 0 ? choice.finish_reason : undefined

/**
 * The finish reasons that cut an answer, and why: DeepSeek's
 * `insufficient_system_resource` (its servers ran out of resources),
 * OpenRouter's `error` (the generation failed mid-way).
 */
const cutReasons: ReadonlyMap<string, string> = new Map([
  ["insufficient_system_resource", "the provider ran out of resources and cut the answer"],
  ["error", "the generation failed mid-answer"]
])

/**
 * Why a finish reason cut the answer ({@link cutReasons}), else `undefined`.
 * Not a finished answer: a `MalformedResponse` (retried, then the chain falls
 * back) with this message and the usage billed, plain or streamed (a
 * stream's `Cut`). An `error` object beside it (at the top level or on the
 * choice: `HttpError.carriesError`) decides first: the error it names (a
 * stream's error event, a plain reply's `HttpError.fromOkBody`).
 */
const cutStop = (reason: unknown): string | undefined => {
  if (typeof reason !== "string") return undefined
  const why = cutReasons.get(reason)
  return why === undefined ? undefined : `${why} (finish_reason ${reason})`
}

const messagesOf = (call: Call, dialect: Dialect): Array<Json.JsonObject> => {
  const source: ReadonlyArray<Message> = call.request.messages
  const out: Array<Json.JsonObject> = []
  const last = source.length - 1
  for (const [i, message] of source.entries()) {
    const isPrefix = i === last && message.role === "assistant" && dialect.prefill === "prefix"
    const built = OpenAiTools.message(message) ?? (isPrefix
      ? { role: message.role, content: message.content, prefix: true }
      : { role: message.role, content: message.content })
    const pad = dialect.reasoningOnEveryAnswer === true && !isPrefix && built.role === "assistant" &&
      built.reasoning_content === undefined
    out.push(pad ? { ...built, reasoning_content: "" } : built)
  }
  const instruction = jsonModeInstruction(call, dialect)
  if (instruction !== undefined) {
    const firstNonSystem = out.findIndex((message) => message.role !== "system")
    out.splice(firstNonSystem === -1 ? out.length : firstNonSystem, 0, { role: "system", content: instruction })
  }
  return out
}

/** Whether a message already says "json", in any case, as `json_object` demands (OpenAI, DeepSeek). */
const mentionsJson = (messages: ReadonlyArray<Message>): boolean =>
  messages.some((message) => /json/i.test(message.content))

/**
 * The system message a call's `json_object` needs: the schema's for
 * structured output in JSON mode, the plain instruction for `responseFormat:
 * "json"` when no message mentions JSON; none otherwise.
 */
const jsonModeInstruction = (call: Call, dialect: Dialect): string | undefined => {
  if (call.output !== undefined) {
    return dialect.structured === "json-object" ? JsonSchemaShape.instruction(call.output.jsonSchema) : undefined
  }
  return call.request.options.responseFormat === "json" && !mentionsJson(call.request.messages)
    ? jsonInstruction
    : undefined
}

const responseFormat = (call: Call, dialect: Dialect): Json.JsonObject | undefined => {
  if (call.output === undefined) {
    return call.request.options.responseFormat === "json"
      ? { type: "json_object" }
      : undefined
  }
  if (dialect.structured === "json-object") return { type: "json_object" }
  const strict = StrictSchema.toStrict(call.output.jsonSchema)
  return {
    type: "json_schema",
    json_schema: strict === undefined
      ? { name: call.output.name, schema: call.output.jsonSchema, strict: false }
      : { name: call.output.name, schema: strict, strict: true }
  }
}

/** A call's stop sequences when its model rejects `stop`: left out of the body, applied by the adapter. */
const unsentStop = (call: Call, dialect: Dialect): ReadonlyArray<string> | undefined => {
  const stop = call.request.options.stop
  return stop !== undefined && dialect.rejectsStop?.(call.model) === true ? stop : undefined
}

/** The fields the call's `reasoning` level adds to the body, if it gives one and the dialect maps it. */
const reasoningFields = (call: Call, dialect: Dialect): Json.JsonObject | undefined => {
  const level = call.request.options.reasoning
  return level === undefined ? undefined : dialect.reasoning?.(call.model, level)
}

const bodyOf = (call: Call, dialect: Dialect): Json.JsonObject => {
  const options = call.request.options
  const body: Record<string, unknown> = {
    model: call.model,
    messages: messagesOf(call, dialect),
    ...OpenAiTools.bodyFields(call.request)
  }
  if (options.maxTokens !== "provider") body[dialect.maxTokensField] = options.maxTokens
  if (options.temperature !== "provider" && dialect.onlyDefaultTemperature?.(call.model) !== true) {
    body.temperature = options.temperature
  }
  if (options.stop !== undefined && unsentStop(call, dialect) === undefined) body.stop = options.stop
  if (options.seed !== undefined) body.seed = options.seed
  Object.assign(body, reasoningFields(call, dialect))
  const format = responseFormat(call, dialect)
  if (format !== undefined) body.response_format = format
  if (call.stream) {
    body.stream = true
    body.stream_options = { include_usage: true }
  }
  return body
}

/**
 * The usage object of a reply or a chunk: its `usage`, else Groq's
 * `x_groq.usage` (where Groq's stream reports it, in the final chunk).
 */
const usageOf = (json: Json.JsonObject): Json.JsonObject | undefined => {
  if (Json.isObject(json.usage)) return json.usage
  return Json.isObject(json.x_groq) && Json.isObject(json.x_groq.usage) ? json.x_groq.usage : undefined
}

/** The token counts of a reply or a chunk, by the dialect ({@link usageOf}). */
const countsOf = (dialect: Dialect, json: Json.JsonObject): TokenCounts | undefined => {
  const usage = usageOf(json)
  return usage === undefined ? undefined : dialect.usage(usage)
}

const firstChoice = (json: Json.JsonObject): Json.JsonObject | undefined => {
  const choices = json.choices
  return Array.isArray(choices) && Json.isObject(choices[0]) ? choices[0] : undefined
}

/** Whether a `refusal` field holds a refusal: the model declined, a content-filter stop. */
const isRefusal = (refusal: unknown): refusal is string => typeof refusal === "string" && refusal.length > 0

const decodeReply = (dialect: Dialect) => (json: unknown): Reply | string => {
  if (!Json.isObject(json)) return "the body is not an object"
  const choice = firstChoice(json)
  if (choice === undefined || !Json.isObject(choice.message)) return "no choices[0].message"
  const message = choice.message
  const counts = countsOf(dialect, json)
  const responseId = responseIdOf(json.id)
  const responseModel = responseModelOf(json.model)
  const refusal = isRefusal(message.refusal) ? message.refusal : undefined
  const filtered = refusal !== undefined || choice.finish_reason === "content_filter"
  // a filtered answer may have no text at all: `content` null, or absent (Azure OpenAI)
  if (filtered && (message.content === null || message.content === undefined)) {
    return { content: "", finishReason: "content_filter", counts, refusal, responseId, responseModel }
  }
  if (typeof message.content !== "string" && !(message.content === null && Array.isArray(message.tool_calls))) {
    return "choices[0].message.content is not a string (null only with tool calls or a content filter's stop)"
  }
  const toolCalls = OpenAiTools.decode(message)
  if (typeof toolCalls === "string") return toolCalls
  const cut = cutStop(choice.finish_reason)
  if (cut !== undefined) return cut
  return {
    content: message.content ?? "",
    finishReason: filtered ? "content_filter" : finishReason(choice.finish_reason),
    counts,
    refusal,
    responseId,
    responseModel,
    ...(toolCalls === undefined ? {} : { toolCalls })
  }
}

/** What a chunk's delta may hold: text fields are strings or null, nothing else. */
const illTypedDelta = (delta: Json.JsonObject): string | undefined => {
  for (const field of ["content", "role", "refusal"] as const) {
    const value = delta[field]
    if (value !== undefined && value !== null && typeof value !== "string") {
      return `choices[0].delta.${field} is not a string`
    }
  }
  return undefined
}

/**
 * The characters of reasoning a delta carries: DeepSeek's `reasoning_content`
 * (vLLM's too), OpenRouter's and newer vLLM's `reasoning`, the longer of the
 * two (a server may fill both with the same text). Its text is not the
 * answer and is not handed on, but it shows the model at work (and is
 * billed).
 */
const reasoningLength = (delta: Json.JsonObject): number =>
  Math.max(
    typeof delta.reasoning_content === "string" ? delta.reasoning_content.length : 0,
    typeof delta.reasoning === "string" ? delta.reasoning.length : 0
  )

/**
 * The text of a chunk that carries text and nothing else the decoder acts on
 * (no error, usage, finish reason, refusal, tool call or reasoning, a
 * well-typed delta), else `undefined`: such a chunk only adds its text.
 */
const textOnly = (json: unknown): string | undefined => {
  if (!Json.isObject(json) || HttpError.carriesError(json) || usageOf(json) !== undefined) return undefined
  const choice = firstChoice(json)
  if (choice === undefined || givenFinishReason(choice) !== undefined) return undefined
  const delta = choice.delta
  if (
    !Json.isObject(delta) || typeof delta.content !== "string" || illTypedDelta(delta) !== undefined ||
    (delta.tool_calls !== undefined && delta.tool_calls !== null) ||
    isRefusal(delta.refusal) || reasoningLength(delta) > 0
  ) {
    return undefined
  }
  return delta.content
}

/** A chunk that only adds its text, as `repeatedEvent.ts` reads it (unnamed SSE events). */
const textChunks: RepeatedEvent.Shape = { event: "message", key: "content", read: textOnly }

const streamDecoder = (dialect: Dialect) => (reasoning?: (characters: number) => void): StreamDecoder => {
  let done = false
  let finish: FinishReason | undefined
  let counts: TokenCounts | undefined
  let refusal = ""
  let id: string | undefined
  // the model the response names
  let answering: string | undefined
  const repeated = RepeatedEvent.make(textChunks)
  const tools = ToolStream.make()
  return {
    event: (event) => {
      if (event.data === "[DONE]") {
        done = true
        return ""
      }
      const repeat = repeated.fromTemplate(event)
      if (repeat !== undefined) return repeat
      const json = Json.parse(event.data)
      if (!Json.isObject(json)) return { _tag: "Malformed", message: "an event whose data is not a JSON object" }
      if (event.event === "error" || HttpError.carriesError(json)) return { _tag: "ErrorEvent", body: json }
      // every chunk repeats the id and the model: read from the first parsed one
      id ??= responseIdOf(json.id)
      answering ??= responseModelOf(json.model)
      const text = repeated.fromParsed(event, json)
      if (text !== undefined) return text
      // what follows acts on more than the text: `textOnly` must rule out every chunk it acts on
      const usage = usageOf(json)
      if (usage !== undefined) counts = dialect.usage(usage) ?? counts
      if (!Array.isArray(json.choices)) {
        return usage !== undefined ? "" : { _tag: "Malformed", message: "a chunk without choices" }
      }
      const choice = firstChoice(json)
      if (choice === undefined) return ""
      const given = givenFinishReason(choice)
      if (given !== undefined) {
        const cut = cutStop(given)
        if (cut !== undefined) return { _tag: "Cut", message: cut }
        // a content filter's stop holds: a later chunk's `finish_reason` (a refusal's `stop`) never clears it
        if (finish !== "content_filter") finish = finishReason(given)
      }
      const delta = choice.delta ?? {}
      if (!Json.isObject(delta)) return { _tag: "Malformed", message: "choices[0].delta is not an object" }
      const malformed = illTypedDelta(delta)
      if (malformed !== undefined) return { _tag: "Malformed", message: malformed }
      const badCall = OpenAiTools.feed(tools, delta)
      if (badCall !== undefined) return { _tag: "Malformed", message: badCall }
      if (isRefusal(delta.refusal)) {
        finish = "content_filter"
        refusal += delta.refusal
      }
      // reasoning, alone or beside text: none of it for the caller, but the model at work (and billed)
      const reasoned = reasoningLength(delta)
      if (reasoned > 0) reasoning?.(reasoned)
      return typeof delta.content === "string" ? delta.content : ""
    },
    // `[DONE]` ends any stream; without a `finish_reason` the reason is `other`, as in a plain reply
    finishReason: () => done ? finish ?? "other" : dialect.requireDone ? undefined : finish,
    ended: () => done,
    counts: () => counts,
    // the usage chunk follows the one with the finish reason: with both, only `[DONE]` is missing
    answered: () => counts === undefined ? undefined : finish,
    refusal: () => refusal.length === 0 ? undefined : refusal,
    tools,
    responseId: () => id,
    responseModel: () => answering
  }
}

/** The chat-completions codec for a dialect. */
export const make = (dialect: Dialect): Codec => ({
  path: () => "/chat/completions",
  headers: (apiKey) => apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` },
  body: (call) => bodyOf(call, dialect),
  decode: decodeReply(dialect),
  billed: (json) => Json.isObject(json) ? countsOf(dialect, json) : undefined,
  streamDecoder: streamDecoder(dialect),
  unsentStop: dialect.rejectsStop === undefined ? undefined : (call) => unsentStop(call, dialect),
  structuredAnswer: dialect.structured === "json-schema" ? strictAnswer : undefined
})

/**
 * A strict-mode answer with the `null`s the rewrite made possible dropped
 * (`StrictSchema.dropOptionalNulls`), for the caller's schema to decode; as
 * it came when its schema was sent non-strict (nothing was rewritten), it is
 * no JSON, or it nests more than `maxAnswerDepth` levels (the rewrite
 * recurses once per level: the decode refuses such an answer, saying so).
 */
const strictAnswer: NonNullable<Codec["structuredAnswer"]> = (content, output) => {
  if (StrictSchema.toStrict(output.jsonSchema) === undefined) return content
  const json = Json.parse(unfenced(content))
  return json === undefined || nestsTooDeep(json)
    ? content
    : JSON.stringify(StrictSchema.dropOptionalNulls(json, output.jsonSchema))
}
