/**
 * A per-subject override the operator stored wrong (0, meant as "suspended", say) is the server's fault, not the
 * caller's: a 503 as for a quota store that cannot answer, whose body repeats none of the server's configuration
 * (the option's name, the stored value), never a 400 telling the caller its own request is invalid.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as Pricing from "@baton/core/Pricing"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as Anthropic from "@baton/providers/Anthropic"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import * as HttpQuota from "../src/HttpQuota.ts"

const Quota = QuotaLimiter.layerMemoryWith({
  maxQuestionsPerRequest: 20,
  dailyLimit: 10,
  timeZone: "UTC",
  // a lookup of one's own (a table of teachers), where one row holds 0
  overrides: (subjectId) =>
    Effect.succeed(subjectId === "teacher-suspended" ? Option.some({ daily: 0 }) : Option.none())
})

const Manager = Layer.unwrap(Effect.map(MockProviderServer.MockProviderServer, (server) =>
  LlmManager.layer({
    providers: [Anthropic.layer({ apiKey: Redacted.make("sk-test"), baseUrl: server.baseUrl("anthropic") })],
    policy: FallbackPolicy.make({ maxRetries: 0, requestTimeoutMs: 5_000 })
  }))).pipe(
    Layer.provideMerge(Quota),
    Layer.provideMerge(Layer.mergeAll(MockProviderServer.layer(), NodeHttpClient.layerUndici, Pricing.layerDefault))
  )

const answer = HttpQuota.handler({ subject: { header: "x-teacher-id" } })((subjectId) =>
  Effect.gen(function*() {
    const manager = yield* LlmManager.LlmManager
    const result = yield* manager.generate({ prompt: "Explain tides.", metadata: { subjectId } })
    return HttpServerResponse.text(result.content)
  })
).pipe(
  Effect.provideService(
    HttpServerRequest.HttpServerRequest,
    HttpServerRequest.fromWeb(
      new Request("http://localhost/v1/explain", { headers: { "x-teacher-id": "teacher-suspended" } })
    )
  )
)

describe("HttpQuota with a bad stored override", () => {
  it.effect("is a 503 without the server's configuration in the body", () =>
    Effect.gen(function*() {
      const served = yield* answer
      const body = served.body._tag === "Uint8Array" ? new TextDecoder().decode(served.body.body) : ""
      assert.notInclude(body, "QuotaLimiter.overrides")
      assert.notInclude(body, "got 0")
      assert.strictEqual(served.status, 503)
      assert.include(body, "QuotaStoreUnavailable")
    }).pipe(Effect.provide(Manager)))
})
