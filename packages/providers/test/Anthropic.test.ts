import * as Anthropic from "../src/Anthropic.ts"
import { conformance } from "./conformance.ts"

conformance({
  name: "anthropic",
  mock: "anthropic",
  priced: true,
  finishIsTerminator: false,
  layer: (baseUrl, apiKey) => Anthropic.layer({ apiKey, baseUrl })
})
