import * as Anthropic from "../src/Anthropic.ts"
import { conformance } from "./conformance.ts"

conformance({
  name: "anthropic",
  mock: "anthropic",
  priced: true,
  strictTerminator: true,
  layer: (baseUrl, apiKey) => Anthropic.layer({ apiKey, baseUrl })
})
