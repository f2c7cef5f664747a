/**
 * A circuit store that cannot answer, through `LlmManager`: circuits fail
 * open (`CircuitPolicy`), so each attempt runs unrecorded and the request is
 * served; `circuitState` fails with a typed `CircuitStoreUnavailable`. A
 * store that never answers holds no request past its deadline. The
 * stores here are fakes of the store interface (`CircuitBreakerStore`), not
 * of Baton's code.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, type Exit, Fiber, Layer, Stream } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { TestClock } from "effect/testing"
import { ProviderName } from "../src/Ids.ts"
import type * as LlmManager from "../src/LlmManager.ts"
import { Bench, inject, manager, pick } from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about volcanoes." }

const outage = new CircuitBreaker.CircuitBreakerError({
  reason: new CircuitBreaker.CircuitBreakerStoreError({ message: "store unreachable" })
})

/** Every store command fails, as a store whose server is down. */
const failingStore = Layer.succeed(CircuitBreaker.CircuitBreakerStore, {
  admit: () => Effect.fail(outage),
  record: () => Effect.fail(outage),
  state: () => Effect.fail(outage)
})

/** Every store command dies, as a store with a bug. */
const dyingStore = Layer.succeed(CircuitBreaker.CircuitBreakerStore, {
  admit: () => Effect.die(new Error("store bug")),
  record: () => Effect.die(new Error("store bug")),
  state: () => Effect.die(new Error("store bug"))
})

const chain = manager({ chain: ["openai", "anthropic"] })

/** The in-memory store with some of its commands replaced (`change` gets the original store). */
const memoryStoreWith = (
  change: (
    store: CircuitBreaker.CircuitBreakerStore["Service"]
  ) => Partial<CircuitBreaker.CircuitBreakerStore["Service"]>
) =>
  Layer.effect(
    CircuitBreaker.CircuitBreakerStore,
    Effect.map(Effect.service(CircuitBreaker.CircuitBreakerStore), (store) => ({ ...store, ...change(store) }))
  ).pipe(Layer.provide(CircuitBreaker.layerStoreMemory()))

describe("LlmManager with a circuit store that cannot answer", () => {
  for (const [name, store] of [["failing", failingStore], ["dying", dyingStore]] as const) {
    it.effect(`${name} store: attempts run unrecorded, fallback and streams still work`, () =>
      Effect.gen(function*() {
        const llm = yield* chain
        const result = yield* llm.generate(prompt)
        assert.strictEqual(result.provider, "openai")
        yield* inject("openai", MockFault.status(503))
        const fallback = yield* llm.generate(prompt)
        assert.deepStrictEqual(fallback.attempts.map(pick("provider", "outcome")), [
          ["openai", "error"],
          ["anthropic", "success"]
        ])
        const parts = yield* Stream.runCollect(llm.stream(prompt))
        assert.strictEqual(parts.at(-1)?._tag, "Finish")
      }).pipe(Effect.provide(Layer.merge(Bench, store))))

    it.effect(`${name} store: circuitState is a typed CircuitStoreUnavailable`, () =>
      Effect.gen(function*() {
        const llm = yield* chain
        const error = yield* Effect.flip(llm.circuitState(ProviderName.make("openai")))
        assert.strictEqual(error._tag, "CircuitStoreUnavailable")
        assert.include(error.message, "circuit store")
      }).pipe(Effect.provide(Layer.merge(Bench, store))))
  }
})

describe("LlmManager with a circuit store that never answers", () => {
  /** Every store command waits forever, as a store whose server never replies; `asked` says one was sent. */
  const silentStore = (asked: Deferred.Deferred<undefined>) =>
    Layer.succeed(CircuitBreaker.CircuitBreakerStore, {
      admit: () => Effect.andThen(Deferred.succeed(asked, undefined), Effect.never),
      record: () => Effect.never,
      state: () => Effect.never
    })

  const calls = {
    generate: (llm: LlmManager.Service) => llm.generate(prompt),
    stream: (llm: LlmManager.Service) => Stream.runDrain(llm.stream(prompt))
  }

  for (const [name, call] of Object.entries(calls)) {
    it.effect(`${name}: the request ends at its deadline with DeadlineExceeded, its attempt cancelled`, () => {
      const asked = Deferred.makeUnsafe<undefined>()
      return Effect.gen(function*() {
        const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { requestTimeoutMs: 5_000 } })
        const fiber = yield* Effect.forkChild(Effect.flip(call(llm)))
        yield* Deferred.await(asked)
        yield* TestClock.adjust(5_000)
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, "DeadlineExceeded")
        if (error._tag !== "DeadlineExceeded") return
        assert.strictEqual(error.timeoutMs, 5_000)
        assert.deepStrictEqual(error.attempts.map(pick("provider", "outcome")), [["openai", "cancelled"]])
        assert.strictEqual(yield* Clock.currentTimeMillis, 5_000)
      }).pipe(Effect.provide(Layer.merge(Bench, silentStore(asked))))
    })
  }

  it.effect("a store that admits but never records: the answer is returned, at the latest at the deadline", () => {
    const asked = Deferred.makeUnsafe<undefined>()
    /** The in-memory store, but its `record` never answers. */
    const unrecorded = memoryStoreWith(() => ({
      record: () => Effect.andThen(Deferred.succeed(asked, undefined), Effect.never)
    }))
    return Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { requestTimeoutMs: 5_000 } })
      const fiber = yield* Effect.forkChild(llm.generate(prompt))
      yield* Deferred.await(asked)
      yield* TestClock.adjust(5_000)
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.provider, "openai")
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome")), [["openai", "success"]])
    }).pipe(Effect.provide(Layer.merge(Bench, unrecorded)))
  })

  it.effect("an outcome recorded at the deadline still reaches a slow store (a failure there still counts)", () => {
    const recording = Deferred.makeUnsafe<undefined>()
    /** The in-memory store, its `record` taking 100 ms. */
    const slowRecord = memoryStoreWith((store) => ({
      record: (options) =>
        Effect.andThen(Deferred.succeed(recording, undefined), Effect.andThen(Effect.sleep(100), store.record(options)))
    }))
    return Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai"],
        policy: { maxRetries: 0 },
        circuit: { failureThreshold: 1, cooldownMs: 30_000 }
      })
      yield* inject("openai", MockFault.status(503))
      // the 503 comes back at once; 50 ms are left of the request's time when its failure is recorded
      const fiber = yield* Effect.forkChild(Effect.flip(llm.generate({ ...prompt, options: { timeout: 50 } })))
      yield* Deferred.await(recording)
      yield* TestClock.adjust(100)
      yield* Fiber.join(fiber)
      assert.strictEqual((yield* llm.circuitState(ProviderName.make("openai")))._tag, "Open")
    }).pipe(Effect.provide(Layer.merge(Bench, slowRecord)))
  })
})

describe("LlmManager with a circuit known open", () => {
  it.effect("skips it without asking the store until the open time the store gave, then probes once", () => {
    const admitted: Array<string> = []
    /** The in-memory store, its admissions counted. */
    const countingStore = memoryStoreWith((store) => ({
      admit: (key) => Effect.andThen(Effect.sync(() => admitted.push(key)), store.admit(key))
    }))
    return Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        circuit: { failureThreshold: 1, cooldownMs: 1_000 }
      })
      yield* inject("openai", MockFault.status(503), { times: 1 })
      assert.strictEqual((yield* llm.generate(prompt)).provider, "anthropic") // opens the circuit
      const opened = admitted.filter((key) => key.startsWith("openai/")).length
      for (let i = 0; i < 5; i++) {
        const result = yield* llm.generate(prompt)
        assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome")), [
          ["openai", "skipped"],
          ["anthropic", "success"]
        ])
      }
      // the store refused the first skip and gave the open time; the other four did not ask it
      assert.strictEqual(admitted.filter((key) => key.startsWith("openai/")).length, opened + 1)
      yield* TestClock.adjust(1_000)
      assert.strictEqual((yield* llm.generate(prompt)).provider, "openai") // the probe closes it
      assert.strictEqual(admitted.filter((key) => key.startsWith("openai/")).length, opened + 2)
    }).pipe(Effect.provide(Layer.merge(Bench, countingStore)))
  })
})

/** The store's admission, noting in `events` (as `label` writes it) when the admission's scope closes. */
const notingClose = (
  store: CircuitBreaker.CircuitBreakerStore["Service"],
  events: Array<string>,
  label: (key: string, exit: Exit.Exit<unknown, unknown>) => string
): CircuitBreaker.CircuitBreakerStore["Service"]["admit"] =>
(key) =>
  Effect.tap(
    store.admit(key),
    () => Effect.addFinalizer((exit) => Effect.sync(() => events.push(label(key, exit))))
  )

describe("LlmManager and the admission's scope", () => {
  it.effect("stays open while the attempt runs and closes, with its exit, once the outcome is recorded", () => {
    const events: Array<string> = []
    /** The in-memory store, noting when each admission's scope closes and when each outcome is recorded. */
    const scopedStore = memoryStoreWith((store) => ({
      admit: notingClose(store, events, (key, exit) => `closed ${key} ${exit._tag}`),
      record: (options) =>
        Effect.tap(store.record(options), () => Effect.sync(() => events.push(`recorded ${options.outcome}`)))
    }))
    return Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.status(503), { times: 1 })
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(events, [
        "recorded Failure",
        "closed openai/gpt-4o-mini Failure",
        "recorded Success",
        "closed anthropic/claude-haiku-4-5 Success"
      ])
    }).pipe(Effect.provide(Layer.merge(Bench, scopedStore)))
  })

  it.effect("closes even when the store fails to record the outcome", () => {
    const events: Array<string> = []
    /** Admission notes its scope's close; recording dies, as a store with a bug. */
    const breakingStore = memoryStoreWith((store) => ({
      admit: notingClose(store, events, (_, exit) => `closed ${exit._tag}`),
      record: () => Effect.die(new Error("store bug"))
    }))
    return Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      assert.strictEqual((yield* llm.generate(prompt)).provider, "openai")
      assert.deepStrictEqual(events, ["closed Success"])
    }).pipe(Effect.provide(Layer.merge(Bench, breakingStore)))
  })

  it.effect("a store that cannot admit: the attempt runs unrecorded, then the admission's scope closes", () => {
    const events: Array<string> = []
    let server: MockProviderServer.MockProviderServer["Service"] | undefined
    /** Admission opens a scope (noting, when it closes, how many requests the provider had), then fails to answer. */
    const halfStore = memoryStoreWith((store) => ({
      admit: () =>
        Effect.andThen(
          Effect.addFinalizer((exit) =>
            server === undefined ? Effect.void : Effect.map(server.received("openai"), (received) => {
              events.push(`closed ${exit._tag} after ${received.length} request(s)`)
            })
          ),
          Effect.fail(outage)
        ),
      record: (options) => Effect.andThen(Effect.sync(() => events.push("recorded")), store.record(options))
    }))
    return Effect.gen(function*() {
      server = yield* MockProviderServer.MockProviderServer
      const llm = yield* manager({ chain: ["openai"] })
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.provider, "openai")
      assert.deepStrictEqual(events, ["closed Success after 1 request(s)"])
    }).pipe(Effect.provide(Layer.merge(Bench, halfStore)))
  })
})
