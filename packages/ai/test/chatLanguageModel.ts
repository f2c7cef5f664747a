/**
 * A small `effect/ai` provider made with `LanguageModel.make`, as an
 * `@effect/ai-*` package would be: it speaks the OpenAI chat-completions wire
 * format over Effect's `HttpClient` (here to the mock provider server), maps
 * HTTP statuses with `AiError.reasonFromHttpStatus`, asks for JSON with
 * `response_format: json_schema`, and reports usage and finish reasons in
 * `Response` parts. Its stream is one non-streamed call cut into parts.
 */
import { Effect, Layer, Schema, Stream } from "effect"
import { AiError, LanguageModel, type Response } from "effect/ai"
import { HttpBody, HttpClient, HttpClientRequest } from "effect/http"

const ChatResponse = Schema.Struct({
  choices: Schema.NonEmptyArray(Schema.Struct({
    message: Schema.Struct({ content: Schema.String }),
    finish_reason: Schema.String
  })),
  usage: Schema.Struct({ prompt_tokens: Schema.Int, completion_tokens: Schema.Int })
})

const decodeResponse = Schema.decodeUnknownEffect(Schema.fromJsonString(ChatResponse))

const fail = (reason: AiError.AiErrorReason) => AiError.make({ module: "ChatLanguageModel", method: "call", reason })

const textOf = (content: string | ReadonlyArray<{ readonly type: string; readonly text?: string }>): string =>
  typeof content === "string" ? content : content.map((part) => part.text ?? "").join("")

const finishReasons: Record<string, Response.FinishReason> = {
  stop: "stop",
  length: "length",
  content_filter: "content-filter"
}

const bodyOf = (model: string, options: LanguageModel.ProviderOptions) => ({
  model,
  messages: options.prompt.content.map((message) => ({ role: message.role, content: textOf(message.content) })),
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
            return yield* fail(AiError.reasonFromHttpStatus({ status: response.status, body: text }))
          }
          const decoded = yield* decodeResponse(text).pipe(
            Effect.mapError((error) => fail(AiError.InvalidResponseError.fromSchemaError(error)))
          )
          const choice = decoded.choices[0]
          const parts: Array<Response.PartEncoded> = [
            { type: "text", text: choice.message.content },
            {
              type: "finish",
              reason: finishReasons[choice.finish_reason] ?? "other",
              usage: {
                inputTokens: { total: decoded.usage.prompt_tokens },
                outputTokens: { total: decoded.usage.completion_tokens }
              }
            }
          ]
          return parts
        })
      return yield* LanguageModel.make({
        generateText: call,
        streamText: (options) =>
          Stream.fromIterableEffect(Effect.map(call(options), (parts) =>
            parts.flatMap((part): ReadonlyArray<Response.StreamPartEncoded> =>
              part.type === "text"
                ? [
                  { type: "text-start", id: "0" },
                  { type: "text-delta", id: "0", delta: part.text },
                  { type: "text-end", id: "0" }
                ]
                : part.type === "finish"
                ? [part]
                : []
            )))
      })
    })
  )
