/**
 * The OpenAI chat-completions wire format as the gateway speaks it: the
 * request schema (strict: an unknown field is an error), its translation to
 * a Baton request, and the response, chunk and error bodies.
 */
import type { FinishReason, GenerationResult, ToolCallDelta } from "@baton/core/GenerationResult"
import type * as LlmRequest from "@baton/core/LlmRequest"
import type { TokenUsage } from "@baton/core/TokenUsage"
import { Schema, SchemaIssue } from "effect"

const TextPart = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })

const WireToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("function"),
  function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
})

const Message = Schema.Struct({
  role: Schema.Literals(["system", "developer", "user", "assistant", "tool"]),
  /** `null` only on an assistant message carrying `tool_calls`. */
  content: Schema.NullOr(Schema.Union([Schema.String, Schema.Array(TextPart)])),
  name: Schema.optionalKey(Schema.String),
  tool_calls: Schema.optionalKey(Schema.Array(WireToolCall)),
  tool_call_id: Schema.optionalKey(Schema.String),
  /** As an answer's message carries it, so a client can send that message back as it got it. */
  refusal: Schema.optionalKey(Schema.NullOr(Schema.String))
}).check(
  Schema.makeFilter((message) =>
    message.content !== null || message.tool_calls !== undefined ||
    { path: ["content"], issue: "content may be null only on an assistant message with tool_calls" }
  )
)

const WireTool = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({
    name: Schema.String,
    description: Schema.optionalKey(Schema.String),
    parameters: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)),
    strict: Schema.optionalKey(Schema.NullOr(Schema.Boolean))
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
    description: Schema.optionalKey(Schema.String),
    schema: Schema.Record(Schema.String, Schema.Unknown),
    strict: Schema.optionalKey(Schema.NullOr(Schema.Boolean))
  })
})

const ResponseFormat = Schema.Union([
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json_object") }),
  JsonSchemaFormat
])

const MaxTokens = Schema.optionalKey(Schema.NullOr(Schema.Int.check(Schema.isGreaterThan(0))))

/** A chat-completions request body. */
export const ChatRequest = Schema.Struct({
  model: Schema.String.check(Schema.isNonEmpty()),
  messages: Schema.Array(Message).check(Schema.isMinLength(1)),
  temperature: Schema.optionalKey(Schema.NullOr(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 2 })))),
  max_tokens: MaxTokens,
  max_completion_tokens: MaxTokens,
  stop: Schema.optionalKey(
    Schema.NullOr(Schema.Union([
      Schema.NonEmptyString,
      Schema.Array(Schema.NonEmptyString).check(Schema.isBetweenLength(1, 4))
    ]))
  ),
  seed: Schema.optionalKey(Schema.NullOr(Schema.Int)),
  user: Schema.optionalKey(Schema.String),
  response_format: Schema.optionalKey(ResponseFormat),
  tools: Schema.optionalKey(Schema.Array(WireTool).check(Schema.isMinLength(1))),
  tool_choice: Schema.optionalKey(ToolChoice),
  parallel_tool_calls: Schema.optionalKey(Schema.Boolean),
  stream: Schema.optionalKey(Schema.NullOr(Schema.Boolean)),
  stream_options: Schema.optionalKey(
    Schema.NullOr(Schema.Struct({ include_usage: Schema.optionalKey(Schema.Boolean) }))
  ),
  fallbacks: Schema.optionalKey(Schema.Array(Schema.String.check(Schema.isNonEmpty())).check(Schema.isMaxLength(8)))
})

/** A decoded request body. */
export type ChatRequest = typeof ChatRequest.Type

/** The JSON Schema asked for by `response_format`, if any. */
export type JsonSchemaFormat = typeof JsonSchemaFormat.Type

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

const textOf = (content: typeof Message.Type["content"]): string =>
  content === null ? "" : typeof content === "string" ? content : content.map((part) => part.text).join("")

const messageOf = (message: typeof Message.Type): LlmRequest.Message => {
  const content = textOf(message.content)
  if (message.role === "tool") return { role: "tool", content, toolCallId: message.tool_call_id ?? "" }
  const role = message.role === "developer" ? "system" : message.role
  return message.tool_calls === undefined ? { role, content } : {
    role,
    content,
    toolCalls: message.tool_calls.map((call) => ({
      id: call.id,
      name: call.function.name,
      arguments: call.function.arguments
    }))
  }
}

const toolsOf = (body: ChatRequest) =>
  body.tools === undefined ? {} : {
    tools: body.tools.map((tool) => ({
      name: tool.function.name,
      description: tool.function.description,
      parameters: tool.function.parameters ?? { type: "object", properties: {} }
    })),
    ...(body.tool_choice === undefined ? {} : {
      toolChoice: typeof body.tool_choice === "string"
        ? body.tool_choice
        : { tool: body.tool_choice.function.name }
    })
  }

/** The Baton request for a chat request (the chain is chosen apart). */
export const toInput = (
  body: ChatRequest,
  metadata: { readonly subjectId: string; readonly requestId: string }
): LlmRequest.Input => {
  const maxTokens = body.max_completion_tokens ?? body.max_tokens
  const stop = body.stop ?? undefined
  return {
    prompt: body.messages.map(messageOf),
    ...toolsOf(body),
    options: {
      ...(body.temperature == null ? {} : { temperature: body.temperature }),
      ...(maxTokens == null ? {} : { maxTokens }),
      ...(stop === undefined ? {} : { stop: typeof stop === "string" ? [stop] : stop }),
      ...(body.seed == null ? {} : { seed: body.seed }),
      ...(body.response_format?.type === "json_object" ? { responseFormat: "json" as const } : {})
    },
    metadata: {
      ...metadata,
      ...(body.user === undefined ? {} : { tags: { user: body.user } })
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

/** The `model` a client sees: the provider and model that produced the text. */
export const producedBy = (provider: string, model: string): string => `${provider}/${model}`

const seconds = (millis: number) => Math.floor(millis / 1000)

/** A `chat.completion` body. */
export const completion = (
  id: string,
  createdMillis: number,
  result: GenerationResult,
  content: string
) => ({
  id,
  object: "chat.completion",
  created: seconds(createdMillis),
  model: producedBy(result.provider, result.model),
  choices: [{
    index: 0,
    message: result.toolCalls === undefined
      ? { role: "assistant", content, refusal: null }
      : {
        role: "assistant",
        content: content.length === 0 ? null : content,
        refusal: null,
        tool_calls: result.toolCalls.map((call) => ({
          id: call.id,
          type: "function",
          function: { name: call.name, arguments: call.arguments }
        }))
      },
    finish_reason: finishReason(result.finishReason),
    logprobs: null
  }],
  usage: usage(result.usage)
})

/**
 * The chunk delta of a piece of a tool call: the first of a call opens it
 * (`id`, `type`, `function.name`), the rest append to `function.arguments`.
 */
export const toolCallDelta = (part: ToolCallDelta, first: boolean) => ({
  tool_calls: [
    first
      ? {
        index: part.index,
        id: part.id,
        type: "function",
        function: { name: part.name, arguments: part.argumentsDelta }
      }
      : { index: part.index, function: { arguments: part.argumentsDelta } }
  ]
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
