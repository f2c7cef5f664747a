/**
 * `Redact.excerpt`, the form in which an error message repeats a value: cut
 * after `max` characters, and every character that could start a line or
 * reorder what a reader sees escaped.
 */
import { assert, describe, it } from "@effect/vitest"
import { Redacted } from "effect"
import { excerpt, scrub, scrubSecrets, truncate } from "../src/Redact.ts"

/** Unicode's Bidi_Control characters (PropList.txt). */
const bidiControls = [
  "\u061c",
  "\u200e",
  "\u200f",
  "\u202a",
  "\u202b",
  "\u202c",
  "\u202d",
  "\u202e",
  "\u2066",
  "\u2067",
  "\u2068",
  "\u2069"
]

const escaped = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`

describe("Redact.excerpt", () => {
  it("escapes every bidirectional control, U+061C (ARABIC LETTER MARK) included", () => {
    for (const char of bidiControls) {
      const out = excerpt(`gpt${char}-4o`)
      assert.strictEqual(out, `gpt${escaped(char)}-4o`, escaped(char))
    }
  })

  it("escapes control characters and line separators, leaves other text as it is", () => {
    assert.strictEqual(excerpt("a\u001bb\nc\u2028d\u2029e"), "a\\u001bb\\u000ac\\u2028d\\u2029e")
    assert.strictEqual(excerpt("deepseek/deepseek-chat é 模型"), "deepseek/deepseek-chat é 模型")
  })

  it("keeps the first max characters (64 by default) and says how many were cut", () => {
    assert.strictEqual(excerpt("x".repeat(100)), `${"x".repeat(64)}...[36 more characters]`)
    assert.strictEqual(excerpt("y".repeat(10), 4), "yyyy...[6 more characters]")
  })
})

describe("Redact.scrub", () => {
  it("replaces every key shape, in any case the shape allows, and every configured secret", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["key sk-abcdefgh1234 rejected", "key [redacted] rejected"],
      // an unconfigured key echoed masked
      ["Incorrect API key provided: sk-CANA****************7890.", "Incorrect API key provided: [redacted]."],
      ["key AIzaSyA1234567890abcdefghij rejected", "key [redacted] rejected"],
      ["Authorization: Bearer abc.def-123_456", "Authorization: Bearer [redacted]"],
      ["BEARER abcdefgh12", "BEARER [redacted]"],
      ["?api_key=abcdefgh12&x=1", "?api_key=[redacted]&x=1"],
      ["{\"Api-Key\": \"abcdefgh12\"}", "{\"Api-Key\": \"[redacted]\"}"],
      ["X-Goog-Api-Key=abcdefgh12", "X-Goog-Api-Key=[redacted]"],
      ["AUTHORIZATION=abcdefgh12", "AUTHORIZATION=[redacted]"],
      ["echoed canary-secret-value twice: canary-secret-value", "echoed [redacted] twice: [redacted]"],
      [
        "deepseek skipped: its circuit is open after repeated failures",
        "deepseek skipped: its circuit is open after repeated failures"
      ]
    ]
    const secrets = [Redacted.make("canary-secret-value"), Redacted.make("short")]
    for (const [text, expected] of cases) assert.strictEqual(scrub(text, secrets), expected, text)
  })

  it("replaces a configured key echoed masked in Markdown, the Markdown left as it is", () => {
    const secrets = [Redacted.make("canary-secret-value")]
    assert.strictEqual(
      scrubSecrets("**Refused**: key canary-sec*********lue is *invalid*", secrets),
      "**Refused**: key [redacted]*********lue is *invalid*"
    )
    assert.strictEqual(scrubSecrets("**canary-** and *secret-value*", secrets), "**canary-** and *secret-value*")
  })

  it("replaces a secret whole when a shorter one it holds comes first: no tail of it is left", () => {
    const secrets = [Redacted.make("canary-proxy-key"), Redacted.make("canary-proxy-key-for-tenant-7")]
    assert.strictEqual(
      scrub("refused canary-proxy-key-for-tenant-7 and canary-proxy-key", secrets),
      "refused [redacted] and [redacted]"
    )
  })
})

describe("Redact.scrub of a key a URL encodes", () => {
  it("replaces it as written and URL-encoded, its escapes in either case", () => {
    const secret = "CANARY+proxy/Key0123456789abcdefXYZ=="
    const encoded = encodeURIComponent(secret)
    const lower = encoded.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase())
    assert.strictEqual(
      scrub(`a ${secret} b ?token=${encoded} c ?token=${lower}`, [Redacted.make(secret)]),
      "a [redacted] b ?token=[redacted] c ?token=[redacted]"
    )
  })
})

describe("Redact.scrub where a text was cut", () => {
  const secret = "canary-secret-value"
  const secrets = [Redacted.make(secret), Redacted.make("short")]

  it("replaces a prefix of a secret (8 characters or more) that ends the text or a truncation marker", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["refused canary-secr...[11 more characters]", "refused [redacted]...[11 more characters]"],
      ["refused canary-secret-valu", "refused [redacted]"],
      ["refused canary-s", "refused [redacted]"],
      // a suffix added after the cut (an authentication error's hint)
      [
        "refused canary-secret...[8 more characters] (check the API key)",
        "refused [redacted]...[8 more characters] (check the API key)"
      ],
      // two cut texts joined
      [
        "a: canary-secre...[9 more characters]; b: xcanary-secret-v...[3 more characters]",
        "a: [redacted]...[9 more characters]; b: x[redacted]...[3 more characters]"
      ],
      // the whole secret, then a prefix at the cut
      [
        "canary-secret-value, again canary-secret...[6 more characters]",
        "[redacted], again [redacted]...[6 more characters]"
      ]
    ]
    for (const [text, expected] of cases) assert.strictEqual(scrub(text, secrets), expected, text)
  })

  it("leaves ordinary text: a prefix shorter than 8 characters, or one not at a cut", () => {
    for (
      const text of [
        "refused canary-...[12 more characters]",
        "refused canary-",
        "the canary-secret is a name...[3 more characters]",
        "refused canary-secret-x...[3 more characters]",
        "shor"
      ]
    ) {
      assert.strictEqual(scrub(text, secrets), text, text)
    }
  })

  it("replaces the prefix before every marker of a text that holds many", () => {
    const key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    const piece = "sk-proj-...[1 more characters]"
    const out = scrub(piece.repeat(5_000), [Redacted.make(key)])
    assert.strictEqual(out, "[redacted]...[1 more characters]".repeat(5_000))
  })

  it("keeps the model's words with scrubSecrets: configured secrets only, no key shape", () => {
    assert.strictEqual(
      scrubSecrets("risk-management-plan, canary-secret-value, canary-sec", [Redacted.make(secret)]),
      "risk-management-plan, [redacted], [redacted]"
    )
  })

  it("finds the longest prefix when a secret repeats its own start", () => {
    assert.strictEqual(scrub("xaaaaaaaaaa", [Redacted.make("aaaaaaaaaaZ")]), "x[redacted]")
  })

  it("truncate's own cut: no prefix of 8 characters survives, wherever the secret straddles it", () => {
    for (let kept = 1; kept < secret.length; kept++) {
      const text = `${"y".repeat(40 - kept)}${secret} trails`
      const out = scrub(truncate(text, 40), secrets)
      assert.match(out, /\.\.\.\[\d+ more characters\]$/, out)
      assert.notInclude(out, secret.slice(0, 8), out)
      if (kept >= 8) assert.include(out, "[redacted]...[", out)
    }
  })
})
