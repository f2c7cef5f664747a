import { Effect, Layer, type Stream } from "effect"
import type { StreamPart } from "../../src/GenerationResult.ts"
import type { ModelId, ProviderName } from "../../src/Ids.ts"
import * as LlmProvider from "../../src/LlmProvider.ts"
import type { ProviderError } from "../../src/ProviderError.ts"

/** A provider built in code answering by `stream` alone (its `generate` and structured output die). */
export const streaming = (
  provider: ProviderName,
  model: ModelId,
  stream: () => Stream.Stream<StreamPart, ProviderError>
): Layer.Layer<LlmProvider.LlmProvider> =>
  Layer.succeed(
    LlmProvider.LlmProvider,
    LlmProvider.make({
      name: provider,
      model,
      capabilities: { assistantPrefill: false, streamUsage: true, structuredOutput: "json-schema" },
      generate: () => Effect.die("generate is streamed underneath"),
      generateStructured: () => Effect.die("no structured output here"),
      stream
    })
  )
