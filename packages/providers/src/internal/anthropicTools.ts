/**
 * Tool calls in the Anthropic Messages wire format.
 *
 * - Request: `tools: [{ name, description, input_schema }]` and
 *   `tool_choice` (`{ type: "auto" | "any" | "none" }`, or
 *   `{ type: "tool", name }`).
 * - Conversation: an assistant's calls as `tool_use` blocks (`input` the
 *   parsed arguments); results as `tool_result` blocks of a `user` message
 *   (consecutive results share one message, as the API requires), a failed
 *   call's with `is_error: true`. An id
 *   Anthropic refuses (any character but letters, digits, `_` and `-`, as in
 *   another server's `functions.get_weather:0`) is sent as a digest of it,
 *   on the call and on its result alike.
 * - Reply: `tool_use` content blocks; in a stream, a `content_block_start`
 *   with the `tool_use` block, then `input_json_delta` fragments.
 * - Thinking: with thinking on, Anthropic answers 400 to an assistant
 *   `tool_use` turn of the current tool loop that does not start with that
 *   turn's thinking blocks, unmodified. The reply's `thinking` blocks (text
 *   and `signature`; streamed as `thinking_delta`s and a `signature_delta`)
 *   and `redacted_thinking` blocks (`data`) go on the first call's
 *   `Tool.Replay`: a lone `thinking` block (the usual turn) as `reasoning`
 *   (its text, when not empty) and `signature`; any other set of blocks (a
 *   redacted one, several) as `signature` holding the blocks themselves as
 *   JSON (a signature is base64, never a JSON array), `reasoning` their
 *   texts joined. They go back, in their order, before the message's text
 *   and `tool_use` blocks. A turn whose thinking is longer than
 *   `Replay.maxReasoningChars` keeps none, as DeepSeek's reasoning.
 * - A current tool loop (after the last `user` message) with a turn of
 *   calls that has no thinking blocks to send (another provider's or
 *   model's calls, the caller's, thinking too long to keep) cannot be
 *   continued thinking: {@link unthoughtLoop} tells the codec to send that
 *   request `thinking: { type: "disabled" }`.
 */
import type { LlmRequest, Message } from "@baton/core/LlmRequest"
import type { ToolCall } from "@baton/core/Tool"
import * as Json from "./json.ts"
import * as Replay from "./replay.ts"
import * as ToolStream from "./toolStream.ts"

const CHOICES = { auto: "auto", required: "any", none: "none" } as const

/** Whether a request forces a tool call (`tool_choice` `any` or `tool`), which Anthropic refuses with thinking. */
export const forcesTool = (request: LlmRequest): boolean =>
  request.tools !== undefined && request.toolChoice !== undefined && request.toolChoice !== "auto" &&
  request.toolChoice !== "none"

/** The `tools` and `tool_choice` body fields of a request (none without tools). */
export const bodyFields = (request: LlmRequest): Json.JsonObject => {
  if (request.tools === undefined) return {}
  const choice = request.toolChoice
  return {
    tools: request.tools.map((tool) => ({
      name: tool.name,
      ...(tool.description === undefined ? {} : { description: tool.description }),
      input_schema: tool.parameters
    })),
    ...(choice === undefined
      ? {}
      : { tool_choice: typeof choice === "string" ? { type: CHOICES[choice] } : { type: "tool", name: choice.tool } })
  }
}

/** The ids Anthropic takes for a `tool_use` and its result. */
const validId = /^[a-zA-Z0-9_-]+$/

/**
 * A call's id as sent: as it is when Anthropic takes it, else (another
 * server's `functions.get_weather:0`, an empty one) `toolu_` and 24
 * characters of its SHA-256, the same on the call and on its result.
 */
const sentId = (id: string): string => validId.test(id) ? id : ToolStream.digestId("toolu_", id, 30)

const toolUse = (call: ToolCall) => ({
  type: "tool_use",
  id: sentId(call.id),
  name: call.name,
  input: Json.parse(call.arguments) ?? {}
})

/** A thinking block of a reply, as Anthropic sends it and wants it back. */
export type ThinkingBlock =
  | { readonly type: "thinking"; readonly thinking: string; readonly signature: string }
  | { readonly type: "redacted_thinking"; readonly data: string }

const isThinkingBlock = (u: unknown): u is ThinkingBlock =>
  Json.isObject(u) && (
    (u.type === "thinking" && typeof u.thinking === "string" && typeof u.signature === "string") ||
    (u.type === "redacted_thinking" && typeof u.data === "string")
  )

const textOf = (blocks: ReadonlyArray<ThinkingBlock>): string =>
  blocks.map((block) => block.type === "thinking" ? block.thinking : "").join("")

/** What a turn's thinking blocks send back with its calls (see the module header); none for none. */
const echoOf = (blocks: ReadonlyArray<ThinkingBlock>): Replay.Echo | undefined => {
  const [first] = blocks
  const text = textOf(blocks)
  if (first === undefined || text.length > Replay.maxReasoningChars) return undefined
  const signature = blocks.length === 1 && first.type === "thinking" ? first.signature : JSON.stringify(blocks)
  return text === "" ? { signature } : { reasoning: text, signature }
}

/** The calls with the turn's thinking blocks on the first one. */
export const withThinking = (
  calls: ReadonlyArray<Replay.DecodedCall> | undefined,
  blocks: ReadonlyArray<ThinkingBlock>
): ReadonlyArray<Replay.DecodedCall> | undefined => {
  const echo = echoOf(blocks)
  const [first, ...rest] = calls ?? []
  return first === undefined || echo === undefined ? calls : [{ ...first, echo: { ...first.echo, ...echo } }, ...rest]
}

/** The blocks a signature that holds several stands for; `undefined` for a lone block's signature. */
const blocksIn = (signature: string): ReadonlyArray<ThinkingBlock> | undefined => {
  if (!signature.startsWith("[")) return undefined
  const blocks = Json.parse(signature)
  return Array.isArray(blocks) && blocks.every(isThinkingBlock) ? blocks : []
}

/** The thinking blocks a message's calls carry back, from the first call whose replay has a signature. */
const thinkingOf = (calls: ReadonlyArray<ToolCall>): ReadonlyArray<ThinkingBlock> => {
  const replay = calls.find((call) => call.replay?.signature !== undefined)?.replay
  if (replay?.signature === undefined) return []
  return blocksIn(replay.signature) ??
    [{ type: "thinking", thinking: replay.reasoning ?? "", signature: replay.signature }]
}

/**
 * Whether the conversation's current tool loop (the messages after its last
 * `user` message: its tool results come as `tool` messages) holds an
 * assistant turn with calls and no thinking blocks to send back with them:
 * calls another provider or model made (their replays are not sent here),
 * the caller wrote, or whose thinking was too long to keep. With thinking
 * on, Anthropic answers such a conversation 400.
 */
export const unthoughtLoop = (conversation: ReadonlyArray<Message>): boolean =>
  conversation.slice(conversation.findLastIndex((message) => message.role === "user") + 1).some((message) =>
    message.toolCalls !== undefined && message.toolCalls.length > 0 && thinkingOf(message.toolCalls).length === 0
  )

/** The thinking blocks of a reply's content. */
export const thinkingBlocks = (content: ReadonlyArray<unknown>): ReadonlyArray<ThinkingBlock> =>
  content.filter(isThinkingBlock).map((block) =>
    block.type === "thinking"
      ? { type: "thinking", thinking: block.thinking, signature: block.signature }
      : { type: "redacted_thinking", data: block.data }
  )

/**
 * The thinking blocks of one stream, fed its events: a block opens with its
 * `content_block_start`, a `thinking_delta` adds to its text, a
 * `signature_delta` sets its signature. Past `Replay.maxReasoningChars` of
 * text it keeps none.
 */
export const thinkingStream = () => {
  const blocks = new Map<number, ThinkingBlock>()
  let chars = 0
  return {
    feed: (event: Json.JsonObject): void => {
      const index = event.index
      if (typeof index !== "number") return
      const start = event.content_block
      if (event.type === "content_block_start" && Json.isObject(start)) {
        if (start.type === "thinking") blocks.set(index, { type: "thinking", thinking: "", signature: "" })
        if (start.type === "redacted_thinking" && typeof start.data === "string") {
          blocks.set(index, { type: "redacted_thinking", data: start.data })
        }
      }
      const block = blocks.get(index)
      const delta = event.delta
      if (event.type !== "content_block_delta" || !Json.isObject(delta) || block?.type !== "thinking") return
      if (delta.type === "thinking_delta" && typeof delta.thinking === "string" && chars <= Replay.maxReasoningChars) {
        chars += delta.thinking.length
        blocks.set(index, { ...block, thinking: block.thinking + delta.thinking })
      }
      if (delta.type === "signature_delta" && typeof delta.signature === "string") {
        blocks.set(index, { ...block, signature: block.signature + delta.signature })
      }
    },
    /** The blocks so far, in the order they opened. */
    blocks: (): ReadonlyArray<ThinkingBlock> => chars > Replay.maxReasoningChars ? [] : Array.from(blocks.values())
  }
}

/** The conversation as Anthropic messages, tool calls and results as blocks, each turn's thinking before them. */
export const messages = (conversation: ReadonlyArray<Message>): Array<Json.JsonObject> => {
  const out: Array<{ role: string; content: string | Array<Json.JsonObject> }> = []
  for (const message of conversation) {
    if (message.role === "tool") {
      const block = {
        type: "tool_result",
        tool_use_id: sentId(message.toolCallId ?? ""),
        content: message.content,
        ...(message.isError === true ? { is_error: true } : {})
      }
      const last = out.at(-1)
      if (last?.role === "user" && Array.isArray(last.content)) last.content.push(block)
      else out.push({ role: "user", content: [block] })
    } else if (message.toolCalls !== undefined) {
      out.push({
        role: message.role,
        content: [
          ...thinkingOf(message.toolCalls),
          ...(message.content.length === 0 ? [] : [{ type: "text", text: message.content }]),
          ...message.toolCalls.map(toolUse)
        ]
      })
    } else {
      out.push({ role: message.role, content: message.content })
    }
  }
  return out
}

/** The tool calls of a reply's content blocks; a string says what is malformed. */
export const decode = (content: ReadonlyArray<unknown>): ReadonlyArray<Replay.DecodedCall> | undefined | string => {
  const calls: Array<Replay.DecodedCall> = []
  for (const block of content) {
    if (!Json.isObject(block) || block.type !== "tool_use") continue
    if (typeof block.id !== "string" || typeof block.name !== "string") return "a tool_use block without an id or name"
    if (block.input !== undefined && !Json.isObject(block.input)) return "a tool_use block whose input is not an object"
    calls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) })
  }
  return calls.length === 0 ? undefined : calls
}

/**
 * Feeds a stream event's `tool_use` block start or `input_json_delta` to the
 * stream's calls (keyed by block index); a string says what is malformed.
 */
export const feed = (tools: ToolStream.ToolStream, event: Json.JsonObject): string | undefined => {
  const block = event.content_block
  if (event.type === "content_block_start" && Json.isObject(block) && block.type === "tool_use") {
    if (typeof event.index !== "number" || typeof block.id !== "string" || typeof block.name !== "string") {
      return "a tool_use block without an index, id or name"
    }
    tools.feed(event.index, { id: block.id, name: block.name })
  }
  const delta = event.delta
  if (
    event.type === "content_block_delta" && Json.isObject(delta) && delta.type === "input_json_delta" &&
    typeof event.index === "number" && tools.has(event.index)
  ) {
    if (typeof delta.partial_json !== "string") return "an input_json_delta whose partial_json is not a string"
    tools.feed(event.index, { arguments: delta.partial_json })
  }
  return undefined
}
