/**
 * What every client under test offers the bench: named calls of one prompt
 * against the mock server, and the time to the first streamed delta.
 */

/** One call of the prompt with a model; the model may carry a mock fault suffix (`deepseek-chat@latency=400`). */
export type Call = (model: string) => Promise<unknown>

/** A measured case: a client's call, in a group of the report. */
export interface Case {
  readonly name: string
  readonly group: "floor" | "baton" | "peer" | "transport"
  readonly call: Call
  /** Shown by `bench:quick` and first in RESULTS.md. */
  readonly headline: boolean
  /** Whether the call can be held in flight with a slow model, for memory per in-flight request. */
  readonly inFlight: boolean
}

/** Streams the prompt, resolving with the milliseconds from the call to the first text delta once drained. */
export type FirstDelta = (model: string) => Promise<number>

/** A client set up against the mock server. */
export interface Library {
  readonly cases: ReadonlyArray<Case>
  readonly firstDelta: ReadonlyArray<{ readonly name: string; readonly run: FirstDelta }>
  readonly close: () => Promise<void>
}

/** The model every case asks for (the mock's DeepSeek endpoint). */
export const model = "deepseek-chat"

/** The same model held by the mock server before it answers, to keep requests in flight. */
export const slowModel = `${model}@latency=500`

/** The prompt every case sends. */
export const prompt = "Write one multiple-choice question about photosynthesis for 12-year-olds."

/** Baton's defaults, sent by every client so that the requests are the same. */
export const temperature = 0.7
export const maxTokens = 2000

/** The API key every client sends. */
export const apiKey = "sk-bench"

/** Milliseconds since `start` (a `performance.now()`). */
export const since = (start: number): number => performance.now() - start

/** Every case's name, as the report finds it. */
export const names = {
  floor: "floor: undici.request + JSON.parse",
  adapter: "Baton adapter alone (provider.generate)",
  generate: "Baton manager.generate (default: streams)",
  plain: "Baton manager.generate (generateVia: generate)",
  structuredSchema: "Baton generateStructured (Effect Schema)",
  structuredJson: "Baton generateStructured (raw JSON Schema)",
  stream: "Baton manager.stream (drained)",
  withFallback: "Baton generate, healthy primary + fallback",
  openCircuit: "Baton generate, primary circuit open -> fallback",
  failover: "Baton generate, primary 503 -> fallback",
  openCircuitAlone: "Baton open circuit, no fallback (refused)",
  quota: "Baton quota refusal",
  effectAi: "effect/ai LanguageModel.generateText over Baton (@baton/ai)",
  openai: "openai SDK chat.completions.create",
  langchain: "LangChain ChatOpenAI.withFallbacks",
  vercel: "Vercel AI SDK generateText",
  adapterStream: "Baton adapter alone, streamed (provider.stream drained)",
  httpClient: "Effect HttpClient (undici) + text + JSON.parse",
  adapterOverHttpClient: "Baton adapter alone over NodeHttpClient.layerUndici",
  adapterStreamOverHttpClient: "Baton adapter alone, streamed, over NodeHttpClient.layerUndici",
  undiciService: "undici Agent under an Effect service + JSON.parse"
} as const
