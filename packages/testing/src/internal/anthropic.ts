/**
 * The Anthropic Messages wire format: top-level `system`, required
 * `max_tokens` and `anthropic-version`, `output_config.format` for JSON,
 * usage with `input_tokens` counting uncached input only, and the named SSE
 * events `message_start` → `content_block_*` → `message_delta` →
 * `message_stop`.
 *
 * Extended thinking, as the API has it: `thinking: { type: "enabled",
 * budget_tokens }` (any thinking Claude; a budget from 1024 to below
 * `max_tokens`; a name that is no Claude version, as DeepSeek's
 * Anthropic-format `deepseek-v4-pro`, also takes `enabled` without a budget)
 * or `{ type: "adaptive" }` (Claude 4.6 and later) makes the model think:
 * the reply starts with a `thinking` block (the reasoning and a
 * `signature` the mock can verify: an HMAC of the text), streamed as
 * `thinking_delta`s then a `signature_delta`, counted in `output_tokens` and
 * `output_tokens_details.thinking_tokens`, and within `max_tokens`. With
 * thinking on, the API's 400s: a `temperature` other than 1, a forced
 * `tool_choice` (`any`, `tool`), a final assistant message (a prefill), and an
 * assistant `tool_use` turn of the current tool loop (after the last user
 * text) that does not start with its `thinking` or `redacted_thinking`
 * block. A prompt that starts with Anthropic's test string
 * {@link redactedTrigger} is thought about in a `redacted_thinking` block
 * instead (its `data` the text and signature, encoded; streamed whole in its
 * `content_block_start`), as the API does for that string. A thinking block
 * whose signature is not the mock's for its text, or a redacted block whose
 * `data` the mock did not issue, is a 400 wherever it is.
 *
 * @internal
 */
import { createHmac } from "node:crypto"
import type { Conversation, Message, Reply, Usage } from "./conversation.ts"
import { blockedOutright, splitDeltas } from "./conversation.ts"
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

/** Anthropic's 400 for a stop sequence of whitespace alone. */
const blankStop = "stop_sequences: each stop sequence must contain non-whitespace"

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

/**
 * A Claude model id's version, `claude-<family>-<major>[-<minor>]` or
 * `claude-<major>[-<minor>]-<family>`; `undefined` for a name that is no
 * Claude version.
 */
const versionOf = (model: string): number | undefined => {
  const match = /^claude-(?:[a-z]+-)?(\d+)(?:[-.](\d{1,2}))?(?=$|[-@])/.exec(model)
  return match === null ? undefined : Number(match[1]) + Number(match[2] ?? 0) / 100
}

/** Whether a model takes `thinking: { type: "adaptive" }`: Claude 4.6 and later. */
const adaptive = (model: string): boolean => (versionOf(model) ?? 0) >= 4.06

const SECRET = "mock-anthropic-thinking"

/** The mock's signature of a thinking text: an HMAC of it, base64. */
const sign = (text: string): string => createHmac("sha256", SECRET).update(text).digest("base64")

/** Anthropic's test string that makes a thinking model's thinking redacted. */
const redactedTrigger = "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253"

/** Whether a reply's reasoning is redacted: it quotes a prompt that starts with {@link redactedTrigger}. */
const redacted = (reasoning: string): boolean => reasoning.includes(`"${redactedTrigger.slice(0, 24)}`)

/** The `data` of a redacted thinking block: its text and signature, base64. */
const redact = (text: string): string => Buffer.from(JSON.stringify([text, sign(text)])).toString("base64")

/** A redacted block's `data` decoded, `undefined` when it is not JSON. */
const decodeData = (data: string): unknown => {
  try {
    return JSON.parse(Buffer.from(data, "base64").toString()) as unknown
  } catch {
    return undefined
  }
}

/** Whether the mock issued a redacted block's `data`. */
const isIssued = (data: unknown): boolean => {
  if (typeof data !== "string") return false
  const decoded = decodeData(data)
  return Array.isArray(decoded) && typeof decoded[0] === "string" && decoded[1] === sign(decoded[0])
}

const docs = "Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"

/** Whether the request thinks, or Anthropic's 400 for its `thinking` field. */
const thinkingOf = (record: Readonly<Record<string, unknown>>, model: string, maxTokens: number): boolean | string => {
  const thinking = asRecord(record["thinking"])
  if (thinking === undefined) return false
  switch (thinking["type"]) {
    case "disabled":
      return false
    case "adaptive":
      return adaptive(model) ? true : `thinking.type: adaptive thinking is not supported on this model (${model})`
    case "enabled": {
      const budget = thinking["budget_tokens"]
      // DeepSeek's Anthropic format thinks without a budget
      if (budget === undefined && versionOf(model) === undefined) return true
      if (typeof budget !== "number" || !Number.isInteger(budget) || budget < 1024) {
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
      }
      return budget < maxTokens ? true : `\`max_tokens\` must be greater than \`thinking.budget_tokens\`. ${docs}`
    }
    default:
      return "thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'"
  }
}

/** Anthropic's 400 for an assistant turn that must start with a thinking block and does not (a prefill too). */
const missingThinking = "messages: Expected `thinking` or `redacted_thinking`, but found another block. When " +
  "`thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost " +
  `set of \`tool_use\` and \`tool_result\` blocks). To avoid this requirement, disable \`thinking\`. ${docs}`

const blocksOf = (message: unknown): ReadonlyArray<Readonly<Record<string, unknown>>> =>
  (asArray(asRecord(message)?.["content"]) ?? []).map((block) => asRecord(block) ?? {})

const isThinkingBlock = (block: Readonly<Record<string, unknown>> | undefined): boolean =>
  block?.["type"] === "thinking" || block?.["type"] === "redacted_thinking"

/** Anthropic's 400 for a thinking block the mock did not issue as it is, anywhere in the conversation. */
const forgedThinking = (raw: ReadonlyArray<unknown>): string | undefined => {
  for (const [i, message] of raw.entries()) {
    for (const [j, block] of blocksOf(message).entries()) {
      const forged = block["type"] === "thinking"
        ? typeof block["thinking"] !== "string" || block["signature"] !== sign(block["thinking"])
        : block["type"] === "redacted_thinking" && !isIssued(block["data"])
      if (forged) return `messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`
    }
  }
  return undefined
}

/**
 * Anthropic's 400 with thinking on: a prefill, or an assistant `tool_use`
 * turn of the current tool loop (after the last user message that is not
 * tool results) that does not start with its thinking.
 */
const unthought = (raw: ReadonlyArray<unknown>): string | undefined => {
  const last = asRecord(raw.at(-1))
  if (last?.["role"] === "assistant") return missingThinking
  const loopStart = raw.findLastIndex((message) =>
    asRecord(message)?.["role"] === "user" && !blocksOf(message).some((block) => block["type"] === "tool_result")
  )
  const bare = raw.slice(loopStart + 1).some((message) =>
    asRecord(message)?.["role"] === "assistant" &&
    blocksOf(message).some((block) => block["type"] === "tool_use") && !isThinkingBlock(blocksOf(message)[0])
  )
  return bare ? missingThinking : undefined
}

/** Anthropic's 400 for the rest of a thinking request: a temperature other than 1, a forced tool choice. */
const unfitForThinking = (record: Readonly<Record<string, unknown>>): string | undefined => {
  const temperature = record["temperature"]
  if (temperature !== undefined && temperature !== 1) {
    return `\`temperature\` may only be set to 1 when thinking is enabled or in adaptive mode. ${docs}#feature-compatibility`
  }
  const choice = asRecord(record["tool_choice"])?.["type"]
  if (choice === "any" || choice === "tool") return "Thinking may not be enabled when tool_choice forces tool use."
  return unthought(asArray(record["messages"]) ?? [])
}

const parse = (body: unknown, _route: unknown, headers: RequestHeaders): Conversation | string => {
  if ((header(headers, "anthropic-version") ?? "") === "") return "anthropic-version: header is required"
  const record = asRecord(body)
  if (record === undefined) return "the request body must be a JSON object"
  const model = record["model"]
  if (typeof model !== "string" || model === "") return "model: Field required"
  const maxTokens = asCount(record["max_tokens"])
  if (maxTokens === undefined) return "max_tokens: Field required"
  const thinking = thinkingOf(record, model, maxTokens)
  if (typeof thinking === "string") return thinking
  const forged = forgedThinking(asArray(record["messages"]) ?? [])
  if (forged !== undefined) return forged
  const unfit = thinking ? unfitForThinking(record) : undefined
  if (unfit !== undefined) return unfit
  if (asArray(record["stop_sequences"])?.some((stop) => typeof stop === "string" && stop.trim() === "")) {
    return blankStop
  }
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
    tools: parseTools(record),
    thinking
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

/** A thinking model's `thinking` block, signed, or its `redacted_thinking` block. */
const thinkingBlock = (reasoning: string) =>
  redacted(reasoning)
    ? { type: "redacted_thinking", data: redact(reasoning) }
    : { type: "thinking", thinking: reasoning, signature: sign(reasoning) }

const thinkingBlocks = (reply: Reply) => reply.reasoning === undefined ? [] : [thinkingBlock(reply.reasoning)]

const answerBlocks = (reply: Reply) =>
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
  message(options, [...thinkingBlocks(reply), ...answerBlocks(reply)], STOP[reply.finish], {
    ...inputUsage(reply.usage),
    ...outputUsage(reply.usage)
  })

const frame = (event: string, data: string): string => `event: ${event}\ndata: ${data}\n\n`

const event = (type: string, data: Readonly<Record<string, unknown>>) => frame(type, JSON.stringify({ type, ...data }))

/**
 * The thinking block's events: its start, a `thinking_delta` a word, its
 * `signature_delta`, its stop; a redacted block whole in its start, then its stop.
 */
const thinkingEvents = (reply: Reply): ReadonlyArray<string> => {
  if (reply.reasoning === undefined) return []
  const block = thinkingBlock(reply.reasoning)
  const stop = event("content_block_stop", { index: 0 })
  if (block.type === "redacted_thinking") {
    return [event("content_block_start", { index: 0, content_block: block }), stop]
  }
  return [
    event("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }),
    ...splitDeltas(reply.reasoning).map((thinking) =>
      event("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking } })
    ),
    event("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: block.signature } }),
    stop
  ]
}

const events = (reply: Reply, options: WriteOptions): ReadonlyArray<string> => {
  const usage = options.usage
  const first = reply.reasoning === undefined ? 0 : 1
  const blocks = blockedOutright(reply) ? [] : reply.toolCalls !== undefined ? toolEvents(reply, first) : [
    event("content_block_start", { index: first, content_block: { type: "text", text: "" } }),
    ...reply.deltas.map((text) => event("content_block_delta", { index: first, delta: { type: "text_delta", text } })),
    event("content_block_stop", { index: first })
  ]
  return [
    event("message_start", {
      message: message(options, [], null, { ...inputUsage(reply.usage), output_tokens: 1 })
    }),
    event("ping", {}),
    ...thinkingEvents(reply),
    ...blocks,
    event("message_delta", {
      delta: { stop_reason: STOP[reply.finish], stop_sequence: null },
      ...(usage ? { usage: outputUsage(reply.usage) } : {})
    }),
    ...(options.terminator ? [event("message_stop", {})] : [])
  ]
}

/** The events of the reply's tool calls, the first block at index `first`. */
const toolEvents = (reply: Reply, first: number): ReadonlyArray<string> =>
  (reply.toolCalls ?? []).flatMap((call, i) => {
    const half = Math.ceil(call.arguments.length / 2)
    const index = first + i
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

/**
 * `message_start` reports the input and one output token; `message_delta` the
 * whole usage (a tool call is four block events, the thinking its words and three).
 */
const usageByFrame = (reply: Reply, options: WriteOptions): ReadonlyArray<Usage | undefined> => {
  const started: Usage = { ...reply.usage, completionTokens: 1, reasoningTokens: 0 }
  const blocks = thinkingEvents(reply).length + (blockedOutright(reply)
    ? 0
    : reply.toolCalls !== undefined
    ? 4 * reply.toolCalls.length
    : reply.deltas.length + 2)
  return [
    ...Array.from({ length: 2 + blocks }, () => started),
    options.usage ? reply.usage : started,
    ...(options.terminator ? [options.usage ? reply.usage : started] : [])
  ]
}

/** The Anthropic Messages format. @internal */
export const anthropic: WireFormat = {
  checkAuth,
  parse,
  body,
  events,
  leadingFrames: 3,
  // the thinking block's events: the block that follows starts where a reply without thinking starts its first
  reasoningFrames: (reply) => thinkingEvents(reply).length,
  usageByFrame,
  frame,
  error
}
