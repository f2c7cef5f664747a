/**
 * A service's routes, with Problem Details (`application/problem+json`,
 * RFC 9457's `about:blank` type) for the requests none of them serves, which
 * `effect/http`'s router alone answers with an empty 404:
 *
 * - a path no route serves: 404 `Not Found`;
 * - a path the routes serve, asked with another method: 405 `Method Not
 *   Allowed`, with `Allow` listing the path's methods (`HEAD` with `GET`:
 *   the router answers a `HEAD` as the `GET` of its path).
 *
 * Only a request no route of its method matches gets either, so a route with
 * a parameter (`GET /items/:id`) still serves a static path beside it that
 * other methods serve (`POST /items/search`), and `Allow` names every method
 * whose routes match the path, by parameter or wildcard too (matched with the
 * router's default configuration). A path with a route for every method
 * (`"*"`) is left to it, and so are the methods a route on the path `"*"`
 * serves.
 *
 * @example
 * ```ts
 * import * as HttpRoutes from "@baton/http/HttpRoutes"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 *
 * // `GET /healthz` is served; `POST /healthz` is a 405 with `Allow: GET, HEAD`; `GET /nope` a 404
 * const Routes = HttpRoutes.layer([
 *   HttpRouter.route("GET", "/healthz", HttpServerResponse.text("ok"))
 * ])
 * ```
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { FindMyWay, HttpMethod, HttpRouter, HttpServerRequest, HttpServerResponse, ProblemDetails } from "effect/http"

/** Every method a path answers for itself; a `HEAD` goes to the path's `GET`. */
const answered = [...HttpMethod.all].filter((method) => method !== "HEAD")

const notFound = ProblemDetails.toResponse({
  type: ProblemDetails.blankType,
  status: 404,
  title: "Not Found",
  detail: "No resource at this path."
})

const methodNotAllowed = (allow: string) =>
  ProblemDetails.toResponse({
    type: ProblemDetails.blankType,
    status: 405,
    title: "Method Not Allowed",
    detail: `This path serves ${allow}.`
  }).pipe(HttpServerResponse.setHeader("Allow", allow))

/** The `Allow` of a path whose routes serve `methods`. */
const allowOf = (methods: ReadonlySet<string>): string =>
  [...HttpMethod.all].filter((method) => methods.has(method) || (method === "HEAD" && methods.has("GET"))).join(", ")

/** What `layer` reads of a route. */
type Served = Pick<HttpRouter.Route, "method" | "path">

type ErrorOf<T> = T extends HttpRouter.Route<infer E, unknown> ? E : never

type ContextOf<T> = T extends HttpRouter.Route<unknown, infer R> ? R : never

/**
 * The methods the routes serve at a URL, matched as the router matches them:
 * a parameter or a wildcard serves the static paths beside it too, and a
 * route on `/x/*` serves `/x`.
 */
const servedAt = (routes: ReadonlyArray<Served>): (url: string) => Set<string> => {
  const router = FindMyWay.make<true>()
  for (const route of routes) {
    // as the router adds them
    const paths = route.path.endsWith("/*") ? [route.path, route.path.slice(0, -2)] : [route.path]
    for (const path of paths as Array<HttpRouter.PathInput>) {
      if (route.method === "*") router.all(path, true)
      else router.on(route.method, path, true)
    }
  }
  return (url) => new Set(answered.filter((method) => router.find(method, url) !== undefined))
}

/**
 * A route on every path for each method no route serves on every path: the
 * router reaches it only when no route of that method matches, and it answers
 * a 404, or a 405 with the methods that do.
 */
const unserved = (routes: ReadonlyArray<Served>): Array<HttpRouter.Route> => {
  const everywhere = new Set(routes.filter((route) => route.path === "*" || route.path === "/*").map((r) => r.method))
  if (everywhere.has("*")) return []
  const methodsAt = servedAt(routes)
  const response = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
    const methods = methodsAt(request.url)
    return methods.size === 0 ? notFound : methodNotAllowed(allowOf(methods))
  })
  return answered.filter((method) => !everywhere.has(method)).map((method) => HttpRouter.route(method, "*", response))
}

/**
 * Adds `routes` to the router, and a 404 or 405 Problem Details for every
 * request they do not serve.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <const Routes extends ReadonlyArray<Served>>(
  // typed by what is read, so a route of a plain response keeps `never` for its error and requirements
  routes: Routes & ReadonlyArray<HttpRouter.Route<ErrorOf<Routes[number]>, ContextOf<Routes[number]>>>
) => HttpRouter.addAll([...routes, ...unserved(routes)])
