/**
 * The `openai` SDK (`chat.completions.create`), default settings.
 */
import OpenAI from "openai"
import * as L from "../library.ts"

/** The SDK against `url/deepseek`. */
export const setup = (url: string): Promise<L.Library> => {
  const client = new OpenAI({ apiKey: L.apiKey, baseURL: `${url}/deepseek` })
  const params = {
    messages: [{ role: "user" as const, content: L.prompt }],
    temperature: L.temperature,
    max_tokens: L.maxTokens
  }
  const call: L.Call = (model) => client.chat.completions.create({ model, ...params })
  const firstDelta: L.FirstDelta = async (model) => {
    const start = performance.now()
    const stream = await client.chat.completions.create({
      model,
      ...params,
      stream: true,
      stream_options: { include_usage: true }
    })
    let first = Number.NaN
    for await (const chunk of stream) {
      if (Number.isNaN(first) && (chunk.choices[0]?.delta.content ?? "") !== "") first = L.since(start)
    }
    return first
  }
  return Promise.resolve({
    cases: [{ name: L.names.openai, group: "peer", call, headline: true, inFlight: true }],
    firstDelta: [{ name: "openai SDK stream", run: firstDelta }],
    close: () => Promise.resolve()
  })
}
