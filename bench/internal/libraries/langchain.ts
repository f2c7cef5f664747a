/**
 * LangChain.js: `ChatOpenAI` with `withFallbacks` (a second `ChatOpenAI` on
 * the mock's OpenAI endpoint), as a LangChain user gets a fallback chain.
 */
import { ChatOpenAI } from "@langchain/openai"
import * as L from "../library.ts"

/** The chain against `url/deepseek`, falling back to `url/openai/v1`. */
export const setup = (url: string): Promise<L.Library> => {
  const chat = (model: string, baseURL: string) =>
    new ChatOpenAI({
      model,
      apiKey: L.apiKey,
      temperature: L.temperature,
      maxTokens: L.maxTokens,
      configuration: { baseURL }
    })
  const fallback = chat("gpt-4o-mini", `${url}/openai/v1`)
  const chains = new Map<string, ReturnType<ReturnType<typeof chat>["withFallbacks"]>>()
  const chainFor = (model: string) => {
    const found = chains.get(model)
    if (found !== undefined) return found
    const made = chat(model, `${url}/deepseek`).withFallbacks([fallback])
    chains.set(model, made)
    return made
  }
  const call: L.Call = (model) => chainFor(model).invoke(L.prompt)
  const firstDelta: L.FirstDelta = async (model) => {
    const start = performance.now()
    let first = Number.NaN
    for await (const chunk of await chainFor(model).stream(L.prompt)) {
      if (Number.isNaN(first) && chunk.text !== "") first = L.since(start)
    }
    return first
  }
  return Promise.resolve({
    cases: [{ name: L.names.langchain, group: "peer", call, headline: true, inFlight: true }],
    firstDelta: [{ name: "LangChain stream (withFallbacks)", run: firstDelta }],
    close: () => Promise.resolve()
  })
}
