/**
 * Tool calls in the OpenAI chat-completions wire format.
 *
 * - Request: `tools: [{ type: "function", function: { name, description,
 *   parameters } }]` and `tool_choice` (`auto`, `none`, `required` or
 *   `{ type: "function", function: { name } }`).
 * - Conversation: an assistant message's calls as `tool_calls` (`content`
 *   `null` when it said nothing), a result as `{ role: "tool", tool_call_id,
 *   content }`.
 * - Reply: `choices[0].message.tool_calls`; in a stream, `delta.tool_calls`
 *   fragments keyed by `index` (the first carries `id` and `function.name`,
 *   the rest append to `function.arguments`).
 */
import type { LlmRequest, Message } from "@baton/core/LlmRequest"
import type { ToolCall } from "@baton/core/Tool"
import * as Json from "./json.ts"
import type * as ToolStream from "./toolStream.ts"

/** The `tools` and `tool_choice` body fields of a request (none without tools). */
export const bodyFields = (request: LlmRequest): Json.JsonObject => {
  if (request.tools === undefined) return {}
  const choice = request.toolChoice
  return {
    tools: request.tools.map((tool) => ({
      type: "function",
      function: {
        name: tool.name,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        parameters: tool.parameters
      }
    })),
    ...(choice === undefined
      ? {}
      : { tool_choice: typeof choice === "string" ? choice : { type: "function", function: { name: choice.tool } } })
  }
}

/** A conversation message with its tool fields, or `undefined` for a plain one. */
export const message = (source: Message): Json.JsonObject | undefined => {
  if (source.role === "tool") return { role: "tool", tool_call_id: source.toolCallId ?? "", content: source.content }
  if (source.toolCalls === undefined) return undefined
  return {
    role: source.role,
    content: source.content.length === 0 ? null : source.content,
    tool_calls: source.toolCalls.map((call) => ({
      id: call.id,
      type: "function",
      function: { name: call.name, arguments: call.arguments }
    }))
  }
}

const callOf = (value: unknown): ToolCall | undefined => {
  if (!Json.isObject(value) || !Json.isObject(value.function)) return undefined
  const { arguments: args, name } = value.function
  return typeof value.id === "string" && typeof name === "string" && typeof args === "string"
    ? { id: value.id, name, arguments: args }
    : undefined
}

/** The tool calls of a reply message; a string says what is malformed. */
export const decode = (replyMessage: Json.JsonObject): ReadonlyArray<ToolCall> | undefined | string => {
  const calls = replyMessage.tool_calls
  if (calls === undefined || calls === null) return undefined
  if (!Array.isArray(calls)) return "choices[0].message.tool_calls is not an array"
  const decoded = calls.map(callOf)
  return decoded.every((call) => call !== undefined) ? decoded : "a tool call without id, function.name or arguments"
}

const illTyped = (value: unknown): boolean => value !== undefined && value !== null && typeof value !== "string"

/** Feeds a chunk's `delta.tool_calls` fragments to the stream's calls; a string says what is malformed. */
export const feed = (tools: ToolStream.ToolStream, delta: Json.JsonObject): string | undefined => {
  const fragments = delta.tool_calls
  if (fragments === undefined || fragments === null) return undefined
  if (!Array.isArray(fragments)) return "choices[0].delta.tool_calls is not an array"
  for (const fragment of fragments) {
    if (!Json.isObject(fragment) || typeof fragment.index !== "number") return "a tool call delta without an index"
    const fn = fragment.function ?? {}
    if (!Json.isObject(fn) || illTyped(fragment.id) || illTyped(fn.name) || illTyped(fn.arguments)) {
      return "a tool call delta whose id, function.name or function.arguments is not a string"
    }
    tools.feed(fragment.index, {
      id: Json.string(fragment.id),
      name: Json.string(fn.name),
      arguments: Json.string(fn.arguments)
    })
  }
  return undefined
}
