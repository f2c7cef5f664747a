import * as UsageLedger from "@baton/core/UsageLedger"
import * as RedisQuotaStore from "@baton/redis/RedisQuotaStore"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, DateTime, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { randomUUID } from "node:crypto"
import * as Fixture from "./fixture.ts"

const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

const hello = JSON.stringify({ model: "fast", messages: [{ role: "user", content: "Say hello" }] })

const post = (url: string) =>
  Effect.promise(() =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${Fixture.limitedKey}`, "content-type": "application/json" },
      body: hello
    }).then(async (response) => ({ status: response.status, text: await response.text() }))
  )

describe("Gateway replicas", () => {
  it.live("two gateways sharing Redis give exactly the daily limit between them; ledgers match the mock's billing", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      const store = RedisQuotaStore.layerStore({ prefix: `baton-test:gateway:${randomUUID()}:` }).pipe(
        Layer.provide(NodeRedis.layer({ url: redisUrl }))
      )
      const replica = Layer.build(
        Fixture.gateway({ quotaStore: store }).pipe(
          Layer.provide(Layer.succeed(MockProviderServer.MockProviderServer, mock))
        )
      )
      const replicas = [yield* replica, yield* replica]
      const urls = replicas.map((context) =>
        HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
      )
      assert.notStrictEqual(urls[0], urls[1])

      const answers = yield* Effect.forEach(
        Array.from({ length: 12 }, (_, i) => urls[i % 2] ?? ""),
        post,
        { concurrency: "unbounded" }
      )
      const statuses = answers.map((answer) => answer.status)
      assert.strictEqual(statuses.filter((status) => status === 200).length, Fixture.limitedDaily)
      assert.strictEqual(statuses.filter((status) => status === 429).length, 12 - Fixture.limitedDaily)

      const billed = yield* mock.stats("openai")
      assert.strictEqual(billed.requests, Fixture.limitedDaily)
      const today = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      const ledgered = yield* Effect.forEach(replicas, (context) => {
        const ledger = Context.get(context, UsageLedger.UsageLedger)
        return Effect.andThen(ledger.flush, ledger.usageBySubject(today))
      })
      const rows = ledgered.flat()
      assert.strictEqual(rows.reduce((sum, row) => sum + row.promptTokens, 0), billed.promptTokens)
      assert.strictEqual(rows.reduce((sum, row) => sum + row.completionTokens, 0), billed.completionTokens)
      assert.strictEqual(rows.reduce((sum, row) => sum + row.requests, 0), Fixture.limitedDaily)
    })))
})
