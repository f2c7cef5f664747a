/**
 * `HttpBody.json` over a real Node server: a body over the limit is a 413
 * Problem Details whether its `Content-Length` says so or it comes chunked
 * without one, and it spends no quota and calls no provider; a body of
 * exactly the limit is served.
 */
import { SubjectId } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as Anthropic from "@baton/providers/Anthropic"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import * as HttpBody from "../src/HttpBody.ts"
import * as HttpQuota from "../src/HttpQuota.ts"
import { managerOver } from "./utils/manager.ts"
import * as Serve from "./utils/serve.ts"

const teacher = SubjectId.make("teacher-7")

const Manager = managerOver((server) => [
  Anthropic.layer({ apiKey: Redacted.make("sk-test"), baseUrl: server.baseUrl("anthropic") })
])

const Prompt = Schema.Struct({ prompt: Schema.String })

/** `POST /answer` reads the body up to `maxBytes` (the default when omitted) and asks the model. */
const answer = (path: `/${string}`, options?: HttpBody.Options) =>
  HttpRouter.add(
    "POST",
    path,
    HttpQuota.handler({ subject: { header: "x-teacher-id" } })((subjectId) =>
      Effect.gen(function*() {
        const { prompt } = yield* HttpBody.json(Prompt, options)
        const manager = yield* LlmManager.LlmManager
        const result = yield* manager.generate({ prompt, metadata: { subjectId } })
        return HttpServerResponse.jsonUnsafe({ content: result.content })
      })
    )
  )

/** The routes served by a Node server on a spare port; its URL. */
const serve = Serve.serve(Layer.merge(answer("/answer"), answer("/answer/small", { maxBytes: 64 })))

/** A JSON body of exactly `bytes` bytes: the prompt, then spaces. */
const bodyOf = (bytes: number) => JSON.stringify({ prompt: "Explain tides." }).padEnd(bytes, " ")

/** `body` as a stream: sent chunked, without a `Content-Length`. */
const chunked = (body: string): ReadableStream<Uint8Array> => new Blob([body]).stream()

const post = (url: string, body: string | ReadableStream<Uint8Array>) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-teacher-id": teacher },
      body,
      duplex: "half"
    })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

/** What the teacher has spent today and how many calls reached the provider. */
const spent = Effect.gen(function*() {
  const quota = yield* QuotaLimiter.QuotaLimiter
  const server = yield* MockProviderServer.MockProviderServer
  return { used: (yield* quota.remaining(teacher)).used, calls: (yield* server.received("anthropic")).length }
})

describe("HttpBody over HTTP", () => {
  it.live("a body over the default 1 MiB is a 413 Problem Details, by Content-Length or chunked", () =>
    Effect.gen(function*() {
      const url = `${yield* serve}/answer`
      const over = bodyOf(HttpBody.defaultMaxBytes + 1)
      for (const body of [over, chunked(over)]) {
        const reply = yield* post(url, body)
        assert.strictEqual(reply.status, 413, reply.text)
        assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
        const problem = JSON.parse(reply.text) as Record<string, unknown>
        assert.deepStrictEqual([problem["type"], problem["status"], problem["maxBytes"]], [
          "urn:baton:problem:BodyTooLarge",
          413,
          1_048_576
        ])
      }
      assert.deepStrictEqual(yield* spent, { used: 0, calls: 0 })
    }).pipe(Effect.scoped, Effect.provide(Manager)))

  it.live("the default limit is inclusive: exactly 1 MiB is served, by Content-Length or chunked, a byte more is not", () =>
    Effect.gen(function*() {
      const url = `${yield* serve}/answer`
      const full = bodyOf(HttpBody.defaultMaxBytes)
      for (const body of [full, chunked(full)]) {
        const reply = yield* post(url, body)
        assert.strictEqual(reply.status, 200, reply.text)
      }
      assert.strictEqual((yield* post(url, chunked(bodyOf(HttpBody.defaultMaxBytes + 1)))).status, 413)
      assert.deepStrictEqual(yield* spent, { used: 2, calls: 2 })
    }).pipe(Effect.scoped, Effect.provide(Manager)))

  it.live("maxBytes sets the limit", () =>
    Effect.gen(function*() {
      const url = `${yield* serve}/answer/small`
      assert.strictEqual((yield* post(url, bodyOf(64))).status, 200)
      for (const body of [bodyOf(65), chunked(bodyOf(65))]) {
        const reply = yield* post(url, body)
        assert.strictEqual(reply.status, 413, reply.text)
        assert.strictEqual((JSON.parse(reply.text) as Record<string, unknown>)["maxBytes"], 64)
      }
      assert.deepStrictEqual(yield* spent, { used: 1, calls: 1 })
    }).pipe(Effect.scoped, Effect.provide(Manager)))
})
