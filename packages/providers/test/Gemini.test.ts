import * as Gemini from "../src/Gemini.ts"
import { conformance } from "./conformance.ts"

conformance({
  name: "gemini",
  mock: "gemini",
  priced: true,
  finishIsTerminator: true,
  layer: (baseUrl, apiKey) => Gemini.layer({ apiKey, baseUrl })
})
