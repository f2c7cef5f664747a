/**
 * A small `effect/ai` provider made with `LanguageModel.make`, as an
 * `@effect/ai-*` package would be: it speaks the OpenAI chat-completions wire
 * format over Effect's `HttpClient` (here to the mock provider server), maps
 * HTTP statuses with `AiError.reasonFromHttpStatus`, asks for JSON with
 * `response_format: json_schema`, sends the tools it is given (`tools`,
 * `tool_choice`) and the conversation's tool calls and results, and reports
 * text, tool calls, usage (none when the server reports none) and finish
 * reasons in `Response` parts. Its stream
 * is one non-streamed call cut into parts (a tool call's params as
 * `tool-params-start` / `-delta` / `-end`, then the `tool-call`).
 */
import { Effect, Layer, Schema, Stream } from "effect"
import { AiError, LanguageModel, type Prompt, type Response, Tool } from "effect/ai"
import { HttpBody, HttpClient, HttpClientRequest } from "effect/http"

const ChatResponse = Schema.Struct({
  choices: Schema.NonEmptyArray(Schema.Struct({
    message: Schema.Struct({
      content: Schema.NullOr(Schema.String),
      tool_calls: Schema.optionalKey(Schema.Array(Schema.Struct({
        id: Schema.String,
        function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
      })))
    }),
    finish_reason: Schema.String
  })),
  // absent when the server reports none (an OpenAI-compatible server may not)
  usage: Schema.optionalKey(Schema.Struct({ prompt_tokens: Schema.Int, completion_tokens: Schema.Int }))
})

const decodeResponse = Schema.decodeUnknownEffect(Schema.fromJsonString(ChatResponse))

const fail = (reason: AiError.AiErrorReason) => AiError.make({ module: "ChatLanguageModel", method: "call", reason })

const finishReasons: Record<string, Response.FinishReason> = {
  stop: "stop",
  length: "length",
  content_filter: "content-filter",
  tool_calls: "tool-calls"
}

const messagesOf = (prompt: Prompt.Prompt): ReadonlyArray<unknown> =>
  prompt.content.flatMap((message): ReadonlyArray<unknown> => {
    switch (message.role) {
      case "system":
        return [{ role: "system", content: message.content }]
      case "user":
        return [{
          role: "user",
          content: message.content.map((part) => part.type === "text" ? part.text : "").join("")
        }]
      case "assistant": {
        const calls = message.content.flatMap((part) =>
          part.type === "tool-call"
            ? [{ id: part.id, type: "function", function: { name: part.name, arguments: JSON.stringify(part.params) } }]
            : []
        )
        const content = message.content.map((part) => part.type === "text" ? part.text : "").join("")
        return [calls.length === 0 ? { role: "assistant", content } : { role: "assistant", content, tool_calls: calls }]
      }
      case "tool":
        return message.content.flatMap((part) =>
          part.type === "tool-result"
            ? [{ role: "tool", tool_call_id: part.id, content: JSON.stringify(part.result) }]
            : []
        )
    }
  })

const toolChoiceOf = (choice: LanguageModel.ToolChoice<string>): unknown =>
  typeof choice === "string"
    ? choice
    : "tool" in choice
    ? { type: "function", function: { name: choice.tool } }
    : choice.mode ?? "auto"

const bodyOf = (model: string, options: LanguageModel.ProviderOptions) => ({
  model,
  messages: messagesOf(options.prompt),
  ...(options.tools.length === 0 ? {} : {
    tools: options.tools.map((tool: Tool.Any) => ({
      type: "function",
      function: {
        name: String(tool.name),
        description: Tool.getDescription(tool),
        parameters: Tool.getJsonSchema(tool)
      }
    })),
    tool_choice: toolChoiceOf(options.toolChoice)
  }),
  ...(options.responseFormat.type === "json"
    ? {
      response_format: {
        type: "json_schema",
        json_schema: {
          name: options.responseFormat.objectName,
          schema: LanguageModel.defaultCodecTransformer(options.responseFormat.schema).jsonSchema
        }
      }
    }
    : {})
})

/** The `LanguageModel` of a chat-completions endpoint at `baseUrl`. */
export const layer = (
  baseUrl: string,
  model: string
): Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient> =>
  Layer.effect(
    LanguageModel.LanguageModel,
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const url = `${baseUrl}/chat/completions`
      const call = (options: LanguageModel.ProviderOptions) =>
        Effect.gen(function*() {
          const response = yield* client.execute(HttpClientRequest.post(url, {
            headers: { authorization: "Bearer sk-test-key" },
            body: HttpBody.text(JSON.stringify(bodyOf(model, options)), "application/json")
          })).pipe(
            Effect.mapError((error) =>
              fail(
                new AiError.NetworkError({ reason: "TransportError", method: "POST", url, description: error.message })
              )
            )
          )
          const text = yield* Effect.orElseSucceed(response.text, () => "")
          if (response.status >= 300) {
            return yield* fail(AiError.reasonFromHttpStatus({
              status: response.status,
              body: text,
              http: { response: { status: response.status, headers: response.headers }, body: text }
            }))
          }
          const decoded = yield* decodeResponse(text).pipe(
            Effect.mapError((error) => fail(AiError.InvalidResponseError.fromSchemaError(error)))
          )
          const choice = decoded.choices[0]
          const parts: Array<Response.PartEncoded> = [
            ...(choice.message.content === null ? [] : [{ type: "text" as const, text: choice.message.content }]),
            ...(choice.message.tool_calls ?? []).map((call): Response.PartEncoded => ({
              type: "tool-call",
              id: call.id,
              name: call.function.name,
              params: JSON.parse(call.function.arguments)
            })),
            {
              type: "finish",
              reason: finishReasons[choice.finish_reason] ?? "other",
              usage: {
                inputTokens: { total: decoded.usage?.prompt_tokens },
                outputTokens: { total: decoded.usage?.completion_tokens }
              }
            }
          ]
          return parts
        })
      return yield* LanguageModel.make({
        generateText: call,
        streamText: (options) =>
          Stream.fromIterableEffect(Effect.map(call(options), (parts) =>
            parts.flatMap((part): ReadonlyArray<Response.StreamPartEncoded> => {
              switch (part.type) {
                case "text":
                  return [
                    { type: "text-start", id: "0" },
                    { type: "text-delta", id: "0", delta: part.text },
                    { type: "text-end", id: "0" }
                  ]
                case "tool-call":
                  return [
                    { type: "tool-params-start", id: part.id, name: part.name },
                    { type: "tool-params-delta", id: part.id, delta: JSON.stringify(part.params) },
                    { type: "tool-params-end", id: part.id },
                    part
                  ]
                case "finish":
                  return [part]
                default:
                  return []
              }
            })))
      })
    })
  )
