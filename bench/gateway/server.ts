/**
 * The gateway of `bench/gateway.ts`, in its own process so that its CPU and
 * memory can be read from `/proc/<pid>`: `baton serve`'s defaults (memory
 * quota, SQLite ledger in a temporary directory, JSON request log on stdout)
 * over one provider, the mock server at `argv[2]`, for the client key
 * `argv[3]`, on a free port it announces on stderr (`gateway on <url>`).
 * (`@baton/gateway` is imported by path: the bench package does not list it.)
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { ConfigProvider, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Gateway from "../../packages/gateway/src/Gateway.ts"
import * as GatewayConfig from "../../packages/gateway/src/GatewayConfig.ts"

const [mockUrl = "", clientKey = ""] = process.argv.slice(2)

const environment = {
  LLM_PRIMARY_PROVIDER: "openai",
  LLM_FALLBACK_PROVIDER: "deepseek",
  OPENAI_API_KEY: "sk-bench-openai",
  DEEPSEEK_API_KEY: "sk-bench-deepseek",
  OPENAI_BASE_URL: `${mockUrl}/openai/v1`,
  DEEPSEEK_BASE_URL: `${mockUrl}/deepseek`,
  AI_DAILY_LIMIT_PER_TEACHER: "1000000000",
  LLM_USAGE_STORE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), "baton-bench-gateway-")), "usage.sqlite")}`
}

const config = {
  providers: { openai: { baseUrl: `${mockUrl}/openai/v1`, models: ["gpt-4o-mini"] } },
  models: { bench: ["openai/gpt-4o-mini"] },
  keys: [{ sha256: GatewayConfig.hashKey(clientKey), subject: "bench-teacher" }]
}

const announce = Layer.effectDiscard(
  HttpServer.HttpServer.use((server) =>
    Effect.sync(() => process.stderr.write(`gateway on ${HttpServer.formatAddress(server.address)}\n`))
  )
)

GatewayConfig.parse(JSON.stringify(config), "json").pipe(
  Effect.flatMap((checked) =>
    Layer.launch(
      announce.pipe(Layer.provideMerge(Gateway.layer(checked, { port: 0 })), Layer.provide(Gateway.layerDefaults))
    )
  ),
  Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(environment))),
  NodeRuntime.runMain
)
