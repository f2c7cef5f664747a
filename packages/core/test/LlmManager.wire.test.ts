/**
 * What reaches the wire through the manager, read back from the requests the
 * mock provider server received: each provider's system slot, prefill shape,
 * options, and the structured-output re-ask.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Bench, inject, type Kind, manager } from "./utils/chain.ts"

const kinds: ReadonlyArray<Kind> = ["openai", "deepseek", "anthropic", "gemini"]

/** The body of the only request the server received for `kind`. */
const onlyBody = (kind: Kind) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    const received = yield* server.received(kind)
    assert.strictEqual(received.length, 1)
    return received[0]?.body
  })

/** Reads a path of keys and indexes out of a parsed JSON body. */
const at = (value: unknown, ...path: ReadonlyArray<string | number>): unknown =>
  path.reduce<unknown>(
    (current, key) =>
      typeof current === "object" && current !== null ? (current as Record<string | number, unknown>)[key] : undefined,
    value
  )

describe("LlmManager on the wire (requests received by the mock server)", () => {
  it.effect("re-asks a schema mismatch with the decode error in the message", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      yield* inject("openai", MockFault.content("{\"wrong\": 1}"))
      const result = yield* llm.generateStructured(
        { prompt: "Write one quiz question about the moon." },
        Schema.Struct({ question: Schema.String })
      )
      assert.isString(result.value.question)
      const server = yield* MockProviderServer.MockProviderServer
      const [first, reask] = yield* server.received("openai")
      const messages = at(reask?.body, "messages")
      assert.isArray(messages)
      if (!Array.isArray(messages)) return
      assert.strictEqual(messages.length, (at(first?.body, "messages") as ReadonlyArray<unknown>).length + 2)
      assert.deepStrictEqual(messages.at(-2), { role: "assistant", content: "{\"wrong\": 1}" })
      const last = messages.at(-1) as { role: string; content: string }
      assert.strictEqual(last.role, "user")
      assert.include(last.content, "does not match the required JSON schema")
      assert.include(last.content, "question")
    }).pipe(Effect.provide(Bench)))

  it.effect("re-asks with the model's answer as it was: words that look like a key's start are kept", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      // `risk-management-plan` holds `sk-` and eight more characters: the shape of an OpenAI key
      const answer = "{\"category\": \"risk-management-plan\", \"note\": \"Bearer of good-news-today\"}"
      yield* inject("openai", MockFault.content(answer))
      yield* llm.generateStructured(
        { prompt: "Write one quiz question about the moon." },
        Schema.Struct({ question: Schema.String })
      )
      const server = yield* MockProviderServer.MockProviderServer
      const [, reask] = yield* server.received("openai")
      const messages = at(reask?.body, "messages")
      assert.isArray(messages)
      if (!Array.isArray(messages)) return
      assert.deepStrictEqual(messages.at(-2), { role: "assistant", content: answer })
    }).pipe(Effect.provide(Bench)))

  const systemSlot: Record<Kind, (body: unknown) => unknown> = {
    openai: (body) => at(body, "messages", 0),
    deepseek: (body) => at(body, "messages", 0),
    anthropic: (body) => at(body, "system"),
    gemini: (body) => at(body, "systemInstruction", "parts", 0, "text")
  }
  const systemExpected: Record<Kind, unknown> = {
    openai: { role: "system", content: "Be brief." },
    deepseek: { role: "system", content: "Be brief." },
    anthropic: "Be brief.",
    gemini: "Be brief."
  }
  for (const kind of kinds) {
    it.effect(`puts the system prompt in ${kind}'s system slot`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: [kind] })
        yield* llm.generate({ prompt: "Name a planet.", options: { system: "Be brief." } })
        const body = yield* onlyBody(kind)
        assert.deepStrictEqual(systemSlot[kind](body), systemExpected[kind])
        if (kind === "anthropic" || kind === "gemini") {
          const turns = at(body, kind === "anthropic" ? "messages" : "contents")
          assert.notInclude(JSON.stringify(turns), "Be brief.")
        }
      }).pipe(Effect.provide(Bench)))
  }

  const prefillShape: Record<Kind, unknown> = {
    openai: { role: "assistant", content: "The answer is" },
    deepseek: { role: "assistant", content: "The answer is", prefix: true },
    anthropic: { role: "assistant", content: "The answer is" },
    gemini: { role: "model", parts: [{ text: "The answer is" }] }
  }
  for (const kind of kinds) {
    it.effect(`sends a prefill in ${kind}'s shape`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: [kind] })
        yield* llm.generate({
          prompt: [{ role: "user", content: "What is 2 + 2?" }, { role: "assistant", content: "The answer is" }]
        })
        const body = yield* onlyBody(kind)
        const turns = at(body, kind === "gemini" ? "contents" : "messages")
        assert.isArray(turns)
        if (!Array.isArray(turns)) return
        assert.deepStrictEqual(turns.at(-1), prefillShape[kind])
      }).pipe(Effect.provide(Bench)))
  }

  const options = { temperature: 0.25, maxTokens: 321, stop: ["\nQ:"], seed: 7 }
  const optionFields: Record<Kind, Record<string, ReadonlyArray<string>>> = {
    openai: { temperature: ["temperature"], maxTokens: ["max_completion_tokens"], stop: ["stop"], seed: ["seed"] },
    deepseek: { temperature: ["temperature"], maxTokens: ["max_tokens"], stop: ["stop"], seed: ["seed"] },
    anthropic: { temperature: ["temperature"], maxTokens: ["max_tokens"], stop: ["stop_sequences"] },
    gemini: {
      temperature: ["generationConfig", "temperature"],
      maxTokens: ["generationConfig", "maxOutputTokens"],
      stop: ["generationConfig", "stopSequences"],
      seed: ["generationConfig", "seed"]
    }
  }
  for (const kind of kinds) {
    it.effect(`sends temperature, maxTokens, stop and seed in ${kind}'s fields`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: [kind] })
        yield* llm.generate({ prompt: "Name a planet.", options })
        const body = yield* onlyBody(kind)
        for (const [option, path] of Object.entries(optionFields[kind])) {
          assert.deepStrictEqual(at(body, ...path), options[option as keyof typeof options], `${kind} ${option}`)
        }
      }).pipe(Effect.provide(Bench)))
  }
})
