/**
 * The OpenAI chat-completions wire format as the gateway speaks it: the
 * request schema, its translation to a Baton request, and the response,
 * chunk and error bodies.
 *
 * What a request may carry:
 * - An unknown top-level field is an error (it would change the answer
 *   without the client knowing the gateway ignored it).
 * - Every optional field may be `null`, which means absent (as the SDKs of
 *   other languages and `model_dump()` write an unset field).
 * - OpenAI's fields Baton has no option for are accepted at their neutral
 *   value only (`n: 1`, `top_p: 1`, penalties 0, `logprobs: false`,
 *   `top_logprobs: 0`, `logit_bias: {}`, `store: false`,
 *   `parallel_tool_calls: true`, a tool's `strict: false`, as LangChain and
 *   others send them by default); any other value is refused naming the
 *   field ({@link unsupported}).
 * - A tool's `function.parameters` must be a JSON object Baton can send
 *   (`Tool.parametersIssue`: nested at most `Tool.maxParametersDepth`
 *   levels, its root `type: "object"`): another is refused naming the
 *   field, before any provider call and without spending quota.
 * - A message ignores keys it does not declare: an assistant message sent
 *   back as an SDK gave it (`parsed`, `annotations`, `audio: null`,
 *   `function_call: null`, a tool call's `parsed_arguments`) continues the
 *   conversation, and so does a refusal (`content: null`, `refusal`: its
 *   text is sent as the assistant's, as is an assistant's content part
 *   `{ type: "refusal", refusal }`). An assistant message with
 *   `tool_calls` may leave `content` out, as OpenAI's own type
 *   (`ChatCompletionAssistantMessageParam`) does. A non-null `function_call`
 *   or `audio`, which Baton cannot pass on, is refused.
 * - A `json_schema` response format's `description` (what the answer is
 *   for, which the model reads) becomes the schema's own `description`,
 *   before the schema's when it has one ({@link schemaOf}): Baton's
 *   structured output has no field of its own for it, and every provider
 *   sends the schema's to the model.
 * - A `max_tokens` (`max_completion_tokens`) or `temperature` left out is
 *   left to the provider ({@link toInput}), not given Baton's defaults.
 * - `reasoning_effort` (what the official openai client and the Vercel AI
 *   SDK's `reasoning` send) is Baton's `reasoning` ({@link reasoningOf}):
 *   `"none"` and `"minimal"` are `"none"` (the model answers at once where
 *   it can, else thinks its least); `"low"`, `"medium"` and `"high"` are
 *   themselves; `"xhigh"` and `"max"`, above Baton's top level, are
 *   `"high"`. Left out (or `null`), nothing is asked and the model decides.
 *   Another value is refused naming the field.
 * - What a provider needs sent back with its tool calls (`Tool.Replay`:
 *   Gemini's thought signature, DeepSeek's reasoning) rides on each call as
 *   `extra_content.baton.replay`: in a completion's `tool_calls`, in a
 *   stream's finish chunk as a `tool_calls` delta (`index`, an empty
 *   `function.arguments` and `extra_content`), and read back from the
 *   assistant message a client sends back. A signature rides also in
 *   Google's field, `extra_content.google.thought_signature`, in Baton's
 *   form (the maker first, `googleSignature.ts`): beside Baton's, and on the
 *   streamed delta that opens a call when that delta has the call's replay
 *   (a Gemini call, sent whole and signed). The official openai client
 *   keeps both (its message objects keep unknown keys, its stream helper
 *   merges the deltas into its calls); the Vercel AI SDK keeps only
 *   Google's, read from a completion's calls or a call's opening delta, so a
 *   Gemini 3 loop keeps its signatures while a DeepSeek thinking-mode loop's
 *   calls go back without their reasoning (it still runs, on the fallback
 *   `Tool.Replay` describes). Read back, Baton's replay wins; without it,
 *   Google's field gives the signature when it is in Baton's form, and
 *   nothing otherwise. A Baton replay that is not one is refused, naming the
 *   field; Google's field never is.
 */
import type { Reasoning } from "@baton/core/GenerationOptions"
import type { Finish, FinishReason, ToolCallDelta } from "@baton/core/GenerationResult"
import type * as LlmRequest from "@baton/core/LlmRequest"
import type { TokenUsage } from "@baton/core/TokenUsage"
import * as Tool from "@baton/core/Tool"
import { Schema, SchemaIssue } from "effect"
import * as GoogleSignature from "./googleSignature.ts"

/** An optional field: absent or `null` (the same), else `schema`. */
const optional = <S extends Schema.Top>(schema: S) => Schema.optionalKey(Schema.NullOr(schema))

/** A message part whose keys no field declares are ignored (never an excess-property error). */
const open = <const Fields extends Schema.Struct.Fields>(fields: Fields) =>
  Schema.StructWithRest(Schema.Struct(fields), [Schema.Record(Schema.String, Schema.Unknown)])

const TextPart = open({ type: Schema.Literal("text"), text: Schema.String })

/** What an assistant said when it declined, as a part (OpenAI's `ChatCompletionContentPartRefusal`): its text. */
const RefusalPart = open({ type: Schema.Literal("refusal"), refusal: Schema.String })

/**
 * A tool call's `extra_content`: Baton's part (`baton.replay`), checked; Google's (`google.thought_signature`)
 * is read apart and never refused ({@link GoogleSignature.read}); any other is ignored.
 */
const ExtraContent = open({ baton: optional(open({ replay: optional(Tool.Replay) })) })

const WireToolCall = open({
  id: Schema.String,
  type: Schema.Literal("function"),
  function: open({ name: Schema.String, arguments: Schema.String }),
  extra_content: optional(ExtraContent)
})

/** A field Baton cannot pass on when it is set: `null` (as `model_dump()` writes it) or absent only. */
const onlyNull = (message: string) => Schema.optionalKey(Schema.Null.annotate({ message }))

const Message = open({
  role: Schema.Literals(["system", "developer", "user", "assistant", "tool"]),
  /** `null` or absent only on an assistant message carrying `tool_calls` or a `refusal` (as OpenAI takes it). */
  content: optional(Schema.Union([Schema.String, Schema.Array(Schema.Union([TextPart, RefusalPart]))])),
  name: optional(Schema.String),
  tool_calls: optional(Schema.Array(WireToolCall)),
  tool_call_id: optional(Schema.String),
  /** As an answer's message carries it; with `content: null`, what the assistant said ({@link textOf}). */
  refusal: optional(Schema.String),
  function_call: onlyNull("the deprecated function_call is not supported: send tool_calls"),
  audio: onlyNull("audio is not supported: the gateway answers with text")
}).check(
  Schema.makeFilter((message) =>
    message.content != null || (message.tool_calls ?? []).length > 0 ||
    (message.role === "assistant" && (message.refusal ?? "").length > 0) ||
    {
      path: ["content"],
      issue: "content may be null or absent only on an assistant message with tool_calls or a refusal"
    }
  ),
  Schema.makeFilter((message) =>
    message.role !== "tool" || (message.tool_call_id ?? "").length > 0 ||
    { path: ["tool_call_id"], issue: "a tool message must name the tool call it answers" }
  ),
  Schema.makeFilter((message) =>
    message.role === "assistant" || typeof message.content === "string" ||
    (message.content ?? []).every((part) => part.type === "text") ||
    { path: ["content"], issue: "a refusal part is an assistant's only" }
  )
)

/** A tool's JSON Schema, checked as `Tool.make` checks it, so that a bad one is named by its wire path. */
const Parameters = Schema.Record(Schema.String, Schema.Unknown).check(Schema.makeFilter(Tool.parametersIssue))

const WireTool = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({
    name: Schema.String,
    description: optional(Schema.String),
    parameters: optional(Parameters),
    /** `false` only, the default (`unsupported`). */
    strict: optional(Schema.Boolean)
  })
})

const ToolChoice = Schema.Union([
  Schema.Literals(["auto", "none", "required"]),
  Schema.Struct({ type: Schema.Literal("function"), function: Schema.Struct({ name: Schema.String }) })
])

const JsonSchemaFormat = Schema.Struct({
  type: Schema.Literal("json_schema"),
  json_schema: Schema.Struct({
    name: Schema.String,
    description: optional(Schema.String),
    schema: Schema.Record(Schema.String, Schema.Unknown),
    strict: optional(Schema.Boolean)
  })
})

const ResponseFormat = Schema.Union([
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json_object") }),
  JsonSchemaFormat
])

const MaxTokens = optional(Schema.Int.check(Schema.isGreaterThan(0)))

const Penalty = optional(Schema.Finite.check(Schema.isBetween({ minimum: -2, maximum: 2 })))

/** OpenAI's `reasoning_effort` values (its `ReasoningEffort`). */
const ReasoningEffort = Schema.Literals(["none", "minimal", "low", "medium", "high", "xhigh", "max"])

/**
 * Baton's `reasoning` for each `reasoning_effort`: `"minimal"`, OpenAI's
 * least thinking, is `"none"` (Baton's least); `"xhigh"` and `"max"`, above
 * Baton's top, are `"high"`.
 */
const reasoningOf: Readonly<Record<typeof ReasoningEffort.Type, Reasoning>> = {
  none: "none",
  minimal: "none",
  low: "low",
  medium: "medium",
  high: "high",
  xhigh: "high",
  max: "high"
}

/** A chat-completions request body. */
export const ChatRequest = Schema.Struct({
  model: Schema.String.check(Schema.isNonEmpty()),
  messages: Schema.Array(Message).check(Schema.isMinLength(1)),
  temperature: optional(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 2 }))),
  max_tokens: MaxTokens,
  max_completion_tokens: MaxTokens,
  stop: optional(
    Schema.Union([
      Schema.NonEmptyString,
      Schema.Array(Schema.NonEmptyString).check(Schema.isBetweenLength(1, 4))
    ])
  ),
  seed: optional(Schema.Int),
  reasoning_effort: optional(ReasoningEffort),
  user: optional(Schema.String),
  response_format: optional(ResponseFormat),
  tools: optional(Schema.Array(WireTool).check(Schema.isMinLength(1))),
  tool_choice: optional(ToolChoice),
  stream: optional(Schema.Boolean),
  // `include_obfuscation` (OpenAI's padding of stream events) is accepted and ignored: no event is padded
  stream_options: optional(
    Schema.Struct({ include_usage: optional(Schema.Boolean), include_obfuscation: optional(Schema.Boolean) })
  ),
  fallbacks: optional(Schema.Array(Schema.String.check(Schema.isNonEmpty())).check(Schema.isMaxLength(8))),
  // OpenAI's fields Baton has no option for: their neutral values only (`unsupported`)
  n: optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 128 }))),
  top_p: optional(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  presence_penalty: Penalty,
  frequency_penalty: Penalty,
  logprobs: optional(Schema.Boolean),
  top_logprobs: optional(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 20 }))),
  logit_bias: optional(Schema.Record(Schema.String, Schema.Finite)),
  store: optional(Schema.Boolean),
  parallel_tool_calls: optional(Schema.Boolean)
}).annotate({ messageUnexpectedKey: "unknown field: the gateway refuses a field it would ignore" })

/** A decoded request body. */
export type ChatRequest = typeof ChatRequest.Type

/** The JSON Schema asked for by `response_format`, if any. */
export type JsonSchemaFormat = typeof JsonSchemaFormat.Type

/**
 * The JSON Schema a `json_schema` response format asks for, its
 * `description` carried as the schema's own, followed by the schema's
 * description when it has one.
 */
export const schemaOf = ({ json_schema: { description, schema } }: JsonSchemaFormat): Record<string, unknown> => {
  if (description == null || description === "") return schema
  const own = schema.description
  return { ...schema, description: typeof own === "string" && own !== "" ? `${description}\n\n${own}` : description }
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** The first problem of a body that does not match the schema, as an OpenAI `param` and message. */
export const describeIssue = (error: Schema.SchemaError): { readonly param: string; readonly message: string } => {
  const issue = formatter(error.issue).issues[0]
  const param = (issue?.path ?? [])
    .map((segment) => typeof segment === "object" ? segment.key : segment)
    .map((segment) => typeof segment === "number" ? `[${segment}]` : `.${String(segment)}`)
    .join("")
    .replace(/^\./, "")
  const message = issue?.message ?? error.message
  return { param, message: param === "" ? message : `${param}: ${message}` }
}

/**
 * A message's text. An assistant's refusal sent back as the SDK gave it
 * (`content: null`, `refusal: "..."`) is what the assistant said: it stays
 * the assistant's turn, so the model knows it declined.
 */
const textOf = (message: typeof Message.Type): string => {
  const content = message.content
  if (content == null) return message.refusal ?? ""
  return typeof content === "string"
    ? content
    : content.map((part) => part.type === "text" ? part.text : part.refusal).join("")
}

const messageOf = (message: typeof Message.Type): LlmRequest.Message => {
  const content = textOf(message)
  // the Message schema refuses a tool message without its tool_call_id
  if (message.role === "tool") return { role: "tool", content, toolCallId: message.tool_call_id as string }
  const role = message.role === "developer" ? "system" : message.role
  const calls = message.tool_calls ?? []
  return calls.length === 0 ? { role, content } : {
    role,
    content,
    toolCalls: calls.map((call): Tool.ToolCall => {
      const replay = call.extra_content?.baton?.replay ?? GoogleSignature.read(call.extra_content?.["google"])
      const read = { id: call.id, name: call.function.name, arguments: call.function.arguments }
      return replay === undefined ? read : { ...read, replay }
    })
  }
}

const toolsOf = (body: ChatRequest) =>
  body.tools == null ? {} : {
    tools: body.tools.map((tool) => ({
      name: tool.function.name,
      description: tool.function.description ?? undefined,
      parameters: tool.function.parameters ?? { type: "object", properties: {} }
    })),
    ...(body.tool_choice == null ? {} : {
      toolChoice: typeof body.tool_choice === "string"
        ? body.tool_choice
        : { tool: body.tool_choice.function.name }
    })
  }

/** The neutral value of each OpenAI field Baton has no option for, and why another cannot be honoured. */
const neutral: ReadonlyArray<{
  readonly field:
    | "n"
    | "top_p"
    | "presence_penalty"
    | "frequency_penalty"
    | "logprobs"
    | "top_logprobs"
    | "store"
    | "parallel_tool_calls"
  readonly value: number | boolean
  readonly why: string
}> = [
  { field: "n", value: 1, why: "the gateway answers with one choice" },
  { field: "top_p", value: 1, why: "Baton has no nucleus-sampling option (use temperature)" },
  { field: "presence_penalty", value: 0, why: "Baton has no presence penalty" },
  { field: "frequency_penalty", value: 0, why: "Baton has no frequency penalty" },
  { field: "logprobs", value: false, why: "the gateway returns no log probabilities" },
  { field: "top_logprobs", value: 0, why: "the gateway returns no log probabilities" },
  { field: "store", value: false, why: "the gateway stores no completions" },
  {
    field: "parallel_tool_calls",
    value: true,
    why: "Baton has no option to keep the model to one tool call (every provider may make several)"
  }
]

/** The first tool asking for strict parameters, which Baton cannot ask a provider for. */
const strictTool = (body: ChatRequest): { readonly param: string; readonly message: string } | undefined => {
  const index = (body.tools ?? []).findIndex((tool) => tool.function.strict === true)
  if (index === -1) return undefined
  const param = `tools[${index}].function.strict`
  return { param, message: `${param}: Baton has no strict mode for tool parameters; leave it out or send false` }
}

/**
 * The first field set to a value the gateway cannot honour (a field Baton
 * has no option for, at other than its neutral value), as an OpenAI `param`
 * and message; `undefined` when there is none.
 */
export const unsupported = (body: ChatRequest): { readonly param: string; readonly message: string } | undefined => {
  for (const { field, value, why } of neutral) {
    const given = body[field]
    if (given != null && given !== value) {
      return { param: field, message: `${field}: ${why}; leave it out or send ${String(value)}` }
    }
  }
  if (body.logit_bias != null && Object.keys(body.logit_bias).length > 0) {
    return { param: "logit_bias", message: "logit_bias: Baton has no logit bias; leave it out or send {}" }
  }
  if (body.tool_choice != null && body.tools == null) {
    return { param: "tool_choice", message: "tool_choice: only allowed when tools are given" }
  }
  // as OpenAI refuses them: options for a stream on a call that does not stream
  if (body.stream_options != null && body.stream !== true) {
    return { param: "stream_options", message: "stream_options: only allowed when stream is true" }
  }
  return strictTool(body)
}

/** Baton's request fields (the field of an `InvalidOptions`) by the body's fields `toInput` builds them from. */
const bodyFields: ReadonlyArray<readonly [baton: string, wire: string]> = [
  ["prompt", "messages"],
  ["toolChoice", "tool_choice"],
  ["options.temperature", "temperature"],
  ["options.stop", "stop"],
  ["options.seed", "seed"],
  ["options.reasoning", "reasoning_effort"],
  ["options.responseFormat", "response_format"]
]

/**
 * The field of the client's body that Baton's `field` (of an
 * `InvalidOptions` from the manager's own checks) was built from:
 * `toolChoice` is `tool_choice`, `prompt.2.content` `messages.2.content`,
 * `options.maxTokens` whichever of `max_completion_tokens` and `max_tokens`
 * the client sent (`null` is not sent), `options.stop.0` `stop` when it was one string; any other
 * field is named alike.
 */
export const bodyField = (field: string, body: ChatRequest): string => {
  if (field === "options.maxTokens") {
    return body.max_completion_tokens == null
      ? "max_tokens"
      : "max_completion_tokens"
  }
  // a lone `stop` string was made a list of one
  if (typeof body.stop === "string" && field.startsWith("options.stop")) return "stop"
  for (const [baton, wire] of bodyFields) {
    if (field === baton || field.startsWith(`${baton}.`)) return `${wire}${field.slice(baton.length)}`
  }
  return field
}

/**
 * The Baton request for a chat request (the chain is chosen apart). A
 * `max_tokens` (or `max_completion_tokens`) or `temperature` the client left
 * out is `"provider"`: not sent, as OpenAI's own API would leave it, rather
 * than Baton's library defaults (see `GenerationOptions`; Anthropic, which
 * requires a limit, gets 4096). A `reasoning_effort` is Baton's `reasoning`
 * ({@link reasoningOf}); none, and none is set.
 */
export const toInput = (
  body: ChatRequest,
  metadata: { readonly subjectId: string; readonly requestId: string }
): LlmRequest.Input => {
  const stop = body.stop ?? undefined
  return {
    prompt: body.messages.map(messageOf),
    ...toolsOf(body),
    options: {
      temperature: body.temperature ?? "provider",
      maxTokens: body.max_completion_tokens ?? body.max_tokens ?? "provider",
      ...(stop === undefined ? {} : { stop: typeof stop === "string" ? [stop] : stop }),
      ...(body.seed == null ? {} : { seed: body.seed }),
      ...(body.reasoning_effort == null ? {} : { reasoning: reasoningOf[body.reasoning_effort] }),
      ...(body.response_format?.type === "json_object" ? { responseFormat: "json" as const } : {})
    },
    metadata: {
      ...metadata,
      ...(body.user == null ? {} : { tags: { user: body.user } })
    }
  }
}

const finishReasons: Record<FinishReason, string> = {
  stop: "stop",
  length: "length",
  content_filter: "content_filter",
  tool_calls: "tool_calls",
  // OpenAI's `finish_reason` has no "other": Baton's "other" (an unusual stop such as Gemini's `OTHER`,
  // `LANGUAGE` or `MALFORMED_FUNCTION_CALL`, or Anthropic's `pause_turn`) is served as "stop"
  other: "stop"
}

/** OpenAI's `finish_reason` for Baton's. */
export const finishReason = (reason: FinishReason): string => finishReasons[reason]

/** OpenAI's `usage` object. */
export const usage = (tokens: TokenUsage) => ({
  prompt_tokens: tokens.promptTokens,
  completion_tokens: tokens.completionTokens,
  total_tokens: tokens.totalTokens,
  prompt_tokens_details: { cached_tokens: tokens.cachedPromptTokens },
  completion_tokens_details: { reasoning_tokens: tokens.reasoningTokens }
})

/** The `google` part of `extra_content` for `replay`'s signature, when it has one ({@link GoogleSignature}). */
const googlePart = (replay: Tool.Replay | undefined) => {
  const google = GoogleSignature.field(replay)
  return google === undefined ? undefined : { google }
}

/** A tool call's `extra_content` carrying its replay, when it has one: Baton's, and Google's for a signature. */
const extraContent = (call: Tool.ToolCall) =>
  call.replay === undefined ? {} : { extra_content: { baton: { replay: call.replay }, ...googlePart(call.replay) } }

/**
 * The finish chunk's delta fields for the replays of a stream's calls: a
 * `tool_calls` delta with each call's `index`, an empty `function.arguments`
 * and its `extra_content` (none when no call has a replay). The `function`
 * key is required: the Vercel AI SDK's OpenAI-compatible provider refuses a
 * streamed tool-call entry without one (and so the whole chunk); its empty
 * arguments append nothing in any client.
 */
export const replayDelta = (calls: ReadonlyArray<Tool.ToolCall> | undefined): Record<string, unknown> => {
  const replayed = (calls ?? []).flatMap((call, index) =>
    call.replay === undefined ? [] : [{ index, function: { arguments: "" }, ...extraContent(call) }]
  )
  return replayed.length === 0 ? {} : { tool_calls: replayed }
}

/** The `model` a client sees: the provider and model that produced the text. */
export const producedBy = (provider: string, model: string): string => `${provider}/${model}`

const seconds = (millis: number) => Math.floor(millis / 1000)

/** How an answer ended, as a result or a stream's `Finish` says it. */
export type Ending = Pick<Finish, "finishReason" | "usage" | "provider" | "model" | "toolCalls">

/**
 * A `chat.completion` body; `content` is `null` when there is no text to
 * show (a content filter's stop), and `refusal` the model's words when it
 * declined.
 */
export const completion = (
  id: string,
  createdMillis: number,
  ending: Ending,
  content: string | null,
  refusal: string | null = null
) => ({
  id,
  object: "chat.completion",
  created: seconds(createdMillis),
  model: producedBy(ending.provider, ending.model),
  choices: [{
    index: 0,
    message: ending.toolCalls === undefined
      ? { role: "assistant", content, refusal }
      : {
        role: "assistant",
        content: content === "" ? null : content,
        refusal: null,
        tool_calls: ending.toolCalls.map((call) => ({
          id: call.id,
          type: "function",
          function: { name: call.name, arguments: call.arguments },
          ...extraContent(call)
        }))
      },
    finish_reason: finishReason(ending.finishReason),
    logprobs: null
  }],
  usage: usage(ending.usage)
})

/**
 * The chunk delta that opens a streamed tool call (`id`, `type`,
 * `function.name`, its first arguments), with Google's field for the
 * signature of the delta's `replay` when it has one (a Gemini call's): the
 * Vercel AI SDK reads a streamed call's `extra_content` from this delta only.
 */
export const openingDelta = (part: ToolCallDelta) => {
  const google = googlePart(part.replay)
  return {
    tool_calls: [{
      index: part.index,
      id: part.id,
      type: "function",
      function: { name: part.name, arguments: part.argumentsDelta },
      ...(google === undefined ? {} : { extra_content: google })
    }]
  }
}

/** The chunk delta of more of a streamed tool call's arguments, appended to `function.arguments`. */
export const argumentsDelta = (part: ToolCallDelta) => ({
  tool_calls: [{ index: part.index, function: { arguments: part.argumentsDelta } }]
})

/** One `chat.completion.chunk`. */
export const chunk = (
  id: string,
  createdMillis: number,
  model: string,
  choice: { readonly delta: Record<string, unknown>; readonly finish_reason: string | null } | undefined,
  tokens?: TokenUsage
) => ({
  id,
  object: "chat.completion.chunk",
  created: seconds(createdMillis),
  model,
  choices: choice === undefined ? [] : [{ index: 0, ...choice, logprobs: null }],
  ...(tokens === undefined ? {} : { usage: usage(tokens) })
})

/** An error in OpenAI's format. */
export interface ErrorBody {
  readonly message: string
  readonly type: string
  readonly code: string | null
  readonly param: string | null
}

/** The `{ "error": ... }` body. */
export const errorBody = (error: ErrorBody) => ({ error })
