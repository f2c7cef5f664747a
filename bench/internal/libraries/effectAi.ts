/**
 * `effect/ai`: its `LanguageModel.generateText` served by `@baton/ai`'s
 * `BatonLanguageModel.layer` over Baton's default manager (the whole stack
 * of `baton.ts`), the quota subject set with `withConfigOverride`. No
 * `effect/ai` provider for OpenAI loads on Effect 4.1, so this is not a
 * peer: it shows what code written against `effect/ai` pays on top of
 * `manager.generate`. Apart from `baton.ts`, so that Baton's cold start does
 * not import `effect/ai`.
 */
import * as BatonLanguageModel from "@baton/ai/BatonLanguageModel"
import * as LlmManager from "@baton/core/LlmManager"
import * as UsageLedger from "@baton/core/UsageLedger"
import { Effect, Exit, Layer, Scope } from "effect"
import { LanguageModel } from "effect/ai"
import * as L from "../library.ts"
import * as Baton from "./baton.ts"

/** `effect/ai` over Baton against the mock server; `close` releases its layers. */
export const setup = async (url: string): Promise<L.Library> => {
  const managers = await Baton.managers(url, UsageLedger.layerMemory())
  const scope = Scope.makeUnsafe()
  const model = await Baton.run(
    Layer.build(Layer.provide(BatonLanguageModel.layer, Layer.succeed(LlmManager.LlmManager, managers.streamed))).pipe(
      Scope.provide(scope)
    )
  )
  const call: L.Call = () =>
    Baton.run(
      LanguageModel.generateText({ prompt: L.prompt }).pipe(
        BatonLanguageModel.withConfigOverride({ subjectId: Baton.subjectId }),
        Effect.provideContext(model)
      )
    )
  return {
    cases: [{ name: L.names.effectAi, group: "baton", call, headline: true, inFlight: false }],
    firstDelta: [],
    close: async () => {
      await Baton.run(Scope.close(scope, Exit.void))
      await managers.close()
    }
  }
}
