/**
 * The gateway's routes as an OpenAI client sees them: `GET /v1/models/{id}`
 * answers the model object of the list (the openai SDK's `models.retrieve`
 * sends the id's `/` as `%2F`, `curl` may send it raw) or OpenAI's 404
 * `model_not_found`; any other route is a 404 with an OpenAI error body, a
 * served path asked with another method (one no route uses too) a 405 with
 * `Allow`, and a path with a malformed percent escape a 400, each with an
 * OpenAI error body.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { request } from "node:http"
import OpenAI from "openai"
import * as Fixture from "./fixture.ts"

const TestLayer = Fixture.gatewayWithMock()

const decodeError = Schema.decodeUnknownSync(Fixture.ErrorResponse)

/** A GET of `path` on the gateway with the test subject's key (or none: `null`). */
const get = (url: string, path: string, key: string | null = Fixture.clientKey) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}${path}`, {
      headers: key === null ? {} : { authorization: `Bearer ${key}` }
    })
    return { status: response.status, text: await response.text() }
  })

/** `method` of the raw `path` (sent as is, malformed escape and all) over `node:http`: status, `Allow`, content type, body. */
const send = (url: string, method: string, path: string) =>
  Effect.promise(() =>
    new Promise<{ status: number; allow: string | undefined; type: string | undefined; text: string }>(
      (resolve, reject) => {
        const sent = request(`${url}${path}`, { method }, (response) => {
          let text = ""
          response.setEncoding("utf8")
          response.on("data", (chunk: string) => text += chunk)
          response.on("end", () => {
            resolve({
              status: response.statusCode ?? 0,
              allow: response.headers["allow"],
              type: response.headers["content-type"],
              text
            })
          })
        })
        sent.on("error", reject)
        sent.end()
      }
    )
  )

layer(TestLayer, { excludeTestServices: true })("Gateway routes (models and unknown paths)", (it) => {
  it.effect("GET /v1/models/{id}: the model object of the list, by the SDK's models.retrieve and by a raw path", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const client = Fixture.client(url)
      const listed = yield* Effect.promise(() => client.models.list())
      for (const model of listed.data) {
        const retrieved = yield* Effect.promise(() => client.models.retrieve(model.id))
        assert.deepStrictEqual(retrieved, model)
      }
      const raw = yield* get(url, "/v1/models/openai/gpt-4o-mini")
      assert.strictEqual(raw.status, 200, raw.text)
      assert.deepStrictEqual(JSON.parse(raw.text), {
        id: "openai/gpt-4o-mini",
        owned_by: "openai",
        object: "model",
        created: 0
      })
      assert.strictEqual((yield* get(url, "/v1/models/fast", null)).status, 401)
    }))

  it.effect("GET /v1/models/{id} of an unknown model: OpenAI's 404 model_not_found", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const thrown = yield* Effect.promise(() =>
        Fixture.client(url).models.retrieve("openai/gpt-5").then(() => undefined, (error: unknown) => error)
      )
      assert.instanceOf(thrown, OpenAI.NotFoundError)
      const response = yield* get(url, "/v1/models/openai/gpt-5")
      assert.strictEqual(response.status, 404, response.text)
      const { error } = decodeError(JSON.parse(response.text))
      assert.strictEqual(error.code, "model_not_found")
      assert.strictEqual(error.type, "invalid_request_error")
      assert.strictEqual(error.param, "model")
      assert.include(error.message, "openai/gpt-5")
    }))

  it.effect("an unknown route: a 404 with an OpenAI error body naming it", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const response = yield* get(url, "/v1/embeddingz")
      assert.strictEqual(response.status, 404, response.text)
      const { error } = decodeError(JSON.parse(response.text))
      assert.strictEqual(error.type, "invalid_request_error")
      assert.strictEqual(error.code, "unknown_url")
      assert.include(error.message, "GET /v1/embeddingz")
      const posted = yield* Effect.promise(() =>
        Fixture.client(url).embeddings.create({ model: "fast", input: "hi" }).then(
          () => undefined,
          (error: unknown) => error
        )
      )
      assert.instanceOf(posted, OpenAI.NotFoundError)
      // a HEAD is still answered as its path's GET
      const head = (path: string) =>
        Effect.promise(() => fetch(`${url}${path}`, { method: "HEAD" }).then((response) => response.status))
      assert.strictEqual(yield* head("/healthz"), 200)
      assert.strictEqual(yield* head("/nowhere"), 404)
    }))
  it.effect("a served path asked with another method: a 405 with Allow and an OpenAI error body", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const cases = [
        ["PROPFIND", "/v1/chat/completions", "POST"],
        ["TRACE", "/v1/chat/completions", "POST"],
        ["QUERY", "/v1/chat/completions", "POST"],
        ["GET", "/v1/chat/completions", "POST"],
        ["DELETE", "/v1/models/fast", "GET, HEAD"],
        ["POST", "/healthz", "GET, HEAD"]
      ] as const
      for (const [method, path, allow] of cases) {
        const response = yield* send(url, method, path)
        assert.strictEqual(response.status, 405, `${method} ${path}: ${response.text}`)
        assert.strictEqual(response.allow, allow, `${method} ${path}`)
        assert.include(response.type, "application/json")
        const { error } = decodeError(JSON.parse(response.text))
        assert.deepStrictEqual(
          { type: error.type, code: error.code, param: error.param },
          { type: "invalid_request_error", code: "method_not_allowed", param: null }
        )
        assert.include(error.message, `${method} ${path}`)
        assert.include(error.message, allow)
      }
      // a method no route uses on a path none serves is still OpenAI's 404
      const unknown = yield* send(url, "PROPFIND", "/v1/embeddingz")
      assert.strictEqual(unknown.status, 404, unknown.text)
      assert.strictEqual(decodeError(JSON.parse(unknown.text)).error.code, "unknown_url")
    }))

  it.effect("a path with a malformed percent escape: a 400 with an OpenAI error body", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      for (const path of ["/v1/models/%ZZ", "/v1/chat/completions%ZZ", "/%ZZ", "/v1/models/%E0%A4%A"]) {
        for (const method of ["GET", "POST"]) {
          const response = yield* send(url, method, path)
          assert.strictEqual(response.status, 400, `${method} ${path}: ${response.text}`)
          assert.include(response.type, "application/json")
          const { error } = decodeError(JSON.parse(response.text))
          assert.deepStrictEqual(
            { type: error.type, code: error.code, param: error.param },
            { type: "invalid_request_error", code: "invalid_url", param: null }
          )
          assert.include(error.message, "malformed percent escape")
        }
      }
    }))
})
