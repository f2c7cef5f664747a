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

/** Assembles streamed `delta.tool_calls` fragments. */
export const accumulator = () => {
  const calls = new Map<number, { id: string; name: string; arguments: string }>()
  return {
    feed: (delta: Json.JsonObject): void => {
      if (!Array.isArray(delta.tool_calls)) return
      for (const fragment of delta.tool_calls) {
        if (!Json.isObject(fragment) || typeof fragment.index !== "number") continue
        const fn = Json.isObject(fragment.function) ? fragment.function : {}
        const call = calls.get(fragment.index) ?? { id: "", name: "", arguments: "" }
        if (typeof fragment.id === "string") call.id = fragment.id
        if (typeof fn.name === "string") call.name += fn.name
        if (typeof fn.arguments === "string") call.arguments += fn.arguments
        calls.set(fragment.index, call)
      }
    },
    calls: (): ReadonlyArray<ToolCall> | undefined =>
      calls.size === 0 ? undefined : [...calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call)
  }
}
