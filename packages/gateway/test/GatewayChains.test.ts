/**
 * A client cannot make the gateway hold unbounded state by naming ever new
 * chains (`model` plus up to 8 `fallbacks`: millions of orderings of a few
 * configured models): each provider/model gets one provider client, shared
 * by every chain, and the managers of chains asked for by requests are
 * kept for the most recently used `maxRequestChains` only (aliases always).
 * An evicted manager still serving a call stays until that call ends.
 * Circuits stay per provider/model, shared by every chain's manager. What
 * the gateway holds is read from its `/metrics`.
 */
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Fiber, Layer, Schema } from "effect"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"
import { maxRequestChains } from "../src/internal/chains.ts"
import * as Fixture from "./fixture.ts"

const gatedKey = "gw-gated-key"
const gatedSubject = "teacher-gated"

/** The gated subject's next reservation has reached the store; the test lets it go on. */
const reached = Deferred.makeUnsafe<undefined>()
const release = Deferred.makeUnsafe<undefined>()

/** The memory store, holding the gated subject's first reservation until {@link release}. */
const gatedStore = Layer.effect(
  QuotaLimiter.QuotaStore,
  Effect.map(QuotaLimiter.makeStoreMemory, (store) => {
    let held = false
    return QuotaLimiter.QuotaStore.of({
      ...store,
      reserve: (options) =>
        options.key.subjectId !== gatedSubject || held
          ? store.reserve(options)
          : Effect.suspend(() => {
            held = true
            return Deferred.succeed(reached, undefined).pipe(
              Effect.andThen(Deferred.await(release)),
              Effect.andThen(store.reserve(options))
            )
          })
    })
  })
)

const models = {
  openai: ["gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"],
  deepseek: ["deepseek-flash", "deepseek-pro"]
}
const steps = Object.entries(models).flatMap(([provider, names]) => names.map((name) => `${provider}/${name}`))

const configFile = (mock: MockProviderServer.MockProviderServer["Service"]) => ({
  providers: {
    openai: { baseUrl: mock.baseUrl("openai"), models: models.openai },
    deepseek: { baseUrl: mock.baseUrl("deepseek"), models: models.deepseek }
  },
  models: { fast: ["openai/gpt-4o-mini", "deepseek/deepseek-flash"] },
  keys: [
    { sha256: GatewayConfig.hashKey(Fixture.clientKey), subject: "teacher-1" },
    { sha256: GatewayConfig.hashKey(gatedKey), subject: gatedSubject }
  ]
})

// the first failure opens a circuit (for 30 s)
const environment = { LLM_CIRCUIT_FAILURE_THRESHOLD: "1" }

const TestLayer = Layer.unwrap(Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const config = yield* GatewayConfig.parse(JSON.stringify(configFile(mock)), "json")
  return Gateway.layer(config, { port: 0 })
})).pipe(
  Layer.provideMerge(Fixture.services({ quotaStore: gatedStore, environment })),
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ...Fixture.environment, ...environment }))),
  Layer.provideMerge(MockProviderServer.layer())
)

/** Every ordering of 1 to 3 distinct configured models: `[model, ...fallbacks]`. */
const chains: ReadonlyArray<ReadonlyArray<string>> = (() => {
  const out: Array<ReadonlyArray<string>> = []
  const grow = (chain: ReadonlyArray<string>) => {
    if (chain.length > 0) out.push(chain)
    if (chain.length === 3) return
    for (const step of steps) if (!chain.includes(step)) grow([...chain, step])
  }
  grow([])
  return out
})()

const Answer = Schema.Struct({ model: Schema.String })

/** Asks `chain` (its first model, the rest as `fallbacks`); the model that answered. */
const ask = (url: string, chain: ReadonlyArray<string>, key = Fixture.clientKey) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: chain[0], fallbacks: chain.slice(1), messages: [{ role: "user", content: "hi" }] })
    })
    const text = await response.text()
    assert.strictEqual(response.status, 200, text)
    return Schema.decodeUnknownSync(Answer)(JSON.parse(text)).model
  })

const askAll = (url: string, some: ReadonlyArray<ReadonlyArray<string>>) =>
  Effect.forEach(some, (chain) => ask(url, chain), { discard: true })

/** The value of a gauge in the gateway's `/metrics`. */
const gauge = (url: string, name: string) =>
  Effect.promise(async () => {
    const text = await fetch(`${url}/metrics`).then((response) => response.text())
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)
    assert.isNotNull(match, `${name} in:\n${text}`)
    return Number(match[1])
  })

const managers = (url: string) => gauge(url, "baton_gateway_chain_managers")

const aliases = 1

layer(TestLayer, { excludeTestServices: true })("Gateway chains: bounded managers, shared providers", (it) => {
  it.effect("ever new chains: one provider client per provider/model, the recent chains' managers only", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      assert.isAbove(chains.length, 2 * maxRequestChains + 20)
      yield* askAll(url, chains.slice(0, maxRequestChains + 16))
      assert.strictEqual(yield* managers(url), aliases + maxRequestChains)
      assert.strictEqual(yield* gauge(url, "baton_gateway_provider_clients"), steps.length)
    }))

  it.effect("a call in flight on an evicted chain's manager finishes; the manager goes when it ends", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const first = maxRequestChains + 16
      const held = chains[first] ?? assert.fail("no chain")
      const call = yield* Effect.forkChild(ask(url, held, gatedKey))
      yield* Deferred.await(reached) // its manager is leased, its quota reservation waits
      // as many new chains as the cache holds: the held chain is the least recently used
      yield* askAll(url, chains.slice(first + 1, first + 1 + maxRequestChains))
      assert.strictEqual(yield* managers(url), aliases + maxRequestChains + 1)

      yield* Deferred.succeed(release, undefined)
      assert.strictEqual(yield* Fiber.join(call), held[0])
      assert.strictEqual(yield* managers(url), aliases + maxRequestChains)
      assert.strictEqual(yield* gauge(url, "baton_gateway_provider_clients"), steps.length)
    }))

  it.effect("circuits stay per provider/model: a circuit one chain opened is open for another chain", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.status(500))
      assert.strictEqual(yield* ask(url, ["openai/gpt-4.1-nano", "deepseek/deepseek-pro"]), "deepseek/deepseek-pro")
      // every chain of the cache since, so that the next one's manager is surely built anew
      yield* askAll(url, chains.filter((chain) => !chain.includes("openai/gpt-4.1-nano")).slice(0, maxRequestChains))
      yield* mock.reset
      const next = yield* ask(url, ["openai/gpt-4.1-nano", "openai/gpt-4.1-mini", "deepseek/deepseek-flash"])
      assert.strictEqual(next, "openai/gpt-4.1-mini")
      const asked = (yield* mock.received("openai")).map((request) =>
        Schema.decodeUnknownSync(Answer)(request.body).model
      )
      assert.deepStrictEqual(asked, ["gpt-4.1-mini"])
    }))
})
