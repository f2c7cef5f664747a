/**
 * `HttpQuota.handler` refusing a request's subject header: the 400 says why
 * the header's value is not an id (missing, too long, a control character),
 * as Problem Details naming the header, before the handler runs.
 */
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import * as HttpQuota from "../src/HttpQuota.ts"

/** The Problem Details `detail` of a request whose `x-teacher-id` is `value` (none when undefined). */
const detailFor = (value: string | undefined) =>
  Effect.gen(function*() {
    const headers: Record<string, string> = value === undefined ? {} : { "x-teacher-id": value }
    const response = yield* HttpQuota.handler({ subject: { header: "x-teacher-id" } })(() =>
      Effect.succeed(HttpServerResponse.text("served"))
    ).pipe(
      Effect.provideService(
        HttpServerRequest.HttpServerRequest,
        HttpServerRequest.fromWeb(new Request("http://localhost/v1/explain", { headers }))
      ),
      Effect.provide(QuotaLimiter.layerMemoryWith({ maxQuestionsPerRequest: 20, dailyLimit: 10, timeZone: "UTC" }))
    )
    assert.strictEqual(response.status, 400)
    const body = response.body
    assert.strictEqual(body._tag, "Uint8Array")
    const problem = JSON.parse(new TextDecoder().decode(body._tag === "Uint8Array" ? body.body : undefined)) as {
      readonly field?: unknown
      readonly detail?: unknown
    }
    assert.strictEqual(problem.field, "header x-teacher-id")
    return String(problem.detail)
  })

describe("HttpQuota.handler: a subject header that is no id", () => {
  it.effect("says why: missing, too long, or a control character", () =>
    Effect.gen(function*() {
      assert.include(yield* detailFor(undefined), "header x-teacher-id: required")
      assert.strictEqual(
        yield* detailFor("t".repeat(257)),
        "header x-teacher-id: a subject id is at most 256 characters"
      )
      // curl's UTF-8 bytes of "élève✓" read as Latin-1 hold C1 control characters
      const mojibake = yield* detailFor("Ã©lÃ¨ve\u0085")
      assert.include(mojibake, "control characters", mojibake)
      assert.notInclude(mojibake, "required", mojibake)
    }))
})
