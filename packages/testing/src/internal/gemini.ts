/**
 * The Gemini `generateContent` / `streamGenerateContent?alt=sse` wire format:
 * `contents[].parts[].text`, `systemInstruction`, `generationConfig`, a
 * running `usageMetadata` on every stream chunk, CRLF-separated events, no
 * terminator (the last chunk carries `finishReason`), Google RPC error
 * bodies (`RESOURCE_EXHAUSTED` with `RetryInfo`), and tool calls:
 * `tools[].functionDeclarations` and `toolConfig.functionCallingConfig` in,
 * `functionCall` parts out (without ids, as Gemini sends them; one stream
 * chunk per call, then the finish chunk), `functionResponse` parts back.
 *
 * Gemini 3 and later models (`gemini-3.5-flash`, ...; a name `gemini-<major>`
 * with a major of 3 or more) sign their calls as the real ones do: the first
 * `functionCall` part of a reply carries a `thoughtSignature` (base64), and a
 * request whose current turn (the model turns after the last user text) has
 * a model turn whose first `functionCall` part lacks one is a 400 ("Function
 * call is missing a thought_signature"); a signature the mock did not issue
 * is a 400 too, but Google's documented `skip_thought_signature_validator`,
 * which skips the check.
 *
 * Thinking (`generationConfig.thinkingConfig`), as the API takes it, by the
 * model's name (`gemini-<version>-<tier>`, a `-preview...`, `-exp...`,
 * `-latest` or numbered suffix allowed; any other name takes anything and
 * does not think):
 *
 * | model | `thinkingBudget` | `thinkingLevel` |
 * | --- | --- | --- |
 * | 2.5 and later Flash | -1, 0 (off), 1..24576 | 3 and later: MINIMAL, LOW, MEDIUM, HIGH |
 * | 2.5 and later Flash-Lite | -1, 0 (off), 512..24576 | 3 and later: MINIMAL, LOW, MEDIUM, HIGH |
 * | 2.5 and later Pro | -1, 128..32768 | 3 and later: LOW, HIGH |
 * | before 2.5 | none | none |
 *
 * Anything else is a 400 `INVALID_ARGUMENT`: both fields at once, a level
 * on a 2.5 model or one the model does not take, a budget out of its range
 * (0 on a Pro model), a config on a model that does not think. A model
 * asked to think (a level, a budget but 0) bills its thoughts (the
 * conversation's reasoning, within `maxOutputTokens`, which counts them) as
 * `thoughtsTokenCount`, without sending them (no `includeThoughts`).
 * Unlike the API's thinking models, which think by default, the mock's
 * models answer at once when no `thinkingConfig` comes, as they always have
 * (the tests of the wire count the answer's tokens alone).
 *
 * @internal
 */
import type { Conversation, Message, Reply, Usage } from "./conversation.ts"
import { blockedOutright, countTokens } from "./conversation.ts"
import type { MockToolCall, ToolRequest } from "./tools.ts"
import type { ErrorResponse, Route, WireError, WireFormat, WriteOptions } from "./wire.ts"
import { asArray, asCount, asRecord, header, retryDelaySeconds, textOf } from "./wire.ts"

const parseContents = (raw: unknown): ReadonlyArray<Message> | string => {
  const list = asArray(raw)
  if (list === undefined || list.length === 0) return "contents is not specified"
  const messages: Array<Message> = []
  for (const [i, item] of list.entries()) {
    const record = asRecord(item)
    const role = record?.["role"] ?? "user"
    const parts = asArray(record?.["parts"])?.map(asRecord) ?? []
    const results = parts.flatMap((part) => {
      const response = asRecord(part?.["functionResponse"])?.["response"]
      return response === undefined ? [] : [resultText(response)]
    })
    const toolCalls = parts.flatMap((part) => {
      const name = asRecord(part?.["functionCall"])?.["name"]
      return typeof name === "string" ? [name] : []
    })
    const text = results.length > 0 ? results.join("; ") : textOf(record?.["parts"])
    if (role !== "user" && role !== "model") {
      return `Please use a valid role: user, model. (contents[${i}].role)`
    }
    if (text === undefined) return `contents[${i}].parts: expected an array of parts`
    messages.push({ role: role === "model" ? "assistant" : "user", text, toolCalls, toolResult: results.length > 0 })
  }
  return messages
}

/** A `functionResponse.response` as text: its `output` (or the whole object), strings as they are. */
const resultText = (response: unknown): string => {
  const output = asRecord(response)?.["output"] ?? response
  return typeof output === "string" ? output : JSON.stringify(output)
}

/** `tools[].functionDeclarations` and `toolConfig`, when the request offers tools. */
const parseTools = (record: Record<string, unknown>): ToolRequest | undefined => {
  const tools = (asArray(record["tools"]) ?? []).flatMap((tool) =>
    (asArray(asRecord(tool)?.["functionDeclarations"]) ?? []).flatMap((declaration) => {
      const fields = asRecord(declaration)
      return typeof fields?.["name"] === "string"
        ? [{ name: fields["name"], parameters: fields["parametersJsonSchema"] ?? fields["parameters"] }]
        : []
    })
  )
  if (tools.length === 0) return undefined
  const config = asRecord(asRecord(record["toolConfig"])?.["functionCallingConfig"])
  const allowed = asArray(config?.["allowedFunctionNames"])
  const mode = config?.["mode"]
  return {
    tools,
    choice: mode === "NONE"
      ? "none"
      : mode !== "ANY"
      ? "auto"
      : allowed?.length === 1 && typeof allowed[0] === "string"
      ? allowed[0]
      : "required"
  }
}

const parseJson = (config: Readonly<Record<string, unknown>> | undefined): Conversation["json"] => {
  if (config?.["responseMimeType"] !== "application/json") return undefined
  return { schema: config["responseJsonSchema"] ?? config["responseSchema"] }
}

/** Whether a model signs its function calls and checks the signatures sent back: Gemini 3 and later. */
const signs = (model: string): boolean => Number(/^gemini-(\d+)/.exec(model)?.[1] ?? 0) >= 3

const SIGNED = "mock-thought:"

/** The signature of a call the mock makes: base64 of a text naming it. */
const signatureOf = (call: MockToolCall): string => Buffer.from(`${SIGNED}${call.id}`).toString("base64")

/** Google's documented value for a call Gemini did not make: it skips the check. */
const SKIP = "skip_thought_signature_validator"

const isSigned = (signature: string): boolean =>
  signature === SKIP || Buffer.from(signature, "base64").toString().startsWith(SIGNED)

/**
 * Gemini 3's 400 for the current turn's function calls (the model turns
 * after the last user turn that is not function responses): the first
 * `functionCall` part of each must carry a signature the mock issued (or
 * the skip value).
 */
const unsignedCall = (raw: unknown): string | undefined => {
  const contents = (asArray(raw) ?? []).map((item) => asRecord(item))
  const partsOf = (content: Readonly<Record<string, unknown>> | undefined) =>
    (asArray(content?.["parts"]) ?? []).map((part) => asRecord(part) ?? {})
  const turnStart = contents.findLastIndex((content) =>
    content?.["role"] !== "model" && partsOf(content).every((part) => part["functionResponse"] === undefined)
  )
  for (const [position, content] of contents.entries()) {
    const first = partsOf(content).find((part) => part["functionCall"] !== undefined)
    if (position <= turnStart || content?.["role"] !== "model" || first === undefined) continue
    const signature = first["thoughtSignature"]
    if (typeof signature !== "string") {
      return "Function call is missing a thought_signature in functionCall parts. This is required for tools to " +
        "work correctly, and missing thought_signature may lead to degraded model performance. Additional data, " +
        `function call \`${String(asRecord(first["functionCall"])?.["name"])}\` , position ${position + 1}. ` +
        "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
    }
    if (!isSigned(signature)) return "Corrupted thought signature."
  }
  return undefined
}

/** A Gemini model by its name (`@fault` suffix aside): its version (`2.5`, `3.1`) and tier. */
interface Model {
  readonly version: number
  readonly tier: "flash" | "flash-lite" | "pro"
}

const MODEL = /^gemini-(\d+(?:\.\d+)?)-(flash-lite|flash|pro)(?:-(?:preview|exp|latest|\d)[\w.-]*)?(?:@.*)?$/

const modelOf = (name: string): Model | undefined => {
  const match = MODEL.exec(name)
  return match === null ? undefined : { version: Number(match[1]), tier: match[2] as Model["tier"] }
}

/** The budgets a tier takes besides -1 (dynamic), least and most; 0 turns thinking off but on Pro. */
const BUDGETS: Record<Model["tier"], readonly [number, number]> = {
  flash: [1, 24_576],
  "flash-lite": [512, 24_576],
  pro: [128, 32_768]
}

const LEVELS: Record<Model["tier"], ReadonlyArray<string>> = {
  flash: ["MINIMAL", "LOW", "MEDIUM", "HIGH"],
  "flash-lite": ["MINIMAL", "LOW", "MEDIUM", "HIGH"],
  pro: ["LOW", "HIGH"]
}

/** Why the API refuses a budget for a model, or `undefined`. */
const budgetError = (model: Model, budget: unknown): string | undefined => {
  const [least, most] = BUDGETS[model.tier]
  if (budget === -1 || (budget === 0 && model.tier !== "pro")) return undefined
  if (budget === 0) return "Budget 0 is invalid. This model only works in thinking mode."
  return typeof budget === "number" && Number.isInteger(budget) && budget >= least && budget <= most
    ? undefined
    : `The thinking budget ${String(budget)} is invalid. Please choose a value between ${least} and ${most}.`
}

/** Why the API refuses a level for a model, or `undefined`. */
const levelError = (model: Model, level: unknown): string | undefined =>
  model.version < 3
    ? "Thinking level is not supported for this model."
    : LEVELS[model.tier].includes(String(level))
    ? undefined
    : `Invalid value at 'generation_config.thinking_config.thinking_level': ${JSON.stringify(level)} is not ` +
      `supported by this model (${LEVELS[model.tier].join(", ")}).`

/**
 * Whether a model thinks with this `thinkingConfig` (not when none comes),
 * or why the API refuses it (see the table at the top).
 */
const thinking = (name: string, raw: unknown): boolean | string => {
  const model = modelOf(name)
  const config = asRecord(raw) ?? {}
  const budget = config["thinkingBudget"]
  const level = config["thinkingLevel"]
  if (model === undefined || (budget === undefined && level === undefined)) return false
  if (model.version < 2.5) return "Thinking is not supported for this model."
  if (budget !== undefined && level !== undefined) {
    return "You can only set one of thinking budget and thinking level."
  }
  return (level === undefined ? budgetError(model, budget) : levelError(model, level)) ?? (budget !== 0)
}

const parse = (body: unknown, route: Route): Conversation | string => {
  const record = asRecord(body)
  if (record === undefined) return "the request body must be a JSON object"
  const contents = parseContents(record["contents"])
  if (typeof contents === "string") return contents
  const unsigned = signs(route.model ?? "") ? unsignedCall(record["contents"]) : undefined
  if (unsigned !== undefined) return unsigned
  const system = textOf(asRecord(record["systemInstruction"])?.["parts"])
  const config = asRecord(record["generationConfig"])
  const thinks = thinking(route.model ?? "", config?.["thinkingConfig"])
  if (typeof thinks === "string") return thinks
  return {
    provider: "gemini",
    model: route.model ?? "",
    stream: route.stream,
    streamUsage: true,
    messages: system === undefined ? contents : [{ role: "system", text: system }, ...contents],
    maxTokens: asCount(config?.["maxOutputTokens"]),
    json: parseJson(config),
    tools: parseTools(record),
    thinking: thinks
  }
}

const checkAuth = (headers: Parameters<WireFormat["checkAuth"]>[0], query: URLSearchParams) =>
  (header(headers, "x-goog-api-key") ?? query.get("key") ?? "") !== ""
    ? undefined
    : "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."

const usageMetadata = (usage: Usage, candidates: number) => ({
  promptTokenCount: usage.promptTokens,
  candidatesTokenCount: candidates,
  totalTokenCount: usage.promptTokens + candidates + usage.reasoningTokens,
  ...(usage.cachedPromptTokens > 0 ? { cachedContentTokenCount: usage.cachedPromptTokens } : {}),
  ...(usage.reasoningTokens > 0 ? { thoughtsTokenCount: usage.reasoningTokens } : {})
})

const FINISH: Record<Reply["finish"], string> = {
  stop: "STOP",
  length: "MAX_TOKENS",
  content_filter: "SAFETY",
  tool_calls: "STOP",
  resource: "OTHER"
}

const SAFETY_RATINGS = [{ category: "HARM_CATEGORY_DANGEROUS_CONTENT", probability: "HIGH", blocked: true }]

/** A call as a part, signed when it is the first of a reply (`index` 0) from a model that {@link signs}. */
const functionCall = (model: string, call: MockToolCall, index: number) => ({
  functionCall: { name: call.name, args: JSON.parse(call.arguments) as unknown },
  ...(index === 0 && signs(model) ? { thoughtSignature: signatureOf(call) } : {})
})

/** The candidate; `calls` are the reply's from its `first` on (a stream sends them one an event). */
const candidate = (
  model: string,
  text: string | undefined,
  finish: Reply["finish"] | undefined,
  calls: ReadonlyArray<MockToolCall> = [],
  first = 0
) => ({
  ...(text === undefined ? {} : {
    content: {
      role: "model",
      parts: calls.length > 0 ? calls.map((call, i) => functionCall(model, call, first + i)) : [{ text }]
    }
  }),
  ...(finish === undefined ? {} : { finishReason: FINISH[finish] }),
  ...(finish === "content_filter" ? { safetyRatings: SAFETY_RATINGS } : {}),
  index: 0
})

const response = (
  options: WriteOptions,
  text: string | undefined,
  finish: Reply["finish"] | undefined,
  usage: ReturnType<typeof usageMetadata>,
  calls?: ReadonlyArray<MockToolCall>,
  first?: number
) => ({
  candidates: [candidate(options.model, text, finish, calls, first)],
  ...(options.usage ? { usageMetadata: usage } : {}),
  modelVersion: options.model,
  responseId: options.id
})

const visibleTokens = (usage: Usage) => usage.completionTokens - usage.reasoningTokens

const body = (reply: Reply, options: WriteOptions) =>
  response(
    options,
    blockedOutright(reply) ? undefined : reply.text,
    reply.finish,
    usageMetadata(reply.usage, visibleTokens(reply.usage)),
    reply.toolCalls
  )

const frame = (_event: string, data: string): string => `data: ${data}\r\n\r\n`

/** A tool-call reply streams one chunk per call, each with the whole usage; the last carries the finish. */
const toolEvents = (reply: Reply, calls: ReadonlyArray<MockToolCall>, options: WriteOptions) =>
  calls.map((call, i) => {
    const finish = i === calls.length - 1 && options.terminator ? reply.finish : undefined
    const usage = usageMetadata(reply.usage, visibleTokens(reply.usage))
    return frame("", JSON.stringify(response(options, "", finish, usage, [call], i)))
  })

const events = (reply: Reply, options: WriteOptions): ReadonlyArray<string> => {
  if (reply.toolCalls !== undefined) return toolEvents(reply, reply.toolCalls, options)
  const deltas = reply.deltas.length === 0 ? [""] : reply.deltas
  let sent = ""
  return deltas.map((delta, i) => {
    sent += delta
    const last = i === deltas.length - 1
    const finish = last && options.terminator ? reply.finish : undefined
    const candidates = last ? visibleTokens(reply.usage) : countTokens(sent)
    const usage = usageMetadata(last ? reply.usage : { ...reply.usage, reasoningTokens: 0 }, candidates)
    const text = blockedOutright(reply) ? undefined : delta
    return frame("", JSON.stringify(response(options, text, finish, usage)))
  })
}

/** Every chunk reports the usage so far: the prompt and the text sent until then; the last one all of it. */
const usageByFrame = (reply: Reply, options: WriteOptions): ReadonlyArray<Usage | undefined> => {
  if (reply.toolCalls !== undefined) return reply.toolCalls.map(() => options.usage ? reply.usage : undefined)
  const deltas = reply.deltas.length === 0 ? [""] : reply.deltas
  let sent = ""
  return deltas.map((delta, i) => {
    sent += delta
    if (!options.usage) return undefined
    return i === deltas.length - 1
      ? reply.usage
      : { ...reply.usage, completionTokens: countTokens(sent), reasoningTokens: 0 }
  })
}

const STATUS: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  501: "NOT_IMPLEMENTED",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED"
}

const MESSAGES: Record<number, string> = {
  400: "Request contains an invalid argument.",
  403: "The caller does not have permission",
  404: "models/unknown is not found for API version v1beta, or is not supported for generateContent.",
  429: "You exceeded your current quota, please check your plan and billing details.",
  500:
    "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
  503: "The model is overloaded. Please try again later.",
  504: "Deadline expired before operation could complete."
}

const quotaFailure = (quotaId: string) => ({
  "@type": "type.googleapis.com/google.rpc.QuotaFailure",
  violations: [{ quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests", quotaId }]
})

const retryInfo = (retryAfter: string | undefined) => ({
  "@type": "type.googleapis.com/google.rpc.RetryInfo",
  retryDelay: retryDelaySeconds(retryAfter, 34)
})

const errorBody = (
  code: number,
  message: string | undefined,
  details: ReadonlyArray<unknown> = [],
  status?: string
): ErrorResponse => ({
  status: code,
  body: {
    error: {
      code,
      message: message ?? MESSAGES[code] ?? `Mock error ${code}.`,
      status: status ?? STATUS[code] ?? (code >= 500 ? "INTERNAL" : "FAILED_PRECONDITION"),
      ...(details.length > 0 ? { details } : {})
    }
  }
})

const rateLimitDetails = (retryAfter: string | undefined) => [
  quotaFailure("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
  retryInfo(retryAfter)
]

const error = (e: WireError, retryAfter: string | undefined): ErrorResponse => {
  switch (e._tag) {
    case "Status":
      return errorBody(e.code, e.message, e.code === 429 ? rateLimitDetails(retryAfter) : [], e.errorCode)
    case "RateLimited":
      return errorBody(429, undefined, rateLimitDetails(retryAfter))
    case "QuotaExhausted":
      return errorBody(429, undefined, [quotaFailure("GenerateRequestsPerDayPerProjectPerModel-FreeTier")])
    case "ContextLength":
      return errorBody(
        400,
        `The input token count (${1_048_576 + e.promptTokens}) exceeds the maximum number of tokens allowed (1048576).`
      )
    case "InvalidRequest":
      return errorBody(400, e.message)
    case "Unauthorized":
      return errorBody(403, e.message)
  }
}

/** The Gemini format. @internal */
export const gemini: WireFormat = {
  checkAuth,
  parse,
  body,
  events,
  leadingFrames: 0,
  // the mock's Gemini models think without sending their thoughts (no `includeThoughts`)
  reasoningFrames: () => 0,
  usageByFrame,
  frame,
  error
}
