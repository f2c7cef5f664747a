/**
 * `HttpRoutes.layer` over a real Node server: a path no route serves is a 404
 * Problem Details, a served path asked with another method a 405 Problem
 * Details with `Allow`, a path with a malformed percent escape a 400 Problem
 * Details, where the router alone answers an empty 404; the routes themselves
 * answer as before. `Options.respond` shapes those answers (a 405 keeps its
 * `Allow`), and `refusals` refuses for routes added another way, under their
 * prefix.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { type FindMyWay, HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as HttpRoutes from "../src/HttpRoutes.ts"

const Routes = HttpRoutes.layer([
  HttpRouter.route("GET", "/healthz", HttpServerResponse.text("ok")),
  HttpRouter.route("POST", "/v1/items", HttpServerResponse.text("made")),
  HttpRouter.route("GET", "/v1/items/:id", HttpServerResponse.text("item")),
  // a static path beside a parameter: `GET /v1/items/search` is still the item route's
  HttpRouter.route("POST", "/v1/items/search", HttpServerResponse.text("searched")),
  HttpRouter.route("DELETE", "/v1/items/:id", HttpServerResponse.text("gone")),
  HttpRouter.route("*", "/v1/anything", HttpServerResponse.text("any")),
  // the router serves `/v1/models` too with this one
  HttpRouter.route("GET", "/v1/models/*", HttpServerResponse.text("models")),
  HttpRouter.route("POST", "/v1/models", HttpServerResponse.text("added"))
])

/** Routes under the prefix `/api/v2`; the item route answers the URL its handler sees. */
const Prefixed = HttpRoutes.layer([
  HttpRouter.route("GET", "/healthz", HttpServerResponse.text("ok")),
  HttpRouter.route(
    "GET",
    "/items/:id",
    Effect.map(HttpServerRequest.HttpServerRequest, (request) => HttpServerResponse.text(request.url))
  ),
  HttpRouter.route("POST", "/items", HttpServerResponse.text("made")),
  HttpRouter.route("GET", "/files/*", HttpServerResponse.text("files"))
], { prefix: "/api/v2/" })

/** The status `respond` gives each refusal in `Shaped`. */
const shapedStatus = { MalformedPath: 400, MethodNotAllowed: 405, NotFound: 404 } as const

/** Two routes whose refusals `respond` answers with a JSON body of its own, naming the refusal and the request. */
const Shaped = HttpRoutes.layer([
  HttpRouter.route("GET", "/healthz", HttpServerResponse.text("ok")),
  HttpRouter.route("POST", "/v1/items", HttpServerResponse.text("made"))
], {
  respond: (refusal, request) =>
    HttpServerResponse.jsonUnsafe({ refused: refusal, method: request.method }, { status: shapedStatus[refusal._tag] })
})

/** Two routes added under `prefix` by the router itself, and `refusals` of them under the same `prefix` beside. */
const refusedUnder = (prefix: string | undefined) => {
  const routes = [
    HttpRouter.route("GET", "/healthz", HttpServerResponse.text("ok")),
    HttpRouter.route("POST", "/items", HttpServerResponse.text("made"))
  ]
  return Layer.merge(HttpRouter.addAll(routes, { prefix }), HttpRoutes.refusals(routes, { prefix }))
}

/** `routes` (`Routes` by default) on a Node server on a spare port, under the router's `config` (its defaults unless told); its URL. */
const serveWith = (
  config: Partial<FindMyWay.RouterConfig>,
  routes: Layer.Layer<never, never, HttpRouter.HttpRouter> = Routes
) =>
  Effect.map(
    Layer.build(
      HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layerTest),
        Layer.provide(Layer.succeed(HttpRouter.RouterConfig)(config))
      )
    ),
    (context) => HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
  )

const serve = serveWith({})

const send = (url: string, method: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, { method })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

/** The status, `Allow` and Problem Details of a refused request. */
const refusal = (url: string, method: string) =>
  Effect.map(send(url, method), (reply) => ({
    status: reply.status,
    allow: reply.headers.get("allow"),
    contentType: reply.headers.get("content-type"),
    problem: reply.text === "" ? undefined : JSON.parse(reply.text) as Record<string, unknown>
  }))

/** Each `[method, path, text]` is answered 200 with `text`. */
const assertServed = (url: string, cases: ReadonlyArray<readonly [string, string, string]>) =>
  Effect.forEach(cases, ([method, path, text]) =>
    Effect.map(send(`${url}${path}`, method), (reply) => {
      assert.deepStrictEqual([reply.status, reply.text], [200, text], `${method} ${path}`)
    }), { discard: true })

/** Each `[method, path, status, allow]` is refused with `status` and `allow`, as Problem Details. */
const assertRefused = (url: string, cases: ReadonlyArray<readonly [string, string, number, string | null]>) =>
  Effect.forEach(cases, ([method, path, status, allow]) =>
    Effect.map(refusal(`${url}${path}`, method), (answer) => {
      const expected = [status, allow, "application/problem+json"]
      assert.deepStrictEqual([answer.status, answer.allow, answer.contentType], expected, `${method} ${path}`)
    }), { discard: true })

describe("HttpRoutes over HTTP", () => {
  it.live("a path no route serves is a 404 Problem Details, whatever the method", () =>
    Effect.gen(function*() {
      const url = yield* serve
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
        for (const path of ["/nope", "/", "/v1/items/7/parts", "/healthz/deep"]) {
          assert.deepStrictEqual(yield* refusal(`${url}${path}`, method), {
            status: 404,
            allow: null,
            contentType: "application/problem+json",
            problem: { type: "about:blank", status: 404, title: "Not Found", detail: "No resource at this path." }
          }, `${method} ${path}`)
        }
      }
      const head = yield* refusal(`${url}/nope`, "HEAD")
      assert.deepStrictEqual([head.status, head.contentType], [404, "application/problem+json"])
    }).pipe(Effect.scoped))

  it.live("a served path asked with another method is a 405 Problem Details with Allow", () =>
    Effect.gen(function*() {
      const url = yield* serve
      const cases = [
        ["GET", "/v1/items", "POST"],
        ["DELETE", "/v1/items", "POST"],
        ["HEAD", "/v1/items", "POST"],
        ["POST", "/healthz", "GET, HEAD"],
        ["PUT", "/v1/items/7", "GET, DELETE, HEAD"],
        ["PUT", "/v1/models", "GET, POST, HEAD"],
        ["PUT", "/v1/items/search", "GET, POST, DELETE, HEAD"]
      ] as const
      for (const [method, path, allow] of cases) {
        const answer = yield* refusal(`${url}${path}`, method)
        assert.deepStrictEqual([answer.status, answer.allow, answer.contentType], [
          405,
          allow,
          "application/problem+json"
        ], `${method} ${path}`)
        if (method === "HEAD") continue
        assert.deepStrictEqual(answer.problem, {
          type: "about:blank",
          status: 405,
          title: "Method Not Allowed",
          detail: `This path serves ${allow}.`
        })
      }
    }).pipe(Effect.scoped))

  it.live("a request the router cannot route is a Problem Details too: a method no route uses, a malformed percent escape", () =>
    Effect.gen(function*() {
      const url = yield* serve
      const cases = [
        ["PROPFIND", "/healthz", 405, "GET, HEAD", "Method Not Allowed", "This path serves GET, HEAD."],
        ["PROPFIND", "/nope", 404, null, "Not Found", "No resource at this path."],
        ["GET", "/v1/%E0%A4%A", 400, null, "Bad Request", "The path has a malformed percent escape."],
        ["GET", "/v1/items/%ZZ", 400, null, "Bad Request", "The path has a malformed percent escape."],
        ["POST", "/v1/items/%ZZ?q=1", 400, null, "Bad Request", "The path has a malformed percent escape."]
      ] as const
      for (const [method, path, status, allow, title, detail] of cases) {
        assert.deepStrictEqual(yield* refusal(`${url}${path}`, method), {
          status,
          allow,
          contentType: "application/problem+json",
          problem: { type: "about:blank", status, title, detail }
        }, `${method} ${path}`)
      }
      // a malformed escape in the query alone leaves the path to its route
      const reply = yield* send(`${url}/healthz?q=%ZZ`, "GET")
      assert.deepStrictEqual([reply.status, reply.text], [200, "ok"])
    }).pipe(Effect.scoped))

  it.live("the routes answer as before: HEAD as GET, a route for every method keeps its path, a wildcard its base, a parameter the static paths beside it", () =>
    Effect.gen(function*() {
      const url = yield* serve
      const cases = [
        ["GET", "/healthz", "ok"],
        ["HEAD", "/healthz", ""],
        ["POST", "/v1/items", "made"],
        ["GET", "/v1/items/7", "item"],
        ["GET", "/v1/items/search", "item"],
        ["DELETE", "/v1/items/search", "gone"],
        ["POST", "/v1/items/search", "searched"],
        ["DELETE", "/v1/items/7", "gone"],
        ["PATCH", "/v1/anything", "any"],
        ["OPTIONS", "/v1/anything", "any"],
        ["GET", "/v1/models", "models"],
        ["GET", "/v1/models/m-1", "models"],
        ["POST", "/v1/models", "added"]
      ] as const
      yield* assertServed(url, cases)
    }).pipe(Effect.scoped))

  it.live("Allow is matched under the router's RouterConfig: a trailing slash kept, case kept, a longer parameter", () =>
    Effect.gen(function*() {
      const url = yield* serveWith({ ignoreTrailingSlash: false, caseSensitive: true, maxParamLength: 300 })
      const long = "x".repeat(200)
      yield* assertRefused(url, [
        ["POST", "/healthz/", 404, null],
        ["GET", "/healthz/", 404, null],
        ["POST", "/HEALTHZ", 404, null],
        ["PUT", "/v1/items/7/", 404, null],
        ["PUT", `/v1/items/${long}`, 405, "GET, DELETE, HEAD"]
      ])
      yield* assertServed(url, [["GET", `/v1/items/${long}`, "item"]])
    }).pipe(Effect.scoped))

  it.live("routes under a prefix: served there, refused elsewhere; Allow names the prefixed paths' methods", () =>
    Effect.gen(function*() {
      const url = yield* serveWith({}, Prefixed)
      yield* assertServed(url, [
        ["GET", "/api/v2/healthz", "ok"],
        ["GET", "/api/v2/items/7?full=1", "/items/7?full=1"],
        ["POST", "/api/v2/items", "made"],
        ["GET", "/api/v2/files", "files"],
        ["GET", "/api/v2/files/a/b", "files"]
      ])
      yield* assertRefused(url, [
        ["GET", "/healthz", 404, null],
        ["GET", "/api/healthz", 404, null],
        ["POST", "/api/v2/healthz", 405, "GET, HEAD"],
        ["GET", "/api/v2/items", 405, "POST"],
        ["DELETE", "/api/v2/items/7", 405, "GET, HEAD"],
        ["POST", "/api/v2/files/a", 405, "GET, HEAD"]
      ])
    }).pipe(Effect.scoped))

  it.live("respond shapes the body of every refusal, and a 405 keeps its Allow", () =>
    Effect.gen(function*() {
      const url = yield* serveWith({}, Shaped)
      const cases = [
        ["POST", "/healthz", 405, "GET, HEAD", { _tag: "MethodNotAllowed", allow: "GET, HEAD" }],
        ["GET", "/v1/items", 405, "POST", { _tag: "MethodNotAllowed", allow: "POST" }],
        ["GET", "/nope", 404, null, { _tag: "NotFound" }],
        ["GET", "/v1/%ZZ", 400, null, { _tag: "MalformedPath" }]
      ] as const
      for (const [method, path, status, allow, refused] of cases) {
        assert.deepStrictEqual(yield* refusal(`${url}${path}`, method), {
          status,
          allow,
          contentType: "application/json",
          problem: { refused, method }
        }, `${method} ${path}`)
      }
      yield* assertServed(url, [["GET", "/healthz", "ok"], ["POST", "/v1/items", "made"]])
    }).pipe(Effect.scoped))

  it.live("refusals, for routes added another way: Allow names their methods, under their prefix when given", () =>
    Effect.gen(function*() {
      const root = yield* serveWith({}, refusedUnder(undefined))
      yield* assertServed(root, [["GET", "/healthz", "ok"], ["POST", "/items", "made"]])
      yield* assertRefused(root, [
        ["POST", "/healthz", 405, "GET, HEAD"],
        ["GET", "/items", 405, "POST"],
        ["POST", "/api/v2/healthz", 404, null]
      ])
      const prefixed = yield* serveWith({}, refusedUnder("/api/v2"))
      yield* assertServed(prefixed, [["GET", "/api/v2/healthz", "ok"], ["POST", "/api/v2/items", "made"]])
      yield* assertRefused(prefixed, [
        ["POST", "/api/v2/healthz", 405, "GET, HEAD"],
        ["GET", "/api/v2/items", 405, "POST"],
        ["POST", "/healthz", 404, null],
        ["GET", "/api/v2/nope", 404, null]
      ])
    }).pipe(Effect.scoped))
})
