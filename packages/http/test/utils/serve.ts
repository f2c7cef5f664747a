/**
 * Routes served by a real Node server on a spare port, over the manager and
 * quota of the test's context.
 */
import type * as LlmManager from "@baton/core/LlmManager"
import type * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Context, Effect, Layer, type Scope } from "effect"
import { type HttpPlatform, HttpRouter, HttpServer, type HttpServerError } from "effect/http"

/** Routes that may require the manager and the quota, and global middleware the platform (compression). */
type Routes = Layer.Layer<
  never,
  never,
  | HttpRouter.HttpRouter
  | HttpRouter.Request<"Requires", LlmManager.LlmManager>
  | HttpRouter.Request<"Requires", QuotaLimiter.QuotaLimiter>
  | HttpRouter.Request<"GlobalRequires", HttpPlatform.HttpPlatform>
>

/** Serves `routes` until the scope closes; its base URL (`http://127.0.0.1:port`). */
export const serve = (
  routes: Routes
): Effect.Effect<string, HttpServerError.ServeError, Scope.Scope | LlmManager.LlmManager | QuotaLimiter.QuotaLimiter> =>
  Effect.gen(function*() {
    const services = yield* Effect.context<LlmManager.LlmManager | QuotaLimiter.QuotaLimiter>()
    const server = yield* Layer.build(
      HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layerTest),
        Layer.provide(Layer.succeedContext(services))
      )
    )
    return HttpServer.formatAddress(Context.get(server, HttpServer.HttpServer).address)
  })
