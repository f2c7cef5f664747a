/**
 * Tool calls in the Gemini `generateContent` wire format.
 *
 * - Request: `tools: [{ functionDeclarations: [{ name, description,
 *   parametersJsonSchema }] }]` (plain JSON Schema, as `responseJsonSchema`
 *   for structured output) and `toolConfig.functionCallingConfig`: `mode`
 *   `AUTO`, `NONE` or `ANY`, a named tool as `ANY` with
 *   `allowedFunctionNames: [name]`.
 * - Conversation: an assistant's calls as `functionCall` parts of its `model`
 *   turn (`args` the parsed arguments); results as `functionResponse` parts
 *   (`name`, `response: { output }`, a failed call's `response: { error }`,
 *   as Google documents) of one `user` turn per run of results,
 *   as Gemini wants as many responses in a turn as calls in the one before.
 * - Reply: `functionCall` parts (`name`, `args`, and `id` only when the model
 *   set one). A call without an id gets `gemini-call-<responseId>-<index>`
 *   (the index counts the calls of the answer, across stream events), the
 *   same whole or streamed; such ids are never sent back, the name is.
 *   Gemini streams each call whole, in one event: one delta per call.
 * - Thought signatures: a thinking model signs its calls (the part's
 *   `thoughtSignature`, on the first call of an answer; Gemini 3 on every
 *   answer with calls), and Gemini 3 answers 400 ("Function call is missing
 *   a thought_signature") when the first call of a model turn of the current
 *   turn comes back without one. A call keeps its signature in its replay,
 *   sent back on its part as it came. The first call of a model turn that
 *   has none (another provider's, after a fallback; one the caller wrote;
 *   one a model that signs nothing made) is sent with
 *   {@link skipSignature}, the value Google documents for calls Gemini did
 *   not make, which skips the check. Signatures Gemini puts on text parts
 *   are not kept: Gemini checks only those of calls.
 */
import type { LlmRequest, Message } from "@baton/core/LlmRequest"
import type { ToolCall } from "@baton/core/Tool"
import * as Json from "./json.ts"
import type * as Replay from "./replay.ts"
import * as ToolStream from "./toolStream.ts"

const MODES = { auto: "AUTO", required: "ANY", none: "NONE" } as const

/** The `tools` and `toolConfig` body fields of a request (none without tools). */
export const bodyFields = (request: LlmRequest): Json.JsonObject => {
  if (request.tools === undefined) return {}
  const choice = request.toolChoice
  return {
    tools: [{
      functionDeclarations: request.tools.map((tool) => ({
        name: tool.name,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        parametersJsonSchema: tool.parameters
      }))
    }],
    ...(choice === undefined ? {} : {
      toolConfig: {
        functionCallingConfig: typeof choice === "string"
          ? { mode: MODES[choice] }
          : { mode: "ANY", allowedFunctionNames: [choice.tool] }
      }
    })
  }
}

/** The `source` of the ids Baton gives calls Gemini sent without one. */
const SOURCE = "gemini"

/** How those ids begin: such an id is never sent back. */
const SYNTHESIZED = `${SOURCE}-call-`

/** The id Baton gives a call Gemini sent without one. */
const idOf = (responseId: string | undefined, index: number): string =>
  ToolStream.generatedId(SOURCE, responseId ?? "0", index)

const idField = (id: string): Json.JsonObject => id.startsWith(SYNTHESIZED) ? {} : { id }

/**
 * The `thoughtSignature` Google documents for a function call Gemini did not
 * make ("Thought signatures", https://ai.google.dev/gemini-api/docs/thought-signatures):
 * it tells Gemini 3 to skip the check the call would fail without a
 * signature.
 */
export const skipSignature = "skip_thought_signature_validator"

/** A call as a part, with its signature; the first of a model turn with {@link skipSignature} when it has none. */
const functionCall = (call: ToolCall, index: number): Json.JsonObject => {
  const signature = call.replay?.signature ?? (index === 0 ? skipSignature : undefined)
  return {
    functionCall: { name: call.name, args: Json.parse(call.arguments) ?? {}, ...idField(call.id) },
    ...(signature === undefined ? {} : { thoughtSignature: signature })
  }
}

/** The name of the call a tool message answers: its own `name`, else the call's with that id. */
const nameOf = (message: Message, conversation: ReadonlyArray<Message>): string =>
  message.name ??
    conversation.flatMap((m) => m.toolCalls ?? []).find((call) => call.id === message.toolCallId)?.name ?? ""

const functionResponse = (message: Message, conversation: ReadonlyArray<Message>): Json.JsonObject => ({
  functionResponse: {
    name: nameOf(message, conversation),
    response: { [message.isError === true ? "error" : "output"]: Json.parse(message.content) ?? message.content },
    ...idField(message.toolCallId ?? SYNTHESIZED)
  }
})

/** The conversation (system messages apart) as Gemini `contents`. */
export const contents = (conversation: ReadonlyArray<Message>): Array<Json.JsonObject> => {
  const out: Array<{ role: string; parts: Array<Json.JsonObject> }> = []
  for (const message of conversation) {
    if (message.role === "tool") {
      const part = functionResponse(message, conversation)
      const last = out.at(-1)
      if (last?.role === "user" && last.parts.every((p) => p.functionResponse !== undefined)) last.parts.push(part)
      else out.push({ role: "user", parts: [part] })
      continue
    }
    const text = message.content.length === 0 && message.toolCalls !== undefined ? [] : [{ text: message.content }]
    out.push({
      role: message.role === "assistant" ? "model" : "user",
      parts: [...text, ...(message.toolCalls ?? []).map(functionCall)]
    })
  }
  return out
}

/** A `functionCall` part read: its own id when Gemini set one, its arguments as JSON text, its signature. */
export interface FunctionCall {
  readonly id: string | undefined
  readonly name: string
  readonly arguments: string
  readonly signature: string | undefined
}

/** A part's `functionCall`, if it is one; a string says what is malformed. */
export const callOf = (part: Json.JsonObject): FunctionCall | string | undefined => {
  const call = part.functionCall
  if (call === undefined) return undefined
  if (!Json.isObject(call) || typeof call.name !== "string") return "a functionCall without a name"
  if (call.args !== undefined && call.args !== null && !Json.isObject(call.args)) {
    return "a functionCall whose args is not an object"
  }
  if (call.id !== undefined && call.id !== null && typeof call.id !== "string") {
    return "a functionCall whose id is not a string"
  }
  return {
    id: typeof call.id === "string" && call.id !== "" ? call.id : undefined,
    name: call.name,
    arguments: JSON.stringify(call.args ?? {}),
    signature: typeof part.thoughtSignature === "string" && part.thoughtSignature !== ""
      ? part.thoughtSignature
      : undefined
  }
}

/** The calls of an answer, numbered from `first` (the calls of earlier stream events), each with its signature. */
export const withIds = (
  calls: ReadonlyArray<FunctionCall>,
  responseId: string | undefined,
  first = 0
): ReadonlyArray<Replay.DecodedCall> =>
  calls.map((call, i) => ({
    id: call.id ?? idOf(responseId, first + i),
    name: call.name,
    arguments: call.arguments,
    ...(call.signature === undefined ? {} : { echo: { signature: call.signature } })
  }))

/** Feeds the calls of one stream event to the stream's calls, each whole. */
export const feed = (
  tools: ToolStream.ToolStream,
  calls: ReadonlyArray<FunctionCall>,
  responseId: string | undefined
): void => {
  const first = tools.size()
  for (const [i, call] of withIds(calls, responseId, first).entries()) {
    tools.feed(first + i, { id: call.id, name: call.name, arguments: call.arguments, signature: call.echo?.signature })
  }
}
