/**
 * A service that takes a caller's generation options in its body (decoded by
 * `HttpBody.json` with `GenerationOptions`' encoded side, handed to
 * `LlmManager` as `LlmRequest.Input` options) passes `reasoning` on to the
 * provider, over a real Node server; a level Baton does not know is a 400
 * Problem Details naming `options.reasoning`, and no provider is called.
 */
import * as GenerationOptions from "@baton/core/GenerationOptions"
import * as LlmManager from "@baton/core/LlmManager"
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import * as HttpBody from "../src/HttpBody.ts"
import * as HttpQuota from "../src/HttpQuota.ts"
import { managerOver } from "./utils/manager.ts"
import * as Serve from "./utils/serve.ts"

const Manager = managerOver((server) => [
  DeepSeek.layer({ apiKey: Redacted.make("sk-test"), baseUrl: server.baseUrl("deepseek") })
])

/** A prompt and the options a caller writes (`GenerationOptions.Input`), checked as the manager checks them. */
const Ask = Schema.Struct({
  prompt: Schema.String,
  options: Schema.optionalKey(Schema.toEncoded(GenerationOptions.GenerationOptions))
})

/** `POST /answer`: the body's prompt and options, asked of the model. */
const answer = HttpRouter.add(
  "POST",
  "/answer",
  HttpQuota.handler({ subject: { header: "x-teacher-id" } })((subjectId) =>
    Effect.gen(function*() {
      const { options, prompt } = yield* HttpBody.json(Ask)
      const manager = yield* LlmManager.LlmManager
      const result = yield* manager.generate({ prompt, options, metadata: { subjectId } })
      return HttpServerResponse.jsonUnsafe({ content: result.content })
    })
  )
)

/** The route served by a Node server on a spare port; its URL. */
const serve = Effect.map(Serve.serve(answer), (base) => `${base}/answer`)

const post = (url: string, body: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-teacher-id": "teacher-7" },
      body: JSON.stringify(body)
    })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

/** The `thinking` field of each body DeepSeek received. */
const thinkingSent = Effect.gen(function*() {
  const server = yield* MockProviderServer.MockProviderServer
  return (yield* server.received("deepseek")).map((request) =>
    typeof request.body === "object" && request.body !== null && "thinking" in request.body
      ? request.body.thinking
      : undefined
  )
})

describe("reasoning through an HTTP service", () => {
  it.live("options.reasoning reaches the provider: \"none\" turns DeepSeek's thinking off; left out, nothing", () =>
    Effect.gen(function*() {
      const url = yield* serve
      const asked = yield* post(url, { prompt: "Explain tides.", options: { reasoning: "none" } })
      assert.strictEqual(asked.status, 200, asked.text)
      const left = yield* post(url, { prompt: "Explain tides." })
      assert.strictEqual(left.status, 200, left.text)
      assert.deepStrictEqual(yield* thinkingSent, [{ type: "disabled" }, undefined])
    }).pipe(Effect.scoped, Effect.provide(Manager)))

  it.live("a level Baton does not know is a 400 Problem Details naming options.reasoning; no provider is called", () =>
    Effect.gen(function*() {
      const url = yield* serve
      const reply = yield* post(url, { prompt: "Explain tides.", options: { reasoning: "xhigh" } })
      assert.strictEqual(reply.status, 400, reply.text)
      assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
      const problem = JSON.parse(reply.text) as Record<string, unknown>
      assert.deepStrictEqual([problem["type"], problem["field"]], [
        "urn:baton:problem:InvalidOptions",
        "options.reasoning"
      ])
      assert.deepStrictEqual(yield* thinkingSent, [])
    }).pipe(Effect.scoped, Effect.provide(Manager)))
})
