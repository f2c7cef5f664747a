/**
 * Tool calls in the OpenAI chat-completions wire format.
 *
 * - Request: `tools: [{ type: "function", function: { name, description,
 *   parameters } }]` and `tool_choice` (`auto`, `none`, `required` or
 *   `{ type: "function", function: { name } }`).
 * - Conversation: an assistant message's calls as `tool_calls` (`content`
 *   `null` when it said nothing), a result as `{ role: "tool", tool_call_id,
 *   content }`; the format has no field that says a call failed, so a failed
 *   call's result is sent as `content` `{"error": <result>}`, the key Gemini
 *   documents for it (the result parsed as JSON when it is JSON). OpenAI takes ids of at most 40 characters (400 "string too
 *   long") and other servers make longer ones (vLLM's are 46): a longer id
 *   is sent as `call_` and 35 characters of its SHA-256, the same on the
 *   call and on the result that answers it ({@link sentId}). The reasoning the model wrote before its calls (DeepSeek's
 *   thinking mode, vLLM: `reasoning_content`), kept in the first call's
 *   replay, goes back as the message's `reasoning_content`, as DeepSeek
 *   demands (400 without it); the adapter hands the codec only the replays
 *   of the provider it speaks to, so no other server is sent one.
 *   A dialect with `reasoningOnEveryAnswer` (DeepSeek's, `openAiChat.ts`)
 *   gives every other assistant message but a prefill an empty one, its reasoning unknown (calls another provider made
 *   or the caller wrote; a text answer, whose reasoning Baton does not keep):
 *   DeepSeek asks for the field on each assistant message of a turn that
 *   called tools, the final answer included, and ignores it elsewhere.
 * - Reply: `choices[0].message.tool_calls` (and `message.reasoning_content`);
 *   in a stream, `delta.tool_calls` fragments keyed by `index` (OpenAI: the
 *   first carries `id` and `function.name`, the rest append to
 *   `function.arguments`), and `delta.reasoning_content` pieces. An empty
 *   `id` or `name` is none. How fragments make calls:
 *   - With an `index`: the call that index stands for, but a fragment whose
 *     `id` differs from that call's opens a new call and the index stands
 *     for it from then on (Gemini's OpenAI-compatible endpoint sends every
 *     call whole under index 0, each with its own id; OpenAI sends the id
 *     only on a call's first fragment, and servers that repeat it repeat
 *     the same one). An index not seen before opens a new call (or joins
 *     the call with its `id`), never one opened without an index.
 *   - Without one (some compatible servers): the call with the fragment's
 *     `id` (a new id opens a call); with neither, a fragment naming a tool
 *     opens a new call when there is none yet, the call opened last names
 *     another tool, or its arguments are whole JSON (so whole calls one
 *     after another stay apart, a tool without arguments too), else it
 *     continues that call, as a fragment naming none does.
 *   - A `name` is appended to the call's, unless it is that name again (a
 *     server repeating it on every fragment).
 *   - A call that comes without an id, streamed or not, gets one
 *     (`baton-call-<answer>-<n>`, `toolStream.ts`), so that no two calls of
 *     an answer share one and none is empty (Anthropic refuses an empty
 *     `tool_use.id` should the next turn fall back there).
 */
import type { LlmRequest, Message } from "@baton/core/LlmRequest"
import type { ToolCall } from "@baton/core/Tool"
import * as Json from "./json.ts"
import * as Replay from "./replay.ts"
import * as ToolStream from "./toolStream.ts"

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

/** The reasoning a message's calls carry back (on the first call that has some). */
const reasoningOf = (calls: ReadonlyArray<ToolCall>): string | undefined =>
  calls.find((call) => call.replay?.reasoning !== undefined)?.replay?.reasoning

/** The longest tool call id OpenAI takes. */
const MAX_ID_LENGTH = 40

/** A call's id as sent: as it is when OpenAI takes it, else `call_` and 35 characters of its SHA-256. */
const sentId = (id: string): string => id.length <= MAX_ID_LENGTH ? id : ToolStream.digestId("call_", id, MAX_ID_LENGTH)

/** A conversation message with its tool fields, or `undefined` for a plain one. */
export const message = (source: Message): Json.JsonObject | undefined => {
  if (source.role === "tool") {
    const content = source.isError === true
      ? JSON.stringify({ error: Json.parse(source.content) ?? source.content })
      : source.content
    return { role: "tool", tool_call_id: sentId(source.toolCallId ?? ""), content }
  }
  if (source.toolCalls === undefined) return undefined
  const reasoning = reasoningOf(source.toolCalls)
  return {
    role: source.role,
    content: source.content.length === 0 ? null : source.content,
    ...(reasoning === undefined ? {} : { reasoning_content: reasoning }),
    tool_calls: source.toolCalls.map((call) => ({
      id: sentId(call.id),
      type: "function",
      function: { name: call.name, arguments: call.arguments }
    }))
  }
}

const illTyped = (value: unknown): boolean => value !== undefined && value !== null && typeof value !== "string"

/** A string field that is no empty string (an empty `id` or `name` is none). */
const nonEmpty = (value: unknown): string | undefined => typeof value === "string" && value !== "" ? value : undefined

/** Arguments that are some and parse as JSON: a call sent whole, or all of it come. */
const wholeJson = (text: string): boolean => text !== "" && Json.parse(text) !== undefined

/** A `tool_calls` entry, its `id` when it has one (an empty one is none); `undefined` when malformed. */
const callOf = (
  value: unknown
): { readonly id: string | undefined; readonly name: string; readonly arguments: string } | undefined => {
  if (!Json.isObject(value) || !Json.isObject(value.function) || illTyped(value.id)) return undefined
  const { arguments: args, name } = value.function
  return typeof name === "string" && typeof args === "string"
    ? { id: nonEmpty(value.id), name, arguments: args }
    : undefined
}

const reasoningText = (value: unknown): string | undefined => typeof value === "string" ? value : undefined

/**
 * The tool calls of a reply message, its reasoning on the first, a call
 * without an id given one; a string says what is malformed.
 */
export const decode = (replyMessage: Json.JsonObject): ReadonlyArray<Replay.DecodedCall> | undefined | string => {
  const calls = replyMessage.tool_calls
  if (calls === undefined || calls === null) return undefined
  if (!Array.isArray(calls)) return "choices[0].message.tool_calls is not an array"
  const read = calls.map(callOf)
  if (!read.every((call) => call !== undefined)) {
    return "a tool call without function.name or arguments, or with an ill-typed id"
  }
  return Replay.withReasoning(ToolStream.withIds(read), reasoningText(replyMessage.reasoning_content))
}

/**
 * The key of a fragment's call (see the module header): under its `index`,
 * the call that index stands for, or a new one when the fragment's `id` is
 * another; without one, the call with its `id`; with neither, a new call
 * when the fragment names a tool and the last call's arguments are whole
 * JSON (or there is no call), else the call opened last; `undefined` when
 * there is none to continue.
 */
const keyOf = (
  tools: ToolStream.ToolStream,
  fragment: Json.JsonObject,
  name: string | undefined
): number | undefined => {
  const id = nonEmpty(fragment.id)
  if (typeof fragment.index === "number") return tools.indexed(fragment.index, id)
  if (id !== undefined) return tools.keyOf(id)
  const last = tools.last()
  if (name === undefined) return last?.key
  return last === undefined || opensCall(last, name) ? tools.freshKey() : last.key
}

/** Whether a fragment naming `name` (neither index nor id) opens a call after `last`, the call opened last. */
const opensCall = (last: { readonly name: string; readonly arguments: string }, name: string): boolean =>
  (last.name !== "" && last.name !== name) || wholeJson(last.arguments)

/**
 * Feeds a chunk's `delta.tool_calls` fragments, and its `reasoning_content`,
 * to the stream's calls; a string says what is malformed.
 */
export const feed = (tools: ToolStream.ToolStream, delta: Json.JsonObject): string | undefined => {
  const reasoning = reasoningText(delta.reasoning_content)
  if (reasoning !== undefined) tools.reason(reasoning)
  const fragments = delta.tool_calls
  if (fragments === undefined || fragments === null) return undefined
  if (!Array.isArray(fragments)) return "choices[0].delta.tool_calls is not an array"
  for (const fragment of fragments) {
    if (!Json.isObject(fragment)) return "a tool call delta that is not an object"
    const fn = fragment.function ?? {}
    if (!Json.isObject(fn) || illTyped(fragment.id) || illTyped(fn.name) || illTyped(fn.arguments)) {
      return "a tool call delta whose id, function.name or function.arguments is not a string"
    }
    const name = nonEmpty(fn.name)
    const key = keyOf(tools, fragment, name)
    if (key === undefined) return "a tool call delta without an index, an id or a tool's name"
    tools.feed(key, { id: nonEmpty(fragment.id), name, arguments: Json.string(fn.arguments) })
  }
  return undefined
}
