/**
 * The Anthropic Messages wire format: top-level `system`, required
 * `max_tokens` and `anthropic-version`, `output_config.format` for JSON,
 * usage with `input_tokens` counting uncached input only, and the named SSE
 * events `message_start` → `content_block_*` → `message_delta` →
 * `message_stop`.
 *
 * @internal
 */
import type { Conversation, Message, Reply, Usage } from "./conversation.ts"
import { blockedOutright } from "./conversation.ts"
import type { ToolRequest } from "./tools.ts"
import type { ErrorResponse, RequestHeaders, WireError, WireFormat, WriteOptions } from "./wire.ts"
import { asArray, asCount, asRecord, header, textOf } from "./wire.ts"

const parseMessages = (raw: unknown): ReadonlyArray<Message> | string => {
  const list = asArray(raw)
  if (list === undefined || list.length === 0) return "messages: at least one message is required"
  const messages: Array<Message> = []
  for (const [i, item] of list.entries()) {
    const record = asRecord(item)
    const role = record?.["role"]
    const blocks = asArray(record?.["content"])?.map(asRecord) ?? []
    const results = blocks.flatMap((block) => block?.["type"] === "tool_result" ? [textOf(block["content"]) ?? ""] : [])
    const toolCalls = blocks.flatMap((block) => block?.["type"] === "tool_use" ? [String(block["name"])] : [])
    const text = results.length > 0 ? results.join("; ") : textOf(record?.["content"])
    if (role !== "user" && role !== "assistant") return `messages.${i}.role: Input should be 'user' or 'assistant'`
    if (text === undefined) return `messages.${i}.content: Input should be a valid string or list of blocks`
    messages.push({ role, text, toolCalls, toolResult: results.length > 0 })
  }
  const last = asRecord(list.at(-1))
  if (last?.["role"] === "assistant" && /\s$/.test(finalText(last["content"]))) return trailingWhitespace
  return messages
}

/** Anthropic's 400 for a prefill that ends in whitespace. */
const trailingWhitespace = "messages: final assistant content cannot end with trailing whitespace"

/** The text a message ends with: string content, else its last block's text when that block is text. */
const finalText = (content: unknown): string => {
  if (typeof content === "string") return content
  const block = asRecord(asArray(content)?.at(-1))
  return block?.["type"] === "text" && typeof block["text"] === "string" ? block["text"] : ""
}

/** `tools` and `tool_choice`, when the request offers tools. */
const parseTools = (record: Record<string, unknown>): ToolRequest | undefined => {
  const tools = asArray(record["tools"])?.flatMap((tool) => {
    const fields = asRecord(tool)
    return typeof fields?.["name"] === "string" ? [{ name: fields["name"], parameters: fields["input_schema"] }] : []
  })
  if (tools === undefined || tools.length === 0) return undefined
  const choice = asRecord(record["tool_choice"])
  const type = choice?.["type"]
  return {
    tools,
    choice: type === "tool" ? String(choice?.["name"]) : type === "any" ? "required" : type === "none" ? "none" : "auto"
  }
}

const parseJson = (outputConfig: unknown): Conversation["json"] => {
  const format = asRecord(asRecord(outputConfig)?.["format"])
  return format?.["type"] === "json_schema" ? { schema: format["schema"] } : undefined
}

const parse = (body: unknown, _route: unknown, headers: RequestHeaders): Conversation | string => {
  if ((header(headers, "anthropic-version") ?? "") === "") return "anthropic-version: header is required"
  const record = asRecord(body)
  if (record === undefined) return "the request body must be a JSON object"
  const model = record["model"]
  if (typeof model !== "string" || model === "") return "model: Field required"
  const maxTokens = asCount(record["max_tokens"])
  if (maxTokens === undefined) return "max_tokens: Field required"
  const messages = parseMessages(record["messages"])
  if (typeof messages === "string") return messages
  const system = textOf(record["system"])
  return {
    provider: "anthropic",
    model,
    stream: record["stream"] === true,
    streamUsage: true,
    messages: system === undefined ? messages : [{ role: "system", text: system }, ...messages],
    maxTokens,
    json: parseJson(record["output_config"]),
    tools: parseTools(record)
  }
}

const checkAuth = (headers: RequestHeaders) =>
  (header(headers, "x-api-key") ?? header(headers, "authorization") ?? "") !== ""
    ? undefined
    : "x-api-key header is required"

const STOP: Record<Reply["finish"], string> = {
  stop: "end_turn",
  length: "max_tokens",
  content_filter: "refusal",
  tool_calls: "tool_use",
  resource: "pause_turn"
}

const inputUsage = (usage: Usage) => ({
  input_tokens: usage.promptTokens - usage.cachedPromptTokens,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: usage.cachedPromptTokens
})

const outputUsage = (usage: Usage) => ({
  output_tokens: usage.completionTokens,
  ...(usage.reasoningTokens > 0 ? { output_tokens_details: { thinking_tokens: usage.reasoningTokens } } : {})
})

const message = (options: WriteOptions, content: ReadonlyArray<unknown>, stop: string | null, usage: unknown) => ({
  id: options.id,
  type: "message",
  role: "assistant",
  model: options.model,
  content,
  stop_reason: stop,
  stop_sequence: null,
  ...(options.usage ? { usage } : {})
})

/** A tool call's arguments as the `input` object of a `tool_use` block. */
const inputOf = (args: string): unknown => JSON.parse(args)

const textBlocks = (reply: Reply) =>
  blockedOutright(reply)
    ? []
    : reply.toolCalls === undefined
    ? [{ type: "text", text: reply.text }]
    : reply.toolCalls.map((call) => ({
      type: "tool_use",
      id: call.id,
      name: call.name,
      input: inputOf(call.arguments)
    }))

const body = (reply: Reply, options: WriteOptions) =>
  message(options, textBlocks(reply), STOP[reply.finish], {
    ...inputUsage(reply.usage),
    ...outputUsage(reply.usage)
  })

const frame = (event: string, data: string): string => `event: ${event}\ndata: ${data}\n\n`

const event = (type: string, data: Readonly<Record<string, unknown>>) => frame(type, JSON.stringify({ type, ...data }))

const events = (reply: Reply, options: WriteOptions): ReadonlyArray<string> => {
  const usage = options.usage
  const blocks = blockedOutright(reply) ? [] : reply.toolCalls !== undefined ? toolEvents(reply) : [
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    ...reply.deltas.map((text) => event("content_block_delta", { index: 0, delta: { type: "text_delta", text } })),
    event("content_block_stop", { index: 0 })
  ]
  return [
    event("message_start", {
      message: message(options, [], null, { ...inputUsage(reply.usage), output_tokens: 1 })
    }),
    event("ping", {}),
    ...blocks,
    event("message_delta", {
      delta: { stop_reason: STOP[reply.finish], stop_sequence: null },
      ...(usage ? { usage: outputUsage(reply.usage) } : {})
    }),
    ...(options.terminator ? [event("message_stop", {})] : [])
  ]
}

const toolEvents = (reply: Reply): ReadonlyArray<string> =>
  (reply.toolCalls ?? []).flatMap((call, index) => {
    const half = Math.ceil(call.arguments.length / 2)
    return [
      event("content_block_start", {
        index,
        content_block: { type: "tool_use", id: call.id, name: call.name, input: {} }
      }),
      ...[call.arguments.slice(0, half), call.arguments.slice(half)].map((partial_json) =>
        event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } })
      ),
      event("content_block_stop", { index })
    ]
  })

const TYPES: Record<number, readonly [string, string]> = {
  400: ["invalid_request_error", "Invalid request."],
  401: ["authentication_error", "invalid x-api-key"],
  402: ["billing_error", "Your credit balance is too low to access the Anthropic API."],
  403: ["permission_error", "Your API key does not have permission to use the specified resource."],
  404: ["not_found_error", "The requested resource could not be found."],
  413: ["request_too_large", "Request exceeds the maximum allowed number of bytes."],
  429: ["rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."],
  500: ["api_error", "Internal server error"],
  504: ["timeout_error", "Request timed out."],
  529: ["overloaded_error", "Overloaded"]
}

const errorBody = (status: number, type: string, message: string): ErrorResponse => ({
  status,
  body: { type: "error", error: { type, message }, request_id: "req_mock" }
})

const byCode = (code: number, message?: string, errorType?: string): ErrorResponse => {
  const [type, text] = TYPES[code] ?? [code >= 500 ? "api_error" : "invalid_request_error", `Mock error ${code}.`]
  return errorBody(code, errorType ?? type, message ?? text)
}

const error = (e: WireError): ErrorResponse => {
  switch (e._tag) {
    case "Status":
      return byCode(e.code, e.message, e.errorCode)
    case "RateLimited":
      return byCode(429)
    case "QuotaExhausted":
      return errorBody(
        400,
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."
      )
    case "ContextLength":
      return errorBody(
        400,
        "invalid_request_error",
        `prompt is too long: ${200_000 + e.promptTokens} tokens > 200000 maximum`
      )
    case "InvalidRequest":
      return byCode(400, e.message)
    case "Unauthorized":
      return byCode(401, e.message)
  }
}

/** The Anthropic Messages format. @internal */
/** `message_start` reports the input and one output token; `message_delta` the whole usage (a tool call is four block events). */
const usageByFrame = (reply: Reply, options: WriteOptions): ReadonlyArray<Usage | undefined> => {
  const started: Usage = { ...reply.usage, completionTokens: 1, reasoningTokens: 0 }
  const blocks = blockedOutright(reply)
    ? 0
    : reply.toolCalls !== undefined
    ? 4 * reply.toolCalls.length
    : reply.deltas.length + 2
  return [
    ...Array.from({ length: 2 + blocks }, () => started),
    options.usage ? reply.usage : started,
    ...(options.terminator ? [options.usage ? reply.usage : started] : [])
  ]
}

export const anthropic: WireFormat = {
  checkAuth,
  parse,
  body,
  events,
  leadingFrames: 3,
  // the mock's Anthropic models never think aloud
  reasoningFrames: () => 0,
  usageByFrame,
  frame,
  error
}
