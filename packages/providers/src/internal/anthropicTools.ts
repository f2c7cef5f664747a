/**
 * Tool calls in the Anthropic Messages wire format.
 *
 * - Request: `tools: [{ name, description, input_schema }]` and
 *   `tool_choice` (`{ type: "auto" | "any" | "none" }`, or
 *   `{ type: "tool", name }`).
 * - Conversation: an assistant's calls as `tool_use` blocks (`input` the
 *   parsed arguments); results as `tool_result` blocks of a `user` message
 *   (consecutive results share one message, as the API requires).
 * - Reply: `tool_use` content blocks; in a stream, a `content_block_start`
 *   with the `tool_use` block, then `input_json_delta` fragments.
 */
import type { LlmRequest, Message } from "@baton/core/LlmRequest"
import type { ToolCall } from "@baton/core/Tool"
import * as Json from "./json.ts"
import type * as Replay from "./replay.ts"
import type * as ToolStream from "./toolStream.ts"

const CHOICES = { auto: "auto", required: "any", none: "none" } as const

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

const toolUse = (call: ToolCall) => ({
  type: "tool_use",
  id: call.id,
  name: call.name,
  input: Json.parse(call.arguments) ?? {}
})

/** The conversation as Anthropic messages, tool calls and results as blocks. */
export const messages = (conversation: ReadonlyArray<Message>): Array<Json.JsonObject> => {
  const out: Array<{ role: string; content: string | Array<Json.JsonObject> }> = []
  for (const message of conversation) {
    if (message.role === "tool") {
      const block = { type: "tool_result", tool_use_id: message.toolCallId ?? "", content: message.content }
      const last = out.at(-1)
      if (last?.role === "user" && Array.isArray(last.content)) last.content.push(block)
      else out.push({ role: "user", content: [block] })
    } else if (message.toolCalls !== undefined) {
      out.push({
        role: message.role,
        content: [
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
