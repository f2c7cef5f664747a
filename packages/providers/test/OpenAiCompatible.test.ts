import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"
import { conformance } from "./conformance.ts"

conformance({
  name: "local-llm",
  mock: "openai",
  priced: false,
  finishIsTerminator: false,
  layer: (baseUrl, apiKey) => OpenAiCompatible.layer({ name: "local-llm", baseUrl, model: "llama-3.1-8b", apiKey })
})
