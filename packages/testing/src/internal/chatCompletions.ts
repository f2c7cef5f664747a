/**
 * The chat-completions wire format shared by OpenAI and DeepSeek. The two
 * differ only in usage fields (DeepSeek adds `prompt_cache_hit_tokens` /
 * `prompt_cache_miss_tokens`), error texts and status codes (DeepSeek 402
 * `Insufficient Balance`), and JSON mode (DeepSeek has `json_object` only).
 *
 * DeepSeek's thinking mode, on by default as on the real API (`deepseek-flash`,
 * `deepseek-v4-pro`, any name but the legacy non-thinking `deepseek-chat`;
 * `thinking: { type: "disabled" }` turns it off, `{ type: "enabled" }` on, and
 * `deepseek-reasoner` always thinks): the reply carries its reasoning in
 * `message.reasoning_content` (streamed: `reasoning_content` deltas before
 * the rest), and, as DeepSeek demands, every assistant message of a turn that
 * called tools sent back must carry its `reasoning_content` (a string), else
 * 400. Its `reasoning_effort` is one of the values DeepSeek maps (`minimal`
 * to `ultra`), else 400.
 *
 * OpenAI's `reasoning_effort`, as the real API takes it on chat completions:
 * a model that does not reason (`gpt-4o`, `gpt-4.1`, `gpt-5-chat-latest`,
 * `o1-mini`, ...) rejects the field (400 `unsupported_parameter`); a
 * reasoning model rejects a value it does not take (400 `unsupported_value`):
 * the o-series takes `low`, `medium`, `high`; gpt-5, gpt-5-mini, gpt-5-nano
 * `minimal` too; gpt-5.1 and later `none` in its place;
 * gpt-5-pro only `high`; the gpt-5.x chat models only `medium`. Both errors
 * name `param: "reasoning_effort"`. A model name that is not OpenAI's (a
 * compatible server's `llama-3.1-8b`) takes any value, as such servers do.
 *
 * @internal
 */
import { type Conversation, type Message, type Provider, type Reply, splitDeltas, type Usage } from "./conversation.ts"
import type { ToolRequest } from "./tools.ts"
import type { ErrorResponse, WireError, WireFormat, WriteOptions } from "./wire.ts"
import { asArray, asCount, asRecord, dataFrame, header, textOf } from "./wire.ts"

const ROLES: Record<string, Message["role"] | undefined> = {
  system: "system",
  developer: "system",
  user: "user",
  assistant: "assistant",
  tool: "user"
}

const parseMessages = (raw: unknown): ReadonlyArray<Message> | string => {
  const list = asArray(raw)
  if (list === undefined || list.length === 0) return "messages: a non-empty array is required"
  const messages: Array<Message> = []
  for (const [i, item] of list.entries()) {
    const record = asRecord(item)
    const role = ROLES[String(record?.["role"])]
    const toolCalls = calledTools(record?.["tool_calls"])
    const text = textOf(record?.["content"]) ?? (toolCalls === undefined ? undefined : "")
    if (role === undefined) return `messages[${i}].role: expected system, developer, user, assistant or tool`
    if (text === undefined) return `messages[${i}].content: expected a string or an array of text parts`
    messages.push({ role, text, toolCalls, toolResult: record?.["role"] === "tool" })
  }
  return messages
}

/** The names of the tools an assistant message called. */
const calledTools = (raw: unknown): ReadonlyArray<string> | undefined =>
  asArray(raw)?.map((call) => String(asRecord(asRecord(call)?.["function"])?.["name"]))

/** `tools` and `tool_choice`, when the request offers tools. */
const parseTools = (record: Record<string, unknown>): ToolRequest | undefined => {
  const tools = asArray(record["tools"])?.flatMap((tool) => {
    const fn = asRecord(asRecord(tool)?.["function"])
    return typeof fn?.["name"] === "string" ? [{ name: fn["name"], parameters: fn["parameters"] }] : []
  })
  if (tools === undefined || tools.length === 0) return undefined
  const choice = record["tool_choice"]
  const named = asRecord(asRecord(choice)?.["function"])?.["name"]
  return { tools, choice: typeof choice === "string" ? choice : typeof named === "string" ? named : "auto" }
}

const parseJson = (format: unknown): Conversation["json"] | string => {
  const record = asRecord(format)
  if (record === undefined) return undefined
  if (record["type"] === "json_object") return { schema: undefined }
  if (record["type"] === "json_schema") {
    const schema = asRecord(record["json_schema"])?.["schema"]
    return schema === undefined ? "response_format.json_schema.schema is required" : { schema }
  }
  if (record["type"] === "text") return undefined
  return "response_format.type: expected text, json_object or json_schema"
}

/**
 * JSON mode carries no schema: like a model following its instructions, answer
 * with the JSON Schema written in a system message when there is one.
 */
const schemaInInstructions = (messages: ReadonlyArray<{ readonly role: string; readonly text: string }>): unknown => {
  for (const message of messages) {
    if (message.role !== "system") continue
    const start = message.text.indexOf("{")
    const end = message.text.lastIndexOf("}")
    if (start < 0 || end <= start) continue
    try {
      const candidate = asRecord(JSON.parse(message.text.slice(start, end + 1)))
      if (candidate !== undefined && ("type" in candidate || "properties" in candidate)) return candidate
    } catch {
      continue
    }
  }
  return undefined
}

/** DeepSeek's legacy alias of its non-thinking mode: it thinks only when `thinking` asks. */
const NON_THINKING_MODEL = "deepseek-chat"

/** DeepSeek's legacy alias of its thinking mode: it always thinks. */
const THINKING_MODEL = "deepseek-reasoner"

/**
 * Whether a DeepSeek request is answered in thinking mode, as DeepSeek
 * decides: `deepseek-reasoner` always; else `thinking: { type: "enabled" |
 * "disabled" }` when the request says; else every model but `deepseek-chat`
 * (thinking is on by default: `deepseek-flash`, `deepseek-v4-pro`, any
 * current name). A fault suffix (`deepseek-chat@latency=400`) is not part of
 * the name.
 */
const thinks = (provider: Provider, record: Readonly<Record<string, unknown>>): boolean => {
  if (provider !== "deepseek") return false
  const model = String(record["model"]).split("@")[0]
  const asked = asRecord(record["thinking"])?.["type"]
  if (model === THINKING_MODEL || asked === "enabled") return true
  return asked !== "disabled" && model !== NON_THINKING_MODEL
}

/** The efforts DeepSeek takes, mapped to its own (`low`, `high`, `max`). */
const DEEPSEEK_EFFORTS: ReadonlyArray<string> = ["minimal", "low", "medium", "high", "xhigh", "max", "ultra"]

/** OpenAI's model families, each with the `reasoning_effort` values it takes (`undefined`: none). */
const OPENAI_EFFORTS: ReadonlyArray<readonly [RegExp, ReadonlyArray<string> | undefined]> = [
  [/^gpt-5-pro(?:-|$)/, ["high"]],
  [/^gpt-\d+\.\d+-chat(?:-|$)/, ["medium"]],
  [/^gpt-\d+-chat(?:-|$)|^o1-(?:mini|preview)(?:-|$)/, undefined],
  [/^o\d+(?:-|$)/, ["low", "medium", "high"]],
  [/^gpt-5(?:-|$)/, ["minimal", "low", "medium", "high"]],
  [/^gpt-(?:5\.\d+|[6-9]|[1-9]\d+)(?:[.-]|$)/, ["none", "low", "medium", "high"]],
  [/^(?:gpt-|o\d|chatgpt-|davinci|babbage)/, undefined]
]

/**
 * The `reasoning_effort` values an OpenAI model takes on chat completions:
 * `undefined` for a model that takes none, `"any"` for a name that is not
 * OpenAI's (a compatible server's model). A fine-tuned model
 * (`ft:o4-mini:org::id`) as its base model; the first matching family wins.
 */
const openAiEfforts = (model: string): ReadonlyArray<string> | "any" | undefined => {
  const base = model.replace(/^ft:/, "").split(":")[0] ?? ""
  const family = OPENAI_EFFORTS.find(([pattern]) => pattern.test(base))
  return family === undefined ? "any" : family[1]
}

/** `'a', 'b', and 'c'`, as OpenAI lists supported values. */
const listed = (values: ReadonlyArray<string>): string => {
  const quoted = values.map((value) => `'${value}'`)
  return quoted.length < 3 ? quoted.join(" and ") : `${quoted.slice(0, -1).join(", ")}, and ${quoted.at(-1)}`
}

/**
 * Why the request's `reasoning_effort` is rejected, in the provider's words,
 * else `undefined` (none sent, or one the model takes). OpenAI's messages
 * open with `Unsupported value|parameter: 'reasoning_effort'`, which
 * {@link invalidRequest} reads back as the code and param.
 */
const rejectedEffort = (provider: Provider, record: Readonly<Record<string, unknown>>): string | undefined => {
  const sent = record["reasoning_effort"]
  if (sent === undefined) return undefined
  const effort = typeof sent === "string" ? sent : JSON.stringify(sent)
  if (provider === "deepseek") {
    return DEEPSEEK_EFFORTS.includes(effort)
      ? undefined
      : `reasoning_effort: expected one of ${DEEPSEEK_EFFORTS.join(", ")}`
  }
  const taken = openAiEfforts(String(record["model"]).split("@")[0] ?? "")
  if (taken === "any" || taken?.includes(effort) === true) return undefined
  return taken === undefined
    ? "Unsupported parameter: 'reasoning_effort' is not supported with this model."
    : `Unsupported value: 'reasoning_effort' does not support '${effort}' with this model. ` +
      `Supported values are: ${listed(taken)}.`
}

/** An assistant message that called tools. */
const callsTools = (record: Readonly<Record<string, unknown>> | undefined): boolean =>
  record?.["role"] === "assistant" && (asArray(record["tool_calls"])?.length ?? 0) > 0

/**
 * DeepSeek's 400 in thinking mode for the first assistant message without a
 * `reasoning_content` where one is required: between two user messages in
 * which the model called a tool, every assistant message (the calls' and the
 * answer after their results alike) carries its reasoning back, in every
 * later request; in a span without a tool call none is needed.
 */
const missingReasoning = (raw: unknown): string | undefined => {
  const records = (asArray(raw) ?? []).map(asRecord)
  let spanStart = 0
  for (let i = 0; i <= records.length; i++) {
    if (i < records.length && records[i]?.["role"] !== "user") continue
    const span = records.slice(spanStart, i)
    const missing = span.some(callsTools)
      ? span.findIndex((record) => record?.["role"] === "assistant" && typeof record["reasoning_content"] !== "string")
      : -1
    if (missing !== -1) {
      return `Missing \`reasoning_content\` field in the assistant message at message index ${spanStart + missing}. ` +
        "For more information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls"
    }
    spanStart = i + 1
  }
  return undefined
}

const parse = (provider: Provider) => (body: unknown): Conversation | string => {
  const record = asRecord(body)
  if (record === undefined) return "the request body must be a JSON object"
  const model = record["model"]
  if (typeof model !== "string" || model === "") return "model: a model name is required"
  const messages = parseMessages(record["messages"])
  if (typeof messages === "string") return messages
  const json = parseJson(record["response_format"])
  if (typeof json === "string") return json
  if (provider === "deepseek" && json?.schema !== undefined) {
    return "This response_format type is unavailable now"
  }
  const effort = rejectedEffort(provider, record)
  if (effort !== undefined) return effort
  const thinking = thinks(provider, record)
  const missing = thinking ? missingReasoning(record["messages"]) : undefined
  if (missing !== undefined) return missing
  return {
    provider,
    model,
    stream: record["stream"] === true,
    streamUsage: asRecord(record["stream_options"])?.["include_usage"] === true,
    messages,
    maxTokens: asCount(record["max_completion_tokens"]) ?? asCount(record["max_tokens"]),
    json: json?.schema === undefined && json !== undefined ? { schema: schemaInInstructions(messages) } : json,
    tools: parseTools(record),
    thinking
  }
}

const checkAuth = (headers: Parameters<WireFormat["checkAuth"]>[0]) =>
  /^Bearer \S+/.test(header(headers, "authorization") ?? "")
    ? undefined
    : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."

const usageOf = (provider: Provider, usage: Usage) => ({
  prompt_tokens: usage.promptTokens,
  completion_tokens: usage.completionTokens,
  total_tokens: usage.promptTokens + usage.completionTokens,
  ...(provider === "deepseek"
    ? {
      prompt_cache_hit_tokens: usage.cachedPromptTokens,
      prompt_cache_miss_tokens: usage.promptTokens - usage.cachedPromptTokens
    }
    : {}),
  prompt_tokens_details: { cached_tokens: usage.cachedPromptTokens },
  completion_tokens_details: { reasoning_tokens: usage.reasoningTokens }
})

const created = () => Math.floor(Date.now() / 1000)

/**
 * The wire's `finish_reason` (a stop for want of resources is DeepSeek's
 * `insufficient_system_resource`; a refusal ends with `stop`, as OpenAI's do).
 */
const finishReasonOf = (reply: Reply): string =>
  reply.finish === "resource" ? "insufficient_system_resource" : reply.refusal === undefined ? reply.finish : "stop"

/** The stream deltas of a reply's refusal, one per word (its first chunk opens the message with `content: null`). */
const refusalDeltas = (reply: Reply): ReadonlyArray<Record<string, unknown>> =>
  reply.refusal === undefined ? [] : splitDeltas(reply.refusal).map((refusal) => ({ refusal }))

const body = (provider: Provider) => (reply: Reply, options: WriteOptions) => ({
  id: options.id,
  object: "chat.completion",
  created: created(),
  model: options.model,
  choices: [{
    index: 0,
    message: {
      role: "assistant",
      content: reply.toolCalls !== undefined || (reply.refusal !== undefined && reply.text === "") ? null : reply.text,
      ...(reply.reasoning === undefined ? {} : { reasoning_content: reply.reasoning }),
      refusal: reply.refusal ?? null,
      ...(reply.toolCalls === undefined ? {} : {
        tool_calls: reply.toolCalls.map((call) => ({
          id: call.id,
          type: "function",
          function: { name: call.name, arguments: call.arguments }
        }))
      })
    },
    logprobs: null,
    finish_reason: finishReasonOf(reply)
  }],
  ...(options.usage ? { usage: usageOf(provider, reply.usage) } : {}),
  system_fingerprint: "fp_mock"
})

/** The stream deltas of a thinking model's reasoning, one per word, before the rest of the reply. */
const reasoningDeltas = (reply: Reply): ReadonlyArray<Record<string, unknown>> =>
  reply.reasoning === undefined ? [] : splitDeltas(reply.reasoning).map((text) => ({ reasoning_content: text }))

const events = (provider: Provider) => (reply: Reply, options: WriteOptions): ReadonlyArray<string> => {
  const time = created()
  const withUsage = options.usage
  const chunk = (choices: ReadonlyArray<unknown>, usage: unknown) =>
    dataFrame(
      "",
      JSON.stringify({
        id: options.id,
        object: "chat.completion.chunk",
        created: time,
        model: options.model,
        system_fingerprint: "fp_mock",
        choices,
        ...(withUsage ? { usage } : {})
      })
    )
  const choice = (delta: unknown, finish: string | null) => ({ index: 0, delta, logprobs: null, finish_reason: finish })
  return [
    chunk([choice({ role: "assistant", content: reply.refusal === undefined ? "" : null }, null)], null),
    ...reasoningDeltas(reply).map((delta) => chunk([choice(delta, null)], null)),
    ...reply.deltas.map((content) => chunk([choice({ content }, null)], null)),
    ...refusalDeltas(reply).map((delta) => chunk([choice(delta, null)], null)),
    ...(reply.toolCalls ?? []).flatMap((call, index) => {
      const half = Math.ceil(call.arguments.length / 2)
      return [
        { index, id: call.id, type: "function", function: { name: call.name, arguments: "" } },
        { index, function: { arguments: call.arguments.slice(0, half) } },
        { index, function: { arguments: call.arguments.slice(half) } }
      ].map((fragment) => chunk([choice({ tool_calls: [fragment] }, null)], null))
    }),
    chunk([choice({}, finishReasonOf(reply))], null),
    ...(withUsage ? [chunk([], usageOf(provider, reply.usage))] : []),
    ...(options.terminator ? [dataFrame("", "[DONE]")] : [])
  ]
}

/**
 * Usage reaches the client with its own chunk, after the finish chunk (a tool
 * call is three chunks, a word of reasoning one).
 */
const usageByFrame = (reply: Reply, options: WriteOptions): ReadonlyArray<Usage | undefined> => {
  const body = reasoningDeltas(reply).length + reply.deltas.length + refusalDeltas(reply).length +
    3 * (reply.toolCalls?.length ?? 0) + 2
  const usageAt = options.usage ? body : Infinity
  const count = body + (options.usage ? 1 : 0) + (options.terminator ? 1 : 0)
  return Array.from({ length: count }, (_, i) => i >= usageAt ? reply.usage : undefined)
}

interface ErrorText {
  readonly type: string
  readonly code: string | null
  readonly message: string
}

const OPENAI_ERRORS: Record<number, ErrorText> = {
  400: { type: "invalid_request_error", code: null, message: "Invalid request." },
  401: { type: "invalid_request_error", code: "invalid_api_key", message: "Incorrect API key provided." },
  403: {
    type: "invalid_request_error",
    code: "unsupported_country_region_territory",
    message: "Country, region, or territory not supported"
  },
  404: {
    type: "invalid_request_error",
    code: "model_not_found",
    message: "The model does not exist or you do not have access to it."
  },
  409: { type: "invalid_request_error", code: null, message: "Conflict." },
  422: { type: "invalid_request_error", code: null, message: "Unprocessable entity." },
  429: {
    type: "requests",
    code: "rate_limit_exceeded",
    message: "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s."
  },
  500: {
    type: "server_error",
    code: null,
    message: "The server had an error while processing your request. Sorry about that!"
  },
  503: { type: "server_error", code: null, message: "The engine is currently overloaded, please try again later." }
}

const DEEPSEEK_ERRORS: Record<number, ErrorText> = {
  400: { type: "invalid_request_error", code: "invalid_request_error", message: "Invalid Format" },
  401: {
    type: "authentication_error",
    code: "invalid_request_error",
    message: "Authentication Fails, Your api key is invalid"
  },
  402: { type: "unknown_error", code: "invalid_request_error", message: "Insufficient Balance" },
  422: { type: "invalid_request_error", code: "invalid_request_error", message: "Invalid Parameters" },
  429: { type: "rate_limit_error", code: "rate_limit_exceeded", message: "Rate Limit Reached" },
  500: { type: "server_error", code: "server_error", message: "Server Error" },
  503: { type: "server_error", code: "server_error", message: "Server Overloaded" }
}

const fallbackText = (code: number): ErrorText => ({
  type: code >= 500 ? "server_error" : "invalid_request_error",
  code: null,
  message: `Mock error ${code}.`
})

const errorBody = (status: number, text: ErrorText, param: string | null = null): ErrorResponse => ({
  status,
  body: { error: { message: text.message, type: text.type, param, code: text.code } }
})

/**
 * A 400 for an invalid request; OpenAI's `Unsupported value: 'param' ...`
 * and `Unsupported parameter: 'param' ...` carry the code
 * (`unsupported_value`, `unsupported_parameter`) and the param they name.
 */
const invalidRequest = (provider: Provider, message: string, text: ErrorText): ErrorResponse => {
  const unsupported = provider === "openai" ? /^Unsupported (value|parameter): '([\w.]+)'/.exec(message) : null
  return unsupported === null
    ? errorBody(400, { ...text, message })
    : errorBody(400, { ...text, code: `unsupported_${unsupported[1]}`, message }, unsupported[2])
}

const CONTEXT_WINDOW: Record<string, number> = { openai: 128_000, deepseek: 131_072 }

const error = (provider: Provider) => (e: WireError): ErrorResponse => {
  const table = provider === "deepseek" ? DEEPSEEK_ERRORS : OPENAI_ERRORS
  const text = (code: number) => table[code] ?? fallbackText(code)
  switch (e._tag) {
    case "Status":
      return errorBody(e.code, {
        ...text(e.code),
        ...(e.message === undefined ? {} : { message: e.message }),
        ...(e.errorCode === undefined ? {} : { code: e.errorCode })
      }, e.param ?? null)
    case "RateLimited":
      return errorBody(429, text(429))
    case "QuotaExhausted":
      return provider === "deepseek" ? errorBody(402, text(402)) : errorBody(429, {
        type: "insufficient_quota",
        code: "insufficient_quota",
        message:
          "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
      })
    case "ContextLength": {
      const max = CONTEXT_WINDOW[provider] ?? 128_000
      const tokens = max + e.promptTokens
      return errorBody(400, {
        type: "invalid_request_error",
        code: provider === "openai" ? "context_length_exceeded" : "invalid_request_error",
        message:
          `This model's maximum context length is ${max} tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`
      }, "messages")
    }
    case "InvalidRequest":
      return invalidRequest(provider, e.message, text(400))
    case "Unauthorized":
      return errorBody(401, { ...text(401), message: e.message })
  }
}

/** The chat-completions format as `provider` speaks it. @internal */
export const chatCompletions = (provider: "openai" | "deepseek"): WireFormat => ({
  checkAuth,
  parse: parse(provider),
  body: body(provider),
  events: events(provider),
  leadingFrames: 1,
  reasoningFrames: (reply) => reasoningDeltas(reply).length,
  usageByFrame,
  frame: dataFrame,
  error: error(provider)
})
