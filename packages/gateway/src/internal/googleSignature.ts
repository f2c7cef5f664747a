/**
 * A call's Gemini signature in Google's own field,
 * `extra_content.google.thought_signature`, where Google's OpenAI-compatible
 * endpoint puts it and the only part of `extra_content` the Vercel AI SDK
 * keeps and sends back (it drops `extra_content.baton`).
 *
 * The field holds a string, but a replay must name the provider and model
 * that made it: Gemini answers 400 to a signature of another model, so a
 * replay goes back to its maker only (`Tool.Replay`). The gateway writes
 * Baton's form, the maker before the signature:
 *
 * `baton.<base64url of "provider/model", unpadded>.<signature>`
 *
 * and reads back only that form, the maker checked as `Tool.Replay` checks
 * it (a `ProviderName` and a `ModelId`). Anything else (a signature a client
 * got from Google's endpoint, whose model is unknown; a garbled value) reads
 * as no replay: the call is sent as one Gemini did not sign (Google's
 * `skip_thought_signature_validator`), never attributed to a model that may
 * not have made it, and the request does not fail. The value is Baton's:
 * Google's endpoint would not take it back.
 */
import * as Tool from "@baton/core/Tool"
import { Option, Result, Schema } from "effect"
import { Base64Url } from "effect/encoding"

/** Baton's form: a maker of base64url characters (no dot) and a signature, after the tag. */
const form = /^baton\.([\w-]+)\.(.+)$/s

/** Google's field for `replay`'s signature in Baton's form; none when the replay has no signature. */
export const field = (replay: Tool.Replay | undefined): { readonly thought_signature: string } | undefined =>
  replay?.signature === undefined ? undefined : {
    thought_signature: `baton.${Base64Url.encode(`${replay.provider}/${replay.model}`)}.${replay.signature}`
  }

const GoogleField = Schema.Struct({ thought_signature: Schema.String })

const decodeField = Schema.decodeUnknownOption(GoogleField)

const decodeReplay = Schema.decodeUnknownOption(Tool.Replay)

/** The provider and model of a maker in base64url, unchecked; none when it is not base64url or has no `/`. */
const makerOf = (encoded: string): { readonly provider: string; readonly model: string } | undefined => {
  const maker = Result.getOrUndefined(Base64Url.decodeString(encoded)) ?? ""
  const slash = maker.indexOf("/")
  return slash === -1 ? undefined : { provider: maker.slice(0, slash), model: maker.slice(slash + 1) }
}

/** The replay of a signature in Baton's form, its maker checked; none for any other value. */
const replayOf = (value: string): Option.Option<Tool.Replay> => {
  const [, encoded = "", signature] = form.exec(value) ?? []
  const maker = makerOf(encoded)
  return maker === undefined ? Option.none() : decodeReplay({ ...maker, signature })
}

/**
 * The replay a tool call's `extra_content.google` (as a client sent it,
 * unchecked) holds in Baton's form; `undefined` for anything else, never a
 * failure.
 */
export const read = (google: unknown): Tool.Replay | undefined =>
  decodeField(google).pipe(Option.flatMap((found) => replayOf(found.thought_signature)), Option.getOrUndefined)
