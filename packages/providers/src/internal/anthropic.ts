/**
 * The Anthropic Messages wire format (`POST /v1/messages`, version
 * `2023-06-01`).
 *
 * - System messages go to the top-level `system`; `max_tokens` is required,
 *   so a limit left to the provider (`"provider"`) is sent as
 *   {@link defaultMaxTokens} (a temperature left to it is not sent); a final
 *   `assistant` message is a prefill the model continues (sent without the
 *   whitespace it ends with, which Anthropic refuses: {@link prefillTail}).
 * - Stop sequences of whitespace alone (`"\n"`), which Anthropic refuses
 *   (400: each stop sequence must contain non-whitespace), are left out of
 *   `stop_sequences` and applied by the adapter ({@link unsentStop}).
 * - Temperature: on {@link version} `2023-06-01` the models after Opus 4.6
 *   take only temperature 1 (any other is a 400), so
 *   {@link onlyDefaultTemperature} models are sent none, whatever the request
 *   asks for (as OpenAI's gpt-5, `openAi.ts`); their default is that 1.
 *   (Version `2026-10-21` would refuse `temperature` for every model: moving
 *   to it means sending none at all.) A request that thinks is sent none
 *   either: Anthropic takes only 1 with thinking on.
 * - Reasoning ({@link thinkingKind} names the family):
 *
 *   | `reasoning` | Claude 4.6 and later (`claude-sonnet-4-6`, `claude-opus-4-6`, every 5.x) | Claude 3.7 to 4.5 (`claude-haiku-4-5`, `claude-sonnet-4-5`, `claude-opus-4-1`) | a name that is no Claude version (DeepSeek's `deepseek-v4-pro`) | Claude before 3.7 |
 *   | --- | --- | --- | --- | --- |
 *   | left out | nothing | nothing | nothing | nothing |
 *   | `"none"` | `thinking: { type: "disabled" }` | `thinking: { type: "disabled" }` | `thinking: { type: "disabled" }` | nothing |
 *   | low, medium, high | `thinking: { type: "adaptive" }`, `output_config.effort` the level (beside a `format`) | `thinking: { type: "enabled", budget_tokens }`: `reasoning.ts`'s budget (1024, 4096, 16384), at most `max_tokens - 1`; `thinking: { type: "disabled" }` when `max_tokens` is 1024 or less | `thinking: { type: "enabled" }`, `output_config.effort` the level (beside a `format`) | nothing |
 *
 *   Thinking counts against `max_tokens`, as `GenerationOptions` says, so a
 *   caller's `maxTokens` is sent as it is and a budget kept below it (the
 *   default 2000 makes medium and high 1999). A `maxTokens` of 1024 or less
 *   leaves no room for the least budget, which Anthropic requires below
 *   `max_tokens`: a limit too small to think in is answered without
 *   thinking (`thinking: { type: "disabled" }`, the temperature sent as
 *   without thinking), as `GenerationOptions`' `Reasoning` gives a model
 *   what it can. A limit left to the provider is sent as
 *   {@link defaultMaxTokens}, on a Claude model plus the level's budget, so
 *   thinking does not eat the answer's room; a name that is no Claude
 *   version takes no budget (DeepSeek's Anthropic format sets effort, with
 *   no least budget) and gets none on top. Anthropic refuses thinking with
 *   a prefill and with a forced tool choice (`required`, a named tool): such a request is sent
 *   `thinking: { type: "disabled" }` (the manager's continuation of a cut
 *   stream thought before its first delta; a forced call is the caller's
 *   contract). Structured output uses `output_config.format`, never a forced
 *   tool, so it thinks.
 * - Thinking blocks (`thinking`, `redacted_thinking`) are never the answer's
 *   text; they are billed in `output_tokens`. A reply's blocks go on its
 *   first tool call's replay and back before its `tool_use` blocks on the
 *   next turn, as Anthropic requires (`anthropicTools.ts`). Thinking cannot
 *   be resumed without those blocks, and they go back only to the provider
 *   and model that made the calls: a request whose current tool loop (after
 *   the last `user` message) holds calls without them (another provider's
 *   or Claude model's, after a fallback; the caller's; thinking too long to
 *   keep) is sent `thinking: { type: "disabled" }`, Anthropic's stand-in
 *   (`AnthropicTools.unthoughtLoop`), where Anthropic would answer 400. A
 *   new question after that loop thinks again.
 * - Structured output is `output_config: { format: { type: "json_schema",
 *   schema } }`, the schema rewritten into the subset Anthropic accepts
 *   (`anthropicSchema.ts`); the JSON arrives in the first text block. That
 *   subset has closed objects only, so a schema with an open object (a
 *   record, `patternProperties`, objects merged through `allOf`; see
 *   `jsonSchemaShape.ts`) is not sent there, where it could only be answered
 *   `{}`: no `output_config`, and the system prompt asks for JSON matching
 *   the full schema (`JsonSchemaShape.instruction`, the wording DeepSeek's
 *   JSON mode uses). Either way Baton decodes the answer against the
 *   caller's schema and re-asks when it does not fit.
 * - `responseFormat: "json"` without a schema: Anthropic has no JSON mode
 *   (its schema mode demands a closed schema), so the instruction
 *   `StructuredOutput.jsonInstruction` is added to the system prompt.
 * - Text is the join of the `text` blocks of `content`.
 * - Usage: `input_tokens` counts uncached input only, so prompt tokens are
 *   `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`
 *   (cache fields may be absent or `null`), so cache writes are billed at
 *   the plain input rate, below Anthropic's 1.25x or 2x (a known
 *   under-estimate: see `Pricing`'s gotchas); `output_tokens` includes
 *   thinking, reported apart in `output_tokens_details.thinking_tokens`.
 *   In a stream each count is the last non-null one an event carried: a
 *   `message_delta` may repeat `input_tokens` with null cache fields.
 * - Streams: `message_start` (input usage) → `content_block_delta`
 *   (`text_delta`) → `message_delta` (`stop_reason`, cumulative output usage)
 *   → `message_stop`, plus `ping` and `error`; unknown event types are
 *   ignored, as Anthropic asks. A `thinking_delta` (a thinking block's text,
 *   never the answer's) tells the decoder's `reasoning` callback that the
 *   stream is alive, and how many characters of thinking came; with the
 *   `signature_delta` it builds the block the stream's calls carry back.
 *   `message_stop` completes a stream; before it, the `message_delta` with
 *   the stop reason and the output usage says the answer is whole
 *   (`answered`: a stream stalled, closed or cut after it is that answer). A
 *   `content_block_delta` event that repeats the text delta before it but
 *   for its text is read without parsing it whole (`repeatedEvent.ts`).
 */
import { type FinishReason, responseIdOf, responseModelOf } from "@baton/core/GenerationResult"
import * as LlmRequest from "@baton/core/LlmRequest"
import { jsonInstruction } from "@baton/core/StructuredOutput"
import type { TokenCounts } from "@baton/core/TokenUsage"
import type { Call, Codec, Reply, StreamDecoder } from "./adapter.ts"
import * as AnthropicSchema from "./anthropicSchema.ts"
import * as AnthropicTools from "./anthropicTools.ts"
import * as DeepSeekCodec from "./deepSeek.ts"
import * as Json from "./json.ts"
import * as JsonSchemaShape from "./jsonSchemaShape.ts"
import * as Reasoning from "./reasoning.ts"
import * as RepeatedEvent from "./repeatedEvent.ts"
import * as ToolStream from "./toolStream.ts"

/** The API version sent in `anthropic-version`. */
export const version = "2023-06-01"

/**
 * A Claude model id's version: `claude-<family>-<major>[-<minor>]` (Claude 4
 * on: `claude-sonnet-5-5`, `claude-opus-4-7-20260415`, `claude-sonnet-4-20250514`
 * is 4.0, an 8-digit date being no minor) or `claude-<major>[-<minor>]-<family>`
 * (Claude 3: `claude-3-5-haiku-20241022`), the minor after `-` or `.`
 * (`claude-2.1`, OpenRouter's `anthropic/claude-opus-4.7`), after an optional
 * prefix ending in `.` or `/` (Bedrock's `us.anthropic.claude-...-v1:0`) and
 * before the end, a `-`, Vertex's `@date` or a `:`. Read lowercased.
 */
const claudeVersion = /^(?:[a-z0-9_-]+[./])*claude-(?:[a-z]+-)?(\d+)(?:[-.](\d{1,2}))?(?=$|[-@:])/

/** A Claude model's version, or `undefined` for a name that is no Claude version ({@link claudeVersion}). */
const versionOf = (model: string): { readonly major: number; readonly minor: number } | undefined => {
  const match = claudeVersion.exec(model.toLowerCase())
  return match === null ? undefined : { major: Number(match[1]), minor: Number(match[2] ?? 0) }
}

/** Whether a Claude model's version is `major.minor` or later. */
const since = (model: string, major: number, minor: number): boolean => {
  const version = versionOf(model)
  return version !== undefined && (version.major > major || (version.major === major && version.minor >= minor))
}

/**
 * Whether a Claude model takes only its default temperature (1) on
 * {@link version}: every model whose version is above Opus 4.6's
 * (`claude-opus-4-7`, `claude-sonnet-5-5`, `claude-haiku-5-5`, dated ones
 * such as `claude-sonnet-5-5-20261001`), whatever its family. A name that
 * is no Claude version (`deepseek-v4-pro` on DeepSeek's Anthropic-format
 * API) is sent its temperature.
 */
export const onlyDefaultTemperature = (model: string): boolean => since(model, 4, 7)

/**
 * Whether `"none"` turns a model's thinking off. Every model that can think
 * ({@link thinkingKind}) is then sent `thinking: { type: "disabled" }`: a
 * Claude model heeds it; a name that is no Claude version (DeepSeek's
 * Anthropic format, other vendors' thinking models) only where DeepSeek's own
 * adapter says so (its V4 models).
 */
export const stopsThinking = (model: string): boolean => {
  const kind = thinkingKind(model)
  return kind === "effort" ? DeepSeekCodec.stopsThinking(model) : kind !== undefined
}

/**
 * How a model thinks: `"adaptive"` (Claude 4.6 and later: `thinking: {
 * type: "adaptive" }` with `output_config.effort`), `"budget"` (Claude 3.7
 * to 4.5: `thinking: { type: "enabled", budget_tokens }`), `"effort"` (a
 * name that is no Claude version, as DeepSeek's Anthropic format: `thinking:
 * { type: "enabled" }` with `output_config.effort`), or `undefined` (Claude
 * before 3.7, which does not think: sent nothing).
 */
export const thinkingKind = (model: string): "adaptive" | "budget" | "effort" | undefined =>
  versionOf(model) === undefined
    ? "effort"
    : since(model, 4, 6)
    ? "adaptive"
    : since(model, 3, 7)
    ? "budget"
    : undefined

/**
 * The `max_tokens` of a request that leaves the limit to the provider, which
 * Anthropic does not: LiteLLM's fallback (`DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS`)
 * for a model whose output limit it does not know, within the limit of every
 * Claude model since Claude 3 (Claude 3 Haiku's is 4096).
 */
export const defaultMaxTokens = 4096

/** The normalised finish reason of a `stop_reason`. */
export const finishReason = (reason: unknown): FinishReason => {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop"
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length"
    case "refusal":
      return "content_filter"
    case "tool_use":
      return "tool_calls"
    default:
      return "other"
  }
}

interface InputUsage {
  readonly uncached: number
  readonly cacheRead: number
  readonly cacheWrite: number
}

/** The input counts an event reported, each `undefined` when absent or `null`. */
type ReportedInput = { readonly [K in keyof InputUsage]: number | undefined }

const reportedInputOf = (usage: Json.JsonObject): ReportedInput => ({
  uncached: Json.count(usage.input_tokens),
  cacheRead: Json.count(usage.cache_read_input_tokens),
  cacheWrite: Json.count(usage.cache_creation_input_tokens)
})

/** `next`'s counts over `previous`'s, field by field: an absent or null count keeps the one before. */
const mergeInput = (previous: ReportedInput, next: ReportedInput): ReportedInput => ({
  uncached: next.uncached ?? previous.uncached,
  cacheRead: next.cacheRead ?? previous.cacheRead,
  cacheWrite: next.cacheWrite ?? previous.cacheWrite
})

/** The input usage once `input_tokens` is known; a cache count never reported is 0. */
const completeInput = (input: ReportedInput): InputUsage | undefined =>
  input.uncached === undefined ? undefined : {
    uncached: input.uncached,
    cacheRead: input.cacheRead ?? 0,
    cacheWrite: input.cacheWrite ?? 0
  }

const inputOf = (usage: Json.JsonObject): InputUsage | undefined => completeInput(reportedInputOf(usage))

const thinkingTokensOf = (usage: Json.JsonObject): number | undefined =>
  Json.isObject(usage.output_tokens_details) ? Json.count(usage.output_tokens_details.thinking_tokens) : undefined

const countsOf = (input: InputUsage, output: number, thinking: number | undefined): TokenCounts => ({
  promptTokens: input.uncached + input.cacheRead + input.cacheWrite,
  cachedPromptTokens: input.cacheRead,
  completionTokens: output,
  reasoningTokens: thinking
})

/** Token counts from a complete `usage` object. */
export const usage = (usage: Json.JsonObject): TokenCounts | undefined => {
  const input = inputOf(usage)
  const output = Json.count(usage.output_tokens)
  return input === undefined || output === undefined ? undefined : countsOf(input, output, thinkingTokensOf(usage))
}

/**
 * The system prompt, with the instruction for JSON a call needs: the
 * schema's when structured output cannot go through `output_config`
 * (`schema` undefined), the plain one for `responseFormat: "json"`.
 */
const systemOf = (call: Call, schema: Json.JsonObject | undefined): string | undefined => {
  const system = LlmRequest.systemPrompt(call.request)
  if (call.output !== undefined) {
    return schema === undefined
      ? JsonSchemaShape.withInstruction(system, JsonSchemaShape.instruction(call.output.jsonSchema))
      : system
  }
  return call.request.options.responseFormat === "json"
    ? JsonSchemaShape.withInstruction(system, jsonInstruction)
    : system
}

/**
 * The whitespace a prefill (a final assistant message without tool calls)
 * ends with; `""` for any other last message. Anthropic refuses such a prefill (400 "final assistant content
 * cannot end with trailing whitespace"), and a cut stream's text often ends
 * with a space or a newline, so the prefill is sent without it and the
 * model's continuation, which begins with that whitespace again, is given
 * without as much of it as it repeats ({@link untail}): the prefill and the
 * answer join as they would have.
 */
const tailOf = (prefill: LlmRequest.Message | undefined): string =>
  isPrefill(prefill) ? /\s*$/.exec(prefill.content)?.[0] ?? "" : ""

/** Whether a request's last message is a prefill: the assistant's, without tool calls. */
const isPrefill = (last: LlmRequest.Message | undefined): last is LlmRequest.Message =>
  last?.role === "assistant" && last.toolCalls === undefined

/** The {@link tailOf} the prefill of the request `call` answers. */
const prefillTail = (call: Call | undefined): string =>
  call === undefined ? "" : tailOf(LlmRequest.conversation(call.request).at(-1))

/** The conversation as Anthropic messages, a prefill's trailing whitespace left out. */
const messagesOf = (call: Call): Array<Json.JsonObject> => {
  const conversation = LlmRequest.conversation(call.request)
  const prefill = conversation.at(-1)
  const tail = tailOf(prefill)
  if (prefill === undefined || tail === "") return AnthropicTools.messages(conversation)
  const trimmed = { ...prefill, content: prefill.content.slice(0, -tail.length) }
  return AnthropicTools.messages([...conversation.slice(0, -1), trimmed])
}

/**
 * Takes, off the start of a continuation fed piece by piece, the whitespace
 * `tail` its prefill was sent without, as far as the continuation repeats
 * it: once a character differs, the rest is the answer's own.
 */
const untail = (tail: string) => {
  let left = tail
  return (text: string): string => {
    let i = 0
    while (i < text.length && i < left.length && text[i] === left[i]) i++
    left = i < text.length ? "" : left.slice(i)
    return text.slice(i)
  }
}

/** How a call thinks: its model's kind and the level asked for. */
interface Thinking {
  readonly kind: Exclude<ReturnType<typeof thinkingKind>, undefined>
  /** A level that asks for thinking: one of `reasoning.ts`'s budgets. */
  readonly level: keyof typeof Reasoning.budget
}

/**
 * How a request to `model` thinks, `undefined` when it does not: no level
 * or `"none"` asked, a model that does not think, a request Anthropic
 * refuses thinking for (a prefill; a forced tool choice, which wins; a
 * current tool loop with calls whose thinking blocks cannot be sent back,
 * `AnthropicTools.unthoughtLoop`), or a budget model's limit too small to
 * think in ({@link noRoomForBudget}).
 */
const thinkingOf = (request: LlmRequest.LlmRequest, model: string): Thinking | undefined => {
  const level = request.options.reasoning
  const kind = thinkingKind(model)
  if (level === undefined || level === "none" || kind === undefined) return undefined
  const conversation = LlmRequest.conversation(request)
  const refused = isPrefill(conversation.at(-1)) || AnthropicTools.forcesTool(request) ||
    AnthropicTools.unthoughtLoop(conversation) || (kind === "budget" && noRoomForBudget(request))
  return refused ? undefined : { kind, level }
}

/** Whether a request's `maxTokens` leaves no room for the least budget (1024), which must be below `max_tokens`. */
const noRoomForBudget = (request: LlmRequest.LlmRequest): boolean =>
  request.options.maxTokens !== "provider" && request.options.maxTokens <= Reasoning.budget.low

/**
 * The `max_tokens` of a call: the caller's; a limit left to the provider
 * {@link defaultMaxTokens}, a Claude model's thinking budget on top.
 */
const maxTokensOf = (call: Call, thinking: Thinking | undefined): number => {
  const maxTokens = call.request.options.maxTokens
  if (maxTokens !== "provider") return maxTokens
  return defaultMaxTokens +
    (thinking === undefined || thinking.kind === "effort" ? 0 : Reasoning.budget[thinking.level])
}

/**
 * The `thinking` field: adaptive, enabled with the level's budget kept
 * below `max_tokens`, or enabled (the effort in `output_config`); disabled
 * for a model that thinks when the call asks for a level but does not
 * think ({@link thinkingOf}); none when no level is asked for or the model
 * does not think.
 */
const thinkingField = (call: Call, thinking: Thinking | undefined, maxTokens: number): Json.JsonObject | undefined => {
  if (thinking?.kind === "adaptive") return { type: "adaptive" }
  if (thinking?.kind === "effort") return { type: "enabled" }
  if (thinking?.kind === "budget") {
    return { type: "enabled", budget_tokens: Math.min(Reasoning.budget[thinking.level], maxTokens - 1) }
  }
  const asked = call.request.options.reasoning !== undefined && thinkingKind(call.model) !== undefined
  return asked ? { type: "disabled" } : undefined
}

/** `output_config`: the schema's format and the effort of thinking without a budget, either or both. */
const outputConfigOf = (schema: Json.JsonObject | undefined, thinking: Thinking | undefined) => {
  const config = {
    ...(schema === undefined ? {} : { format: { type: "json_schema", schema } }),
    ...(thinking === undefined || thinking.kind === "budget" ? {} : { effort: thinking.level })
  }
  return Object.keys(config).length === 0 ? undefined : config
}

const bodyOf = (call: Call): Json.JsonObject => {
  const options = call.request.options
  const thinking = thinkingOf(call.request, call.model)
  const maxTokens = maxTokensOf(call, thinking)
  const body: Record<string, unknown> = {
    model: call.model,
    max_tokens: maxTokens,
    messages: messagesOf(call),
    ...AnthropicTools.bodyFields(call.request)
  }
  const thinkingConfig = thinkingField(call, thinking, maxTokens)
  if (thinkingConfig !== undefined) body.thinking = thinkingConfig
  // thinking takes only the default temperature
  if (options.temperature !== "provider" && !onlyDefaultTemperature(call.model) && thinking === undefined) {
    body.temperature = options.temperature
  }
  // undefined for a schema with an open object, which the system prompt carries instead
  const schema = call.output === undefined ? undefined : AnthropicSchema.toAnthropic(call.output.jsonSchema)
  const system = systemOf(call, schema)
  if (system !== undefined) body.system = system
  const sentStop = options.stop?.filter((stop) => !isBlank(stop))
  if (sentStop !== undefined && sentStop.length > 0) body.stop_sequences = sentStop
  const outputConfig = outputConfigOf(schema, thinking)
  if (outputConfig !== undefined) body.output_config = outputConfig
  if (call.stream) body.stream = true
  return body
}

/** A stop sequence of whitespace alone, which Anthropic refuses. */
const isBlank = (stop: string): boolean => stop.trim() === ""

/** The stop sequences of whitespace alone a call asks for: left out of the body, the adapter cuts at them. */
const unsentStop = (call: Call): ReadonlyArray<string> | undefined => {
  const blank = call.request.options.stop?.filter(isBlank)
  return blank === undefined || blank.length === 0 ? undefined : blank
}

const decode = (json: unknown, call?: Call): Reply | string => {
  if (!Json.isObject(json)) return "the body is not an object"
  if (!Array.isArray(json.content)) return "no content array"
  let content = ""
  for (const block of json.content) {
    if (!Json.isObject(block) || typeof block.type !== "string") return "a content block without a type"
    if (block.type !== "text") continue
    if (typeof block.text !== "string") return "a text block whose text is not a string"
    content += block.text
  }
  const decoded = AnthropicTools.decode(json.content)
  if (typeof decoded === "string") return decoded
  const toolCalls = AnthropicTools.withThinking(decoded, AnthropicTools.thinkingBlocks(json.content))
  const tail = prefillTail(call)
  return {
    content: tail === "" ? content : untail(tail)(content),
    finishReason: finishReason(json.stop_reason),
    counts: Json.isObject(json.usage) ? usage(json.usage) : undefined,
    responseId: responseIdOf(json.id),
    responseModel: responseModelOf(json.model),
    ...(toolCalls === undefined ? {} : { toolCalls })
  }
}

/**
 * The text of a `text_delta` event, else `undefined`: such an event only
 * adds its text (no tool call is fed by it, whatever its block's index).
 */
const textDelta = (json: unknown): string | undefined =>
  Json.isObject(json) && json.type === "content_block_delta" && Json.isObject(json.delta) &&
    json.delta.type === "text_delta" && typeof json.delta.text === "string"
    ? json.delta.text
    : undefined

/** A text delta, as `repeatedEvent.ts` reads it. */
const textDeltas: RepeatedEvent.Shape = { event: "content_block_delta", key: "text", read: textDelta }

/** A stream decoder whose text starts without the whitespace its prefill was sent without. */
const streamDecoder = (reasoning?: (characters: number) => void, call?: Call): StreamDecoder => {
  const decoder = events(reasoning)
  const tail = prefillTail(call)
  if (tail === "") return decoder
  const cut = untail(tail)
  return {
    ...decoder,
    event: (event) => {
      const text = decoder.event(event)
      return typeof text === "string" && text !== "" ? cut(text) : text
    }
  }
}

const events = (reasoning?: (characters: number) => void): StreamDecoder => {
  let input: ReportedInput = { uncached: undefined, cacheRead: undefined, cacheWrite: undefined }
  let output: number | undefined
  let thinking: number | undefined
  // `message_start` counts 1 output token: the whole output comes with `message_delta`
  let outputCounted = false
  let finish: FinishReason | undefined
  let done = false
  let id: string | undefined
  // the model the response names
  let answering: string | undefined
  const repeated = RepeatedEvent.make(textDeltas)
  const tools = ToolStream.make()
  const thoughts = AnthropicTools.thinkingStream()
  const track = (usage: Json.JsonObject) => {
    input = mergeInput(input, reportedInputOf(usage))
    output = Json.count(usage.output_tokens) ?? output
    thinking = thinkingTokensOf(usage) ?? thinking
  }
  return {
    event: (event) => {
      const repeat = repeated.fromTemplate(event)
      if (repeat !== undefined) return repeat
      const json = Json.parse(event.data)
      if (!Json.isObject(json) || typeof json.type !== "string") {
        return { _tag: "Malformed", message: "an event without a type" }
      }
      const text = repeated.fromParsed(event, json)
      if (text !== undefined) return text
      // what follows acts on more than the text: `textDelta` must rule out every event it acts on
      const badCall = AnthropicTools.feed(tools, json)
      if (badCall !== undefined) return { _tag: "Malformed", message: badCall }
      thoughts.feed(json)
      switch (json.type) {
        case "message_start":
          if (Json.isObject(json.message)) {
            id ??= responseIdOf(json.message.id)
            answering ??= responseModelOf(json.message.model)
            if (Json.isObject(json.message.usage)) track(json.message.usage)
          }
          return ""
        case "content_block_delta":
          if (!Json.isObject(json.delta) || typeof json.delta.type !== "string") {
            return { _tag: "Malformed", message: "a content_block_delta without a typed delta" }
          }
          // a text delta with its text returned above (`textDelta`); thinking is no text, but the model at work
          if (json.delta.type !== "text_delta") {
            if (json.delta.type === "thinking_delta") {
              reasoning?.(typeof json.delta.thinking === "string" ? json.delta.thinking.length : 0)
            }
            return ""
          }
          return { _tag: "Malformed", message: "a text_delta whose text is not a string" }
        case "message_delta":
          if (!Json.isObject(json.delta)) return { _tag: "Malformed", message: "a message_delta without a delta" }
          if (Json.isObject(json.delta) && typeof json.delta.stop_reason === "string") {
            finish = finishReason(json.delta.stop_reason)
          }
          if (Json.isObject(json.usage)) {
            track(json.usage)
            // a `message_delta` that ends the turn counts the whole output (cumulative)
            if (typeof json.delta.stop_reason === "string" && output !== undefined) outputCounted = true
          }
          return ""
        case "message_stop":
          done = true
          return ""
        case "error":
          return { _tag: "ErrorEvent", body: json }
        default:
          return ""
      }
    },
    finishReason: () => done ? finish ?? "other" : undefined,
    ended: () => done,
    counts: () => {
      const complete = completeInput(input)
      return complete === undefined || output === undefined ? undefined : countsOf(complete, output, thinking)
    },
    provisional: () => !outputCounted,
    // the `message_delta` that ends the turn came, with the whole output: only `message_stop` is missing
    answered: () => outputCounted ? finish : undefined,
    tools: { ...tools, calls: () => AnthropicTools.withThinking(tools.calls(), thoughts.blocks()) },
    responseId: () => id,
    responseModel: () => answering
  }
}

/** The Anthropic codec. */
export const codec: Codec = {
  path: () => "/v1/messages",
  headers: (apiKey) =>
    apiKey === undefined ? { "anthropic-version": version } : { "x-api-key": apiKey, "anthropic-version": version },
  body: bodyOf,
  decode,
  billed: (json) => Json.isObject(json) && Json.isObject(json.usage) ? usage(json.usage) : undefined,
  streamDecoder,
  unsentStop
}
