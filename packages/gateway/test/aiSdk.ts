/**
 * The Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`) as a client of
 * the gateway: its model for a gateway model name, and the tool loop its
 * `generateText` and `streamText` run over the weather tool.
 */
import { createOpenAICompatible } from "@ai-sdk/openai-compatible"
import { generateText, isStepCount, jsonSchema, streamText, tool } from "ai"
import { Effect } from "effect"
import * as Fixture from "./fixture.ts"

/** `get_weather`, which answers "rain". */
const weather = tool({
  inputSchema: jsonSchema<{ city: string }>({
    type: "object",
    properties: { city: { type: "string" } },
    required: ["city"]
  }),
  execute: () => "rain"
})

/** The AI SDK's model for the gateway at `url` serving `model`, with the test subject's key. */
const modelOf = (url: string, model: string) =>
  createOpenAICompatible({ name: "baton", baseURL: `${url}/v1`, apiKey: Fixture.clientKey }).chatModel(model)

const loop = { prompt: "Weather in Oslo?", tools: { get_weather: weather }, stopWhen: isStepCount(2), maxRetries: 0 }

/** What a loop did: its steps, its text, and the errors it reported (`streamText` reports them, not throws). */
export interface Loop {
  readonly steps: ReadonlyArray<{
    readonly finishReason: string
    readonly toolCalls: ReadonlyArray<{ readonly toolName: string }>
  }>
  readonly text: string
  readonly errors: ReadonlyArray<unknown>
}

/** `generateText`'s two-step loop over the weather tool. */
export const generatedLoop = (url: string, model: string): Effect.Effect<Loop> =>
  Effect.promise(async () => {
    const result = await generateText({ model: modelOf(url, model), ...loop })
    return { steps: result.steps, text: result.text, errors: [] }
  })

/** `streamText`'s two-step loop over the weather tool: its steps, its text, and the errors it reported. */
export const streamedLoop = (url: string, model: string): Effect.Effect<Loop> =>
  Effect.promise(async () => {
    const errors: Array<unknown> = []
    const run = streamText({
      model: modelOf(url, model),
      ...loop,
      onError: ({ error }) => {
        errors.push(error)
      }
    })
    return { steps: await run.steps, text: await run.text, errors }
  })
