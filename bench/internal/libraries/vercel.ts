/**
 * The Vercel AI SDK: `generateText` / `streamText` with `@ai-sdk/openai-compatible`.
 */
import { createOpenAICompatible } from "@ai-sdk/openai-compatible"
import { generateText, streamText } from "ai"
import * as L from "../library.ts"

/** The SDK against `url/deepseek`. */
export const setup = (url: string): Promise<L.Library> => {
  const provider = createOpenAICompatible({
    name: "deepseek",
    baseURL: `${url}/deepseek`,
    apiKey: L.apiKey,
    includeUsage: true
  })
  const settings = { prompt: L.prompt, temperature: L.temperature, maxOutputTokens: L.maxTokens }
  const call: L.Call = (model) => generateText({ model: provider.chatModel(model), ...settings })
  const firstDelta: L.FirstDelta = async (model) => {
    const start = performance.now()
    const result = streamText({ model: provider.chatModel(model), ...settings })
    let first = Number.NaN
    for await (const text of result.textStream) {
      if (Number.isNaN(first) && text !== "") first = L.since(start)
    }
    return first
  }
  return Promise.resolve({
    cases: [{ name: L.names.vercel, group: "peer", call, headline: true, inFlight: true }],
    firstDelta: [{ name: "Vercel AI SDK streamText", run: firstDelta }],
    close: () => Promise.resolve()
  })
}
