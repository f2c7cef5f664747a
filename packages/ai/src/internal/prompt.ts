/**
 * `effect/ai` prompts as Baton messages, and Baton messages as prompts.
 *
 * Baton sends text: system, user and assistant text parts become messages
 * (the parts of one message joined), reasoning parts are dropped (providers
 * do not take them back). A file part, or any part Baton cannot send, is an
 * `InvalidUserInputError` naming it, before any network call.
 */
import type { Message } from "@baton/core/LlmRequest"
import { Effect } from "effect"
import { AiError, Prompt } from "effect/ai"

const unsupported = (method: string, what: string) =>
  AiError.make({
    module: "BatonLanguageModel",
    method,
    reason: new AiError.InvalidUserInputError({ description: `Baton cannot send ${what} to a provider` })
  })

const textOf = (
  method: string,
  role: string,
  parts: ReadonlyArray<{ readonly type: string; readonly text?: string }>
): Effect.Effect<string, AiError.AiError> => {
  const texts: Array<string> = []
  for (const part of parts) {
    if (part.type === "text" && part.text !== undefined) texts.push(part.text)
    else if (part.type !== "reasoning") {
      return Effect.fail(unsupported(method, `a ${part.type} part in a ${role} message`))
    }
  }
  return Effect.succeed(texts.join(""))
}

/**
 * The Baton messages of a prompt.
 */
export const toMessages = (
  method: string,
  prompt: Prompt.Prompt
): Effect.Effect<ReadonlyArray<Message>, AiError.AiError> =>
  Effect.forEach(prompt.content, (message): Effect.Effect<Message, AiError.AiError> => {
    switch (message.role) {
      case "system":
        return Effect.succeed({ role: "system", content: message.content })
      case "user":
      case "assistant":
        return Effect.map(textOf(method, message.role, message.content), (content) => ({
          role: message.role,
          content
        }))
      case "tool":
        return Effect.fail(unsupported(method, "a tool message"))
    }
  })

/**
 * A prompt from Baton messages.
 */
export const fromMessages = (messages: ReadonlyArray<Message>): Prompt.Prompt =>
  Prompt.make(messages.map((message) => ({ role: message.role, content: message.content })))
