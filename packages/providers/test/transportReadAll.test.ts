/**
 * The transport's whole-body read (`Transport.Response.readAll`, every plain
 * answer's), over the `ProviderHttpClient` dispatcher: a body whose bytes
 * were already waiting when the read began, past the high-water mark that
 * pauses the socket, comes whole (the socket resumed by the read hands the
 * rest at once, in the same turn).
 */
import * as LiveWait from "@baton/testing/LiveWait"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { HttpClient } from "effect/http"
import * as Transport from "../src/internal/transport.ts"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"

describe("Transport.Response.readAll", () => {
  it.live("a 300 kB body waiting past the high-water mark when the read begins comes whole", () =>
    Effect.gen(function*() {
      const size = 300_000
      const server = yield* RawServer.start({ body: "x".repeat(size), events: [] })
      const post = Transport.post(yield* HttpClient.HttpClient)
      const response = yield* post(server.url, "/", {}, "{}")
      // the body's bytes reach the client (and pause its socket) before the read
      yield* LiveWait.liveWait(50)
      const body = yield* response.readAll(10_000_000)
      assert.strictEqual(body?.length, size)
    }).pipe(Effect.provide(ProviderHttpClient.layer), Effect.scoped))
})
