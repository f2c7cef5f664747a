import * as DeepSeek from "../src/DeepSeek.ts"
import { conformance } from "./conformance.ts"

conformance({
  name: "deepseek",
  mock: "deepseek",
  priced: true,
  finishIsTerminator: false,
  layer: (baseUrl, apiKey) => DeepSeek.layer({ apiKey, baseUrl })
})
