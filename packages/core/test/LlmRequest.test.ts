import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmRequest from "../src/LlmRequest.ts"

describe("LlmRequest", () => {
  it.effect("turns a prompt string into one user message and generates a request id", () =>
    Effect.gen(function*() {
      const request = yield* LlmRequest.make({ prompt: "Hello" })
      assert.deepStrictEqual(request.messages, [{ role: "user", content: "Hello" }])
      assert.match(request.requestId, /^[0-9a-f-]{36}$/)
      assert.strictEqual(request.subjectId, undefined)
      assert.match(request.promptHash, /^[0-9a-f]{64}$/)
    }))

  it.effect("puts options.system first and keeps metadata", () =>
    Effect.gen(function*() {
      const request = yield* LlmRequest.make({
        prompt: [{ role: "user", content: "Q?" }, { role: "assistant", content: "A:" }],
        options: { system: "Be brief." },
        metadata: { subjectId: "teacher-1", requestId: "req-1", tags: { feature: "quiz" } }
      })
      assert.deepStrictEqual(request.messages.map((m) => m.role), ["system", "user", "assistant"])
      assert.strictEqual(LlmRequest.systemPrompt(request), "Be brief.")
      assert.strictEqual(LlmRequest.conversation(request).length, 2)
      assert.strictEqual(request.requestId, "req-1")
      assert.strictEqual(request.subjectId, "teacher-1")
      assert.deepStrictEqual(request.tags, { feature: "quiz" })
      assert.strictEqual(request.units, 1)
      const five = yield* LlmRequest.make({ prompt: "Q?", metadata: { units: 5 } })
      assert.strictEqual(five.units, 5)
    }))

  it.effect("hashes the same conversation the same way, and a different one differently", () =>
    Effect.gen(function*() {
      const a = yield* LlmRequest.make({ prompt: "same" })
      const b = yield* LlmRequest.make({ prompt: [{ role: "user", content: "same" }] })
      const c = yield* LlmRequest.make({ prompt: "other" })
      assert.strictEqual(a.promptHash, b.promptHash)
      assert.notStrictEqual(a.promptHash, c.promptHash)
    }))

  it.effect("hashes distinct conversations differently, whatever characters their texts hold", () =>
    Effect.gen(function*() {
      const call = { id: "call-1", name: "lookup", arguments: "{}" }
      const json = JSON.stringify([[call], undefined, undefined])
      const pairs: ReadonlyArray<readonly [LlmRequest.Input, LlmRequest.Input]> = [
        // one user message holding the separators, and the two messages they used to stand for
        [
          { prompt: "A\u0001assistant\u0000B" },
          { prompt: [{ role: "user", content: "A" }, { role: "assistant", content: "B" }] }
        ],
        // a message with tool calls, and one whose text is their serialisation
        [
          { prompt: [{ role: "user", content: "Q" }, { role: "assistant", content: "x", toolCalls: [call] }] },
          { prompt: [{ role: "user", content: "Q" }, { role: "assistant", content: `x\u0001${json}` }] }
        ],
        // a failed tool result, and the same result as a success
        [
          { prompt: [{ role: "tool", toolCallId: "call-1", content: "{}", isError: true }] },
          { prompt: [{ role: "tool", toolCallId: "call-1", content: "{}" }] }
        ],
        // results of two tools answered by name only (as Gemini matches them), the same text
        [
          { prompt: [{ role: "tool", name: "lookup", content: "{}" }] },
          { prompt: [{ role: "tool", name: "delete_all", content: "{}" }] }
        ],
        // a length prefix that a text imitates
        [
          { prompt: [{ role: "user", content: "1:a" }] },
          { prompt: [{ role: "user", content: "" }, { role: "user", content: "a" }] }
        ]
      ]
      for (const [a, b] of pairs) {
        const [first, second] = yield* Effect.all([LlmRequest.make(a), LlmRequest.make(b)])
        assert.notStrictEqual(first.promptHash, second.promptHash, JSON.stringify([a, b]))
      }
    }))

  it.effect("refuses on the common input (a string prompt and metadata) what the Schema refuses, naming the field", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<readonly [LlmRequest.Input["metadata"], string]> = [
        [{ subjectId: "a\nb" }, "metadata.subjectId"],
        [{ subjectId: "s".repeat(257) }, "metadata.subjectId"],
        [{ requestId: "" }, "metadata.requestId"],
        [{ requestId: "r".repeat(129) }, "metadata.requestId"],
        [{ units: 0 }, "metadata.units"],
        [{ units: 1.5 }, "metadata.units"],
        [{ units: "2" as unknown as number }, "metadata.units"]
      ]
      for (const [metadata, field] of bad) {
        const error = yield* Effect.flip(LlmRequest.make({ prompt: "x", metadata }))
        assert.strictEqual(error.field, field, JSON.stringify(metadata))
      }
      const longest = yield* LlmRequest.make({
        prompt: "x",
        metadata: { subjectId: "s".repeat(256), requestId: "r".repeat(128), units: 3 }
      })
      assert.deepStrictEqual([longest.subjectId?.length, longest.requestId.length, longest.units], [256, 128, 3])
      assert.strictEqual(longest.promptHash, createHash("sha256").update("user:1:x").digest("hex"))
    }))

  it.effect("rejects an empty prompt, a system-only conversation and a bad role", () =>
    Effect.gen(function*() {
      const empty = yield* Effect.flip(LlmRequest.make({ prompt: "" }))
      assert.strictEqual(empty.field, "prompt")
      const systemOnly = yield* Effect.flip(LlmRequest.make({ prompt: [{ role: "system", content: "x" }] }))
      assert.include(systemOnly.message, "at least one user, assistant or tool message that is not blank")
      const badRole = yield* Effect.flip(
        LlmRequest.make({ prompt: [{ role: "function" as "user", content: "x" }] })
      )
      assert.strictEqual(badRole._tag, "InvalidOptions")
      const badSubject = yield* Effect.flip(LlmRequest.make({ prompt: "x", metadata: { subjectId: "" } }))
      assert.strictEqual(badSubject.field, "metadata.subjectId")
      const badOptions = yield* Effect.flip(LlmRequest.make({ prompt: "x", options: { maxTokens: -1 } }))
      assert.strictEqual(badOptions.field, "options.maxTokens")
    }))

  it.effect("checks a conversation with options and tags by hand exactly as the Schema decode does", () =>
    Effect.gen(function*() {
      // `tools: []` sends the same input through the Schema decode
      const bothWays = (input: LlmRequest.Input) =>
        Effect.all([LlmRequest.make(input), LlmRequest.make({ ...input, tools: [] })].map(Effect.result))
      const conversation = [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Q?" },
        { role: "assistant", content: "" }
      ] as const
      const good: ReadonlyArray<LlmRequest.Input> = [
        { prompt: conversation, metadata: { requestId: "r-1", subjectId: "t-1", units: 2, tags: { feature: "quiz" } } },
        { prompt: conversation, options: {}, metadata: { requestId: "r-2", tags: {} } },
        { prompt: conversation, options: { temperature: 0.2, system: "Sys." }, metadata: { requestId: "r-3" } },
        { prompt: [{ role: "tool", content: "42" }], metadata: { requestId: "r-4", subjectId: undefined } },
        {
          prompt: conversation,
          metadata: { requestId: "r-5", tags: JSON.parse(`{"__proto__":"x","a":"b"}`) as Record<string, string> }
        }
      ]
      for (const input of good) {
        const [hand, schema] = yield* bothWays(input)
        assert.deepStrictEqual(hand, schema, JSON.stringify(input))
        assert.strictEqual(hand?._tag, "Success", JSON.stringify(input))
      }
      const bad: ReadonlyArray<LlmRequest.Input> = [
        { prompt: [{ role: "system", content: "x" }] },
        { prompt: [{ role: "function" as "user", content: "x" }] },
        { prompt: [{ role: "user", content: 1 as unknown as string }] },
        { prompt: conversation, metadata: { tags: { feature: 1 as unknown as string } } },
        { prompt: conversation, metadata: { subjectId: "a\nb" } },
        { prompt: conversation, metadata: { units: 0 } },
        { prompt: conversation, options: { temperature: 3 } },
        { prompt: conversation, options: Object.defineProperty({}, "temperature", { value: 3 }) },
        { prompt: [Object.defineProperty({ role: "user", content: "Q?" }, "toolCallId", { value: 5 })] }
      ]
      for (const input of bad) {
        const [hand, schema] = yield* bothWays(input)
        assert.strictEqual(hand?._tag, "Failure", JSON.stringify(input))
        assert.deepStrictEqual(hand, schema, JSON.stringify(input))
      }
      // the caller's objects are copied, not kept
      const message = { role: "user" as const, content: "Q?" }
      const tags = { feature: "quiz" }
      const make = LlmRequest.make({ prompt: [message], metadata: { tags } })
      const request = yield* make
      message.content = "changed"
      tags.feature = "changed"
      assert.deepStrictEqual([request.messages[0]?.content, request.tags["feature"]], ["Q?", "quiz"])
      // each run is a request of its own
      assert.notStrictEqual((yield* make).requestId, request.requestId)
    }))

  it.effect("keeps a tool call's replay, checked as the other fields are, and hashes it", () =>
    Effect.gen(function*() {
      const call = { id: "c1", name: "get_weather", arguments: "{}" }
      const replay = {
        provider: ProviderName.make("gemini"),
        model: ModelId.make("gemini-3.5-flash"),
        signature: "c2ln"
      }
      const conversation = (toolCall: object): LlmRequest.Input => ({
        prompt: [{ role: "user", content: "Weather?" }, { role: "assistant", content: "", toolCalls: [toolCall] }]
      } as LlmRequest.Input)
      const kept = yield* LlmRequest.make(conversation({ ...call, replay }))
      assert.deepStrictEqual(kept.messages[1]?.toolCalls, [{ ...call, replay }])
      const plain = yield* LlmRequest.make(conversation(call))
      assert.notStrictEqual(kept.promptHash, plain.promptHash)
      // a call without a replay hashes as it did before replays existed
      const json = JSON.stringify([[call], undefined, undefined])
      const text = `user:8:Weather?assistant:0:#${json.length}:${json}`
      assert.strictEqual(plain.promptHash, createHash("sha256").update(text).digest("hex"))
      const bad = yield* Effect.flip(LlmRequest.make(conversation({ ...call, replay: { ...replay, signature: 5 } })))
      assert.strictEqual(bad.field, "prompt.1.toolCalls.0.replay.signature")
      // who made the call is a ProviderName and a ModelId, checked as such
      const unnamed = yield* Effect.flip(
        LlmRequest.make(conversation({ ...call, replay: { ...replay, provider: "" } }))
      )
      assert.strictEqual(unnamed.field, "prompt.1.toolCalls.0.replay.provider")
    }))
})
