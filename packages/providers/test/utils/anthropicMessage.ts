/**
 * The SSE events of a whole Anthropic message, as the stream tests send it
 * from a raw server: `message_start` (5 input tokens, the placeholder 1
 * output token), one text block, the `message_delta` ending the turn, then
 * `message_stop`.
 */

/** The events of a message answering `text`, its `message_delta` given `delta`'s fields (`usage`) besides its stop. */
export const anthropicMessage = (text: string, delta: Record<string, unknown>): ReadonlyArray<unknown> => [
  {
    type: "message_start",
    message: {
      id: "msg_1",
      type: "message",
      role: "assistant",
      content: [],
      model: "claude-haiku-4-5",
      usage: { input_tokens: 5, output_tokens: 1 }
    }
  },
  { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } },
  { type: "content_block_stop", index: 0 },
  { type: "message_delta", delta: { stop_reason: "end_turn" }, ...delta },
  { type: "message_stop" }
]
