/**
 * The floor: a bare `undici.request` then `JSON.parse` of the body, and for
 * streaming the first SSE chunk carrying content.
 */
import { request } from "undici"
import * as L from "../library.ts"

const bodyOf = (model: string, stream: boolean): string =>
  JSON.stringify({
    model,
    messages: [{ role: "user", content: L.prompt }],
    temperature: L.temperature,
    max_tokens: L.maxTokens,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {})
  })

/** The floor against `url/deepseek/chat/completions`. */
export const setup = (url: string): Promise<L.Library> => {
  const endpoint = `${url}/deepseek/chat/completions`
  const headers = { authorization: `Bearer ${L.apiKey}`, "content-type": "application/json" }
  const call: L.Call = async (model) => {
    const response = await request(endpoint, { method: "POST", headers, body: bodyOf(model, false) })
    const parsed: unknown = JSON.parse(await response.body.text())
    return parsed
  }
  const firstDelta: L.FirstDelta = async (model) => {
    const start = performance.now()
    const response = await request(endpoint, { method: "POST", headers, body: bodyOf(model, true) })
    let first = Number.NaN
    for await (const chunk of response.body) {
      if (Number.isNaN(first) && String(chunk).includes("\"content\"")) first = L.since(start)
    }
    return first
  }
  return Promise.resolve({
    cases: [{ name: L.names.floor, group: "floor", call, headline: true, inFlight: true }],
    firstDelta: [{ name: "floor: undici.request, first SSE chunk", run: firstDelta }],
    close: () => Promise.resolve()
  })
}
