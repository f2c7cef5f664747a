/**
 * `POST /explain` (header `x-teacher-id`): an explanation of tides from the
 * manager of the test's context, as Server-Sent Events.
 */
import * as LlmManager from "@baton/core/LlmManager"
import { Effect } from "effect"
import { HttpRouter } from "effect/http"
import * as HttpQuota from "../../src/HttpQuota.ts"
import * as HttpSse from "../../src/HttpSse.ts"

/** The route, for `HttpRouter.serve` or `Serve.serve`. */
export const explain = HttpRouter.add(
  "POST",
  "/explain",
  HttpQuota.handler({ subject: { header: "x-teacher-id" } })((subjectId) =>
    Effect.flatMap(
      LlmManager.LlmManager,
      (manager) => HttpSse.response(manager.stream({ prompt: "Explain tides.", metadata: { subjectId } }))
    )
  )
)
