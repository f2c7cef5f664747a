/**
 * The gateway's routes as an OpenAI client sees them: `GET /v1/models/{id}`
 * answers the model object of the list (the openai SDK's `models.retrieve`
 * sends the id's `/` as `%2F`, `curl` may send it raw) or OpenAI's 404
 * `model_not_found`; any other route is a 404 with an OpenAI error body.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
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
})
