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

/** The tool calls of a reply's content blocks. */
export const decode = (content: ReadonlyArray<unknown>): ReadonlyArray<ToolCall> | undefined => {
  const calls = content.flatMap((block) =>
    Json.isObject(block) && block.type === "tool_use" && typeof block.id === "string" && typeof block.name === "string"
      ? [{ id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) }]
      : []
  )
  return calls.length === 0 ? undefined : calls
}

/** Assembles streamed `tool_use` blocks and their `input_json_delta` fragments. */
export const accumulator = () => {
  const calls = new Map<number, { id: string; name: string; arguments: string }>()
  return {
    feed: (event: Json.JsonObject): void => {
      if (typeof event.index !== "number") return
      const block = event.content_block
      if (event.type === "content_block_start" && Json.isObject(block) && block.type === "tool_use") {
        calls.set(event.index, { id: Json.string(block.id) ?? "", name: Json.string(block.name) ?? "", arguments: "" })
      }
      const delta = event.delta
      const call = calls.get(event.index)
      if (call !== undefined && Json.isObject(delta) && typeof delta.partial_json === "string") {
        call.arguments += delta.partial_json
      }
    },
    calls: (): ReadonlyArray<ToolCall> | undefined =>
      calls.size === 0
        ? undefined
        : [...calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => ({
          ...call,
          arguments: call.arguments === "" ? "{}" : call.arguments
        }))
  }
}
