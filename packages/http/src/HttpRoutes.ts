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
 * A path with a route for every method (`"*"`) is left to it, and so are the
 * methods a route on the path `"*"` serves.
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
import { HttpMethod, HttpRouter, HttpServerResponse, ProblemDetails } from "effect/http"

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
 * The methods the routes serve on each path (`"*"`: every path no route
 * names). A route on `/x/*` serves `/x` too, where the router adds it, and so
 * does a route the fallbacks add on `/x/*`: the two paths are one, with the
 * methods of both.
 */
const servedPaths = (routes: ReadonlyArray<Served>): Map<HttpRouter.PathInput, Set<string>> => {
  const served = new Map<HttpRouter.PathInput, Set<string>>([["*", new Set()]])
  for (const route of routes) {
    const path = route.path === "/*" ? "*" : route.path
    served.set(path, (served.get(path) ?? new Set()).add(route.method))
  }
  for (const [path, methods] of served) {
    const base = path.endsWith("/*") ? path.slice(0, -2) as HttpRouter.PathInput : undefined
    if (base === undefined || !served.has(base)) continue
    for (const method of served.get(base) ?? []) methods.add(method)
    served.delete(base)
  }
  return served
}

/** A route for each method no route serves on each path. */
const unserved = (routes: ReadonlyArray<Served>): Array<HttpRouter.Route> =>
  [...servedPaths(routes)].flatMap(([path, methods]) => {
    if (methods.has("*")) return []
    const response = methods.size === 0 ? notFound : methodNotAllowed(allowOf(methods))
    return answered.filter((method) => !methods.has(method)).map((method) => HttpRouter.route(method, path, response))
  })

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
