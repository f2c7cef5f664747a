/**
 * The manager the transport tests call: the OpenAI adapter alone, against a
 * server the test started itself, with no retries.
 */
import type * as CircuitPolicy from "@baton/core/CircuitPolicy"
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import { Redacted } from "effect"
import * as OpenAi from "../../src/OpenAi.ts"

/** `LlmManager.make` over the OpenAI adapter at `baseUrl`, `policy` on top of no retries. */
export const openAi = (
  baseUrl: string,
  policy: Parameters<typeof FallbackPolicy.make>[0] = {},
  circuitPolicy?: CircuitPolicy.CircuitPolicy
) =>
  LlmManager.make({
    providers: [OpenAi.layer({ apiKey: Redacted.make("sk-test-key"), baseUrl })],
    policy: FallbackPolicy.make({ maxRetries: 0, ...policy }),
    circuitPolicy,
    generationEnabled: true
  })
