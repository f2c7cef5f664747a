/**
 * `effect/ai` prompts as Baton messages, and Baton messages as prompts.
 *
 * System, user and assistant text parts become messages (the parts of a
 * user message joined by a line break, as `effect/ai`'s OpenAI-compatible
 * provider joins them; an assistant's with nothing between, as fragments of
 * one answer, where `effect/ai`'s providers send each part as a message of
 * its own); reasoning parts and approval responses are dropped
 * (what a provider needs back of its reasoning rides on the calls instead,
 * see below; a reasoning part's text is only shown). An assistant's `tool-call` parts become
 * its `toolCalls` (parameters as JSON text, a part's `options.baton.replay`,
 * as `response.ts` put it in the answer's metadata, as the call's `replay`
 * when it is one); each `tool-result` part becomes
 * a `tool` message (the tool's `toModelOutput` as text when it has one,
 * in place of the result; else the result as JSON text, `null` for a tool
 * that returns nothing), with `isError: true` when it is a failure (`isFailure`:
 * a tool with `failureMode: "return"` whose handler failed), which each
 * provider is sent in its own terms (see `LlmRequest.Message`). A file part, or any other part
 * Baton cannot send, is an `InvalidUserInputError` naming it, before any
 * network call.
 */
import type { Message } from "@baton/core/LlmRequest"
import * as Tool from "@baton/core/Tool"
import { Effect, Schema } from "effect"
import { AiError, Prompt } from "effect/ai"
import { parseJson } from "./response.ts"

const unsupported = (method: string, what: string) =>
  AiError.make({
    module: "BatonLanguageModel",
    method,
    reason: new AiError.InvalidUserInputError({ description: `Baton cannot send ${what} to a provider` })
  })

type Part = Prompt.UserMessagePart | Prompt.AssistantMessagePart

/** Part options that carry a Baton replay. */
const withReplay = Schema.is(Schema.Struct({ baton: Schema.Struct({ replay: Tool.Replay }) }))

/** A `tool-call` part as a Baton call, with the replay its `options.baton.replay` holds (anything else ignored). */
const toolCallOf = (part: Prompt.ToolCallPart): Tool.ToolCall => {
  const call = { id: part.id, name: part.name, arguments: JSON.stringify(part.params) }
  return withReplay(part.options) ? { ...call, replay: part.options.baton.replay } : call
}

const dropped = new Set(["reasoning", "tool-approval-request", "tool-approval-response"])

/**
 * What joins the text parts of a message: a user's parts one a line, as `effect/ai`'s OpenAI-compatible provider
 * joins them; an assistant's with nothing between, as fragments of one answer (`effect/ai`'s providers send each as
 * a message of its own instead).
 */
const joiner = { user: "\n", assistant: "" } as const

/** A message of each role, with its article. */
const inMessage = { user: "a user", assistant: "an assistant" } as const

const messageOf = (
  method: string,
  role: "user" | "assistant",
  parts: ReadonlyArray<Part>
): Effect.Effect<Message, AiError.AiError> => {
  const texts: Array<string> = []
  const toolCalls: Array<Tool.ToolCall> = []
  for (const part of parts) {
    if (part.type === "text") texts.push(part.text)
    else if (part.type === "tool-call" && role === "assistant") toolCalls.push(toolCallOf(part))
    else if (!dropped.has(part.type)) {
      return Effect.fail(unsupported(method, `a ${part.type} part in ${inMessage[role]} message`))
    }
  }
  const content = texts.join(joiner[role])
  return Effect.succeed(toolCalls.length === 0 ? { role, content } : { role, content, toolCalls })
}

/**
 * What the model is sent of a tool's result: its tool's `toModelOutput`, in place of the result, as text (a file
 * part a placeholder, as `effect/ai` says for text-only tool results); else the result as JSON text, `null` for a
 * tool that returns nothing (`Schema.Void` encodes to `undefined`).
 */
const resultText = (part: Prompt.ToolResultPart): string =>
  part.modelOutput !== undefined
    ? Prompt.toolModelOutputToText(part.modelOutput)
    : part.result === undefined
    ? "null"
    : JSON.stringify(part.result)

const toolMessages = (message: Prompt.ToolMessage): ReadonlyArray<Message> =>
  message.content.flatMap((part) =>
    part.type === "tool-result"
      ? [{
        role: "tool",
        content: resultText(part),
        toolCallId: part.id,
        name: part.name,
        ...(part.isFailure ? { isError: true } : {})
      }]
      : []
  )

/**
 * The Baton messages of a prompt.
 */
export const toMessages = (
  method: string,
  prompt: Prompt.Prompt
): Effect.Effect<ReadonlyArray<Message>, AiError.AiError> =>
  Effect.map(
    Effect.forEach(prompt.content, (message): Effect.Effect<ReadonlyArray<Message>, AiError.AiError> => {
      switch (message.role) {
        case "system":
          return Effect.succeed([{ role: "system", content: message.content }])
        case "user":
        case "assistant":
          return Effect.map(messageOf(method, message.role, message.content), (one) => [one])
        case "tool":
          return Effect.succeed(toolMessages(message))
      }
    }),
    (groups) => groups.flat()
  )

const encode = (message: Message): Prompt.MessageEncoded => {
  switch (message.role) {
    case "system":
    case "user":
      return { role: message.role, content: message.content }
    case "assistant":
      return {
        role: "assistant",
        content: [
          ...(message.content.length === 0 ? [] : [{ type: "text" as const, text: message.content }]),
          ...(message.toolCalls ?? []).map((call) => ({
            type: "tool-call" as const,
            id: call.id,
            name: call.name,
            params: parseJson(call.arguments)
          }))
        ]
      }
    case "tool":
      return {
        role: "tool",
        content: [{
          type: "tool-result",
          id: message.toolCallId ?? "",
          name: message.name ?? "",
          isFailure: message.isError === true,
          result: parseJson(message.content)
        }]
      }
  }
}

/**
 * A prompt from Baton messages.
 */
export const fromMessages = (messages: ReadonlyArray<Message>): Prompt.Prompt => Prompt.make(messages.map(encode))
