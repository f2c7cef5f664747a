import * as OpenAi from "../src/OpenAi.ts"
import { conformance } from "./conformance.ts"

conformance({
  name: "openai",
  mock: "openai",
  priced: true,
  finishIsTerminator: false,
  layer: (baseUrl, apiKey) => OpenAi.layer({ apiKey, baseUrl })
})
