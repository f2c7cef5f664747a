/**
 * A service's routes, with Problem Details (`application/problem+json`,
 * RFC 9457's `about:blank` type) for the requests none of them serves, which
 * `effect/http`'s router alone answers with an empty 404:
 *
 * - a path no route serves: 404 `Not Found`;
 * - a path the routes serve, asked with another method (one no route uses,
 *   such as `PROPFIND`, too): 405 `Method Not Allowed`, with `Allow` listing
 *   the path's methods (`HEAD` with `GET`: the router answers a `HEAD` as the
 *   `GET` of its path);
 * - a path with a malformed percent escape (`/v1/%E0%A4%A`), which the router
 *   cannot decode: 400 `Bad Request`.
 *
 * Only a request no route of its method matches gets one (the router fails
 * it with `RouteNotFound`, which a global middleware answers), so a route with a
 * parameter (`GET /items/:id`) still serves a static path beside it that
 * other methods serve (`POST /items/search`), and `Allow` names every method
 * whose routes match the path, by parameter or wildcard too, matched under
 * the `HttpRouter.RouterConfig` in the layer's context, as the router matches
 * (`ignoreTrailingSlash`, `caseSensitive`, `maxParamLength`, ...). Provide a
 * non-default config as that reference around the whole server, not as
 * `HttpRouter.serve`'s `routerConfig` option, which reaches the router alone
 * (see the example). A path with a route for every method
 * (`"*"`) is left to it, and so are the methods a route on the path `"*"`
 * serves. The middleware is the router's, so it answers the requests that
 * routes added beside this layer do not serve too (their methods are not in
 * `Allow`). `Options.respond` shapes the answers otherwise (an
 * OpenAI-compatible service sends OpenAI's error body), and `refusals` adds
 * the middleware alone, for routes added another way.
 *
 * @example
 * ```ts
 * import * as HttpRoutes from "@baton/http/HttpRoutes"
 * import { Layer } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 *
 * // `GET /healthz` is served; `POST /healthz` is a 405 with `Allow: GET, HEAD`; `GET /nope` a 404
 * const Routes = HttpRoutes.layer([
 *   HttpRouter.route("GET", "/healthz", HttpServerResponse.text("ok"))
 * ])
 *
 * // a router that keeps a trailing slash: `POST /healthz/` is a 404, as `GET /healthz/` is
 * const Strict = HttpRouter.serve(Routes).pipe(
 *   Layer.provide(Layer.succeed(HttpRouter.RouterConfig)({ ignoreTrailingSlash: false }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import {
  FindMyWay,
  HttpMethod,
  HttpRouter,
  type HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
  ProblemDetails
} from "effect/http"

/** Every method a path answers for itself; a `HEAD` goes to the path's `GET`. */
const answered = [...HttpMethod.all].filter((method) => method !== "HEAD")

/**
 * A request the router finds no route for, as {@link refusals} tells it
 * apart: a path it cannot decode, a path the routes serve with other methods
 * (`allow`, the value of its `Allow`), or a path none serves.
 *
 * @since 0.1.0
 * @category models
 */
export type Refusal =
  | { readonly _tag: "MalformedPath" }
  | { readonly _tag: "MethodNotAllowed"; readonly allow: string }
  | { readonly _tag: "NotFound" }

const problems = {
  MalformedPath: { status: 400, title: "Bad Request", detail: "The path has a malformed percent escape." },
  NotFound: { status: 404, title: "Not Found", detail: "No resource at this path." }
} as const

/** A refusal as RFC 9457 Problem Details: the default of `Options.respond`. */
const problemOf = (refusal: Refusal): HttpServerResponse.HttpServerResponse =>
  ProblemDetails.toResponse({
    type: ProblemDetails.blankType,
    ...(refusal._tag === "MethodNotAllowed"
      ? { status: 405, title: "Method Not Allowed", detail: `This path serves ${refusal.allow}.` }
      : problems[refusal._tag])
  })

/** The `Allow` of a path whose routes serve `methods`. */
const allowOf = (methods: ReadonlySet<string>): string =>
  [...HttpMethod.all].filter((method) => methods.has(method) || (method === "HEAD" && methods.has("GET"))).join(", ")

/** What `layer` reads of a route. */
type Served = Pick<HttpRouter.Route, "method" | "path">

/** A route's method and its path as mounted (under a prefix, maybe). */
interface Mounted {
  readonly method: HttpRouter.Route["method"]
  readonly path: string
}

type ErrorOf<T> = T extends HttpRouter.Route<infer E, unknown> ? E : never

type ContextOf<T> = T extends HttpRouter.Route<unknown, infer R> ? R : never

/**
 * The methods the routes serve at a URL, matched as the router of `config`
 * matches them: a parameter or a wildcard serves the static paths beside it
 * too, and a route on `/x/*` serves `/x`.
 */
const servedAt = (
  routes: ReadonlyArray<Mounted>,
  config: Partial<FindMyWay.RouterConfig>
): (url: string) => Set<string> => {
  const router = FindMyWay.make<true>(config)
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
 * A path the router cannot decode: a `%` without two hex digits, or escapes
 * that are not UTF-8 (the path ends at `?`, `;` or `#`, as the router's does).
 */
const isMalformed = (url: string): boolean => {
  try {
    decodeURI(url.replace(/[?;#][\s\S]*/, ""))
    return false
  } catch {
    return true
  }
}

/** Which refusal a request the router found no route for gets. */
const refusalOf = (
  request: HttpServerRequest.HttpServerRequest,
  methodsAt: (url: string) => Set<string>
): Refusal => {
  if (isMalformed(request.url)) {
    return { _tag: "MalformedPath" }
  }
  const methods = methodsAt(request.url)
  const served = methods.has(request.method) || (request.method === "HEAD" && methods.has("GET"))
  return methods.size === 0 || served ? { _tag: "NotFound" } : { _tag: "MethodNotAllowed", allow: allowOf(methods) }
}

/**
 * Answers the requests the router finds no route for (it fails them with
 * `RouteNotFound`, whatever their method, so too when a route of the
 * request's method failed with it: a 404) with `respond`'s response to their
 * refusal, a 405 with its `Allow`.
 */
const refuse = (
  routes: ReadonlyArray<Mounted>,
  config: Partial<FindMyWay.RouterConfig>,
  respond: NonNullable<Options["respond"]>
) => {
  const methodsAt = servedAt(routes, config)
  return HttpRouter.middleware<{ handles: HttpServerError.HttpServerError }>()(
    (handler) =>
      Effect.catchReason(
        handler,
        "HttpServerError",
        "RouteNotFound",
        () =>
          Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
            const refusal = refusalOf(request, methodsAt)
            const response = respond(refusal, request)
            return refusal._tag === "MethodNotAllowed"
              ? HttpServerResponse.setHeader(response, "Allow", refusal.allow)
              : response
          })
      ),
    { global: true }
  )
}

/**
 * The options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * A path the routes are mounted under (`/api/v1`: the route `GET /healthz`
   * serves `GET /api/v1/healthz`), as `HttpRouter.addAll`'s `prefix`: a
   * trailing slash is dropped, and a handler sees the request's URL without
   * the prefix (`HttpServerRequest.url`; `originalUrl` keeps it).
   */
  readonly prefix?: string | undefined
  /**
   * The response to a request no route serves, by its refusal: a 400, 405
   * or 404 Problem Details unless told (an OpenAI-compatible service answers
   * OpenAI's error body). A 405 gets its `Allow` whatever the response.
   */
  readonly respond?:
    | ((refusal: Refusal, request: HttpServerRequest.HttpServerRequest) => HttpServerResponse.HttpServerResponse)
    | undefined
}

/** The routes as the router adds them under `prefix`. */
const mounted = (routes: ReadonlyArray<Served>, prefix: string | undefined): ReadonlyArray<Mounted> =>
  prefix === undefined || prefix === "" ? routes : routes.map((route) => ({
    method: route.method,
    path: HttpRouter.prefixPath(route.path, prefix)
  }))

/**
 * The refusals of {@link layer} alone, for routes added otherwise: the
 * router's answer (`options.respond`'s, Problem Details unless told) to every
 * request it finds no route for, with `Allow` naming the methods `routes`
 * serve at the path (each read for its method and path alone, under
 * `options.prefix` when given).
 *
 * @since 0.1.0
 * @category layers
 */
export const refusals = (
  routes: ReadonlyArray<Served>,
  options: Options = {}
): Layer.Layer<never, never, HttpRouter.HttpRouter> =>
  Layer.unwrap(
    Effect.map(
      HttpRouter.RouterConfig,
      (config) => refuse(mounted(routes, options.prefix), config, options.respond ?? problemOf)
    )
  )

/**
 * Adds `routes` to the router, under `options.prefix` when given, and a
 * 400, 404 or 405 Problem Details (or `options.respond`'s answer) for every
 * request the router finds no route for (matched under the
 * `HttpRouter.RouterConfig` in context).
 *
 * The refusals are the router's (a global middleware), so they answer
 * outside the prefix too, a path no route serves anywhere is a 404 there;
 * mount one `layer` per router: `Allow` names the methods of this layer's
 * routes alone, so a path another `layer` (another prefix) serves, asked
 * with a method it does not, is a 404 rather than a 405.
 *
 * @example
 * ```ts
 * import * as HttpRoutes from "@baton/http/HttpRoutes"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 *
 * // `GET /api/v1/healthz` is served; `POST /api/v1/healthz` a 405; `GET /healthz` a 404
 * const Routes = HttpRoutes.layer([
 *   HttpRouter.route("GET", "/healthz", HttpServerResponse.text("ok"))
 * ], { prefix: "/api/v1" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <const Routes extends ReadonlyArray<Served>>(
  // typed by what is read, so a route of a plain response keeps `never` for its error and requirements
  routes: Routes & ReadonlyArray<HttpRouter.Route<ErrorOf<Routes[number]>, ContextOf<Routes[number]>>>,
  options: Options = {}
) =>
  Layer.merge(
    HttpRouter.addAll(routes, { prefix: options.prefix }),
    refusals(routes, options)
  )
