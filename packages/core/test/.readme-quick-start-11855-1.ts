import * as LlmConfig from "@baton/core/LlmConfig"
import * as LlmManager from "@baton/core/LlmManager"
import * as RequestLog from "@baton/core/RequestLog"
import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
import * as Providers from "@baton/providers/Providers"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer, Schema } from "effect"

const Question = Schema.Struct({ question: Schema.String, choices: Schema.Array(Schema.String), answer: Schema.Int })

const program = Effect.gen(function*() {
  const manager = yield* LlmManager.LlmManager
  const quiz = yield* manager.generateStructuredd(
    { prompt: "One question about Mars for 10-year-olds", metadata: { subjectId: "teacher-42" } },
    Question
  )
  yield* Effect.log(quiz.value.question, quiz.provider, quiz.usage.estimatedCostUsd, quiz.attempts.length)
})

const Manager = LlmManager.layerConfig({
  deepseek: Providers.layerFromConfig("deepseek"),
  gemini: Providers.layerFromConfig("gemini")
}).pipe(Layer.provide([RequestLog.layerFromConfig, LlmConfig.layerPricing, ProviderHttpClient.layer]))

program.pipe(Effect.provide(Manager.pipe(Layer.provide(LlmConfig.layer))), NodeRuntime.runMain)
