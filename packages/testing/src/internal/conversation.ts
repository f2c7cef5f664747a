/**
 * The provider-neutral view of a request the mock server answers, and the
 * deterministic reply it gives: content derived from the prompt, token counts
 * derived from the text (`ceil(chars / 4)` per message), max tokens honoured,
 * JSON requested → a JSON value satisfying the schema, an assistant prefill
 * continued. A thinking model (`Conversation.thinking`: DeepSeek's thinking
 * mode, Claude's extended thinking, Gemini asked to think) writes its
 * reasoning before each reply, numbered by the step of the tool loop, billed
 * as output and reasoning tokens; max tokens count that reasoning with the
 * answer, so a small limit leaves an empty answer cut for `length`. DeepSeek
 * and Claude send the reasoning (`reasoning_content`, thinking blocks);
 * Gemini only counts it (`thoughtsTokenCount`).
 *
 * @internal
 */
import { sampleJson } from "./jsonSample.ts"
import type { MockToolCall, ToolRequest } from "./tools.ts"
import { nextCall, withResults } from "./tools.ts"

/** The wire formats the mock server speaks. @internal */
export type Provider = "openai" | "deepseek" | "gemini" | "anthropic"

/** One message, text only. @internal */
export interface Message {
  readonly role: "system" | "user" | "assistant"
  readonly text: string
  /** Names of the tools an assistant message called. */
  readonly toolCalls?: ReadonlyArray<string> | undefined
  /** True for a tool's result (sent back as a user-side message). */
  readonly toolResult?: boolean | undefined
}

/** What the request asked for, whatever its wire format. @internal */
export interface Conversation {
  readonly provider: Provider
  readonly model: string
  readonly stream: boolean
  /** OpenAI/DeepSeek `stream_options.include_usage`; always true elsewhere. */
  readonly streamUsage: boolean
  readonly messages: ReadonlyArray<Message>
  readonly maxTokens: number | undefined
  /** `undefined`: plain text; `{ schema: undefined }`: any JSON object. */
  readonly json: { readonly schema: unknown } | undefined
  /** The tools offered, when the request offered any. */
  readonly tools?: ToolRequest | undefined
  /** The model thinks before it answers (see the module doc): the reply carries `reasoning`. */
  readonly thinking?: boolean | undefined
}

/** Token counts as the server bills them. @internal */
export interface Usage {
  /** All input tokens, cached ones included. */
  readonly promptTokens: number
  readonly cachedPromptTokens: number
  /** All output tokens, reasoning included. */
  readonly completionTokens: number
  readonly reasoningTokens: number
}

/** The usage a test asked the server to report on top of the text counts. @internal */
export interface UsageSettings {
  readonly cachedPromptTokens: number
  readonly reasoningTokens: number
}

/** The server's answer, before it is put on the wire. @internal */
export interface Reply {
  readonly text: string
  /** `resource`: the server ran out of resources and stopped the answer (DeepSeek's `insufficient_system_resource`). */
  readonly finish: "stop" | "length" | "content_filter" | "tool_calls" | "resource"
  /** The tool calls of a reply that calls tools (its text is then empty). */
  readonly toolCalls?: ReadonlyArray<MockToolCall> | undefined
  readonly usage: Usage
  /** `text` split into stream deltas. */
  readonly deltas: ReadonlyArray<string>
  /** The model's words declining after `text` (a `content_filter` finish), for wires that carry them. */
  readonly refusal?: string | undefined
  /** What a thinking model reasoned before the reply (`Conversation.thinking`). */
  readonly reasoning?: string | undefined
}

/** A safety block before any text: the wires send no text block at all. @internal */
export const blockedOutright = (reply: Reply): boolean => reply.finish === "content_filter" && reply.text === ""

/** Tokens in a text, as the mock counts them. @internal */
export const countTokens = (text: string): number => Math.ceil(text.length / 4)

const ANSWER_WORDS = 12

const lastUserText = (messages: ReadonlyArray<Message>): string =>
  messages.findLast((m) => m.role === "user" && m.toolResult !== true)?.text ?? ""

const prefillOf = (conversation: Conversation): string | undefined => {
  const last = conversation.messages.at(-1)
  return last?.role === "assistant" ? last.text : undefined
}

/** True when the last message is an assistant prefill. @internal */
export const hasPrefill = (conversation: Conversation): boolean => prefillOf(conversation) !== undefined

const answerOf = (conversation: Conversation): string => {
  const prompt = lastUserText(conversation.messages)
  const words = prompt.split(/\s+/).filter((w) => w !== "").slice(0, ANSWER_WORDS)
  const answer = withResults(
    `Mock answer from ${conversation.provider}: ${words.join(" ")}`.trim(),
    conversation.messages.flatMap((m) => m.toolResult === true ? [m.text] : [])
  )
  if (conversation.json === undefined) return answer
  return JSON.stringify(
    conversation.json.schema === undefined ? { answer } : sampleJson(conversation.json.schema, prompt)
  )
}

const continuation = (full: string, prefill: string | undefined): string =>
  prefill !== undefined && prefill !== "" && full.startsWith(prefill) ? full.slice(prefill.length) : full

/** A text as stream deltas: one per word, with the space before it. @internal */
export const splitDeltas = (text: string): ReadonlyArray<string> => text.match(/\s*\S+/g) ?? (text === "" ? [] : [text])

/**
 * The reasoning of a thinking model, else `undefined`: one sentence naming
 * the step of the tool loop (the calls made so far, plus one), so each step
 * reasons in words of its own.
 */
const reasoningOf = (conversation: Conversation): string | undefined =>
  conversation.thinking === true
    ? `Mock reasoning from ${conversation.provider}, step ${
      conversation.messages.flatMap((m) => m.toolCalls ?? []).length + 1
    }: the user asked ${JSON.stringify(lastUserText(conversation.messages).slice(0, 40))}.`
    : undefined

/**
 * The reasoning within `maxTokens`, which counts the reasoning with the
 * answer (DeepSeek's thinking mode: the whole output, chain of thought
 * included), and the tokens left for the answer: none when the reasoning
 * used them all (it is cut there, and the answer is empty).
 */
const withinLimit = (
  reasoning: string | undefined,
  maxTokens: number | undefined
): { readonly reasoning: string | undefined; readonly limit: number | undefined } => {
  if (reasoning === undefined || maxTokens === undefined) return { reasoning, limit: maxTokens }
  const used = countTokens(reasoning)
  return used >= maxTokens
    ? { reasoning: reasoning.slice(0, maxTokens * 4), limit: 0 }
    : { reasoning, limit: maxTokens - used }
}

/** The output tokens of `text` and of the reasoning, and the reasoning tokens (a test's own on top). */
const outputUsage = (text: string, reasoning: string | undefined, settings: UsageSettings) => {
  const reasoningTokens = settings.reasoningTokens + countTokens(reasoning ?? "")
  return { completionTokens: countTokens(text) + reasoningTokens, reasoningTokens }
}

/** Input tokens of a conversation. @internal */
export const promptTokensOf = (conversation: Conversation): number =>
  conversation.messages.reduce((sum, m) => sum + countTokens(m.text), 0)

/**
 * The reply to a conversation: `content` when a test forced it, else the
 * deterministic answer (continuing a prefill). Cut at max tokens.
 *
 * @internal
 */
export const makeReply = (
  conversation: Conversation,
  settings: UsageSettings,
  options: {
    readonly content?: string | undefined
    /** The content filter stops the answer after this many of its deltas (`0`: before any text). */
    readonly contentFilter?: number | undefined
    /** With `contentFilter`: the model's words declining, after the text. */
    readonly refusal?: string | undefined
    readonly resourceStop?: boolean | undefined
  }
): Reply => {
  const filtered = options.contentFilter !== undefined
  const call = options.content === undefined && !filtered
    ? nextCall(conversation.tools, conversation.messages.flatMap((m) => m.toolCalls ?? []))
    : undefined
  if (call !== undefined) return toolCallReply(conversation, settings, call)
  const answer = options.content ?? continuation(answerOf(conversation), prefillOf(conversation))
  const full = filtered ? splitDeltas(answer).slice(0, options.contentFilter).join("") : answer
  const { reasoning, limit } = withinLimit(reasoningOf(conversation), conversation.maxTokens)
  const truncated = limit !== undefined && countTokens(full) > limit
  const text = truncated ? full.slice(0, limit * 4) : full
  const promptTokens = promptTokensOf(conversation)
  return {
    text,
    finish: filtered
      ? "content_filter"
      : options.resourceStop === true
      ? "resource"
      : truncated
      ? "length"
      : "stop",
    deltas: splitDeltas(text),
    ...(options.refusal === undefined ? {} : { refusal: options.refusal }),
    ...(reasoning === undefined ? {} : { reasoning }),
    usage: {
      promptTokens,
      cachedPromptTokens: Math.min(settings.cachedPromptTokens, promptTokens),
      ...outputUsage(text + (options.refusal ?? ""), reasoning, settings)
    }
  }
}

const toolCallReply = (conversation: Conversation, settings: UsageSettings, call: MockToolCall): Reply => {
  const promptTokens = promptTokensOf(conversation)
  const reasoning = reasoningOf(conversation)
  return {
    text: "",
    finish: "tool_calls",
    toolCalls: [call],
    deltas: [],
    ...(reasoning === undefined ? {} : { reasoning }),
    usage: {
      promptTokens,
      cachedPromptTokens: Math.min(settings.cachedPromptTokens, promptTokens),
      ...outputUsage(call.name + call.arguments, reasoning, settings)
    }
  }
}
