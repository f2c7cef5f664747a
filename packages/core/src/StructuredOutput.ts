/**
 * The shape a structured answer must have, and how to check it.
 *
 * A `StructuredOutput<A>` pairs a JSON Schema (sent to the provider's native
 * structured-output mode) with a decoder that turns the model's text into an
 * `A` or says precisely what is wrong (the issue is fed back to the model on a
 * re-ask). It comes from either:
 *
 * - an Effect `Schema` (`fromSchema`): the JSON Schema is generated from it
 *   (`Schema.toJsonSchemaDocument`), with the definition a root `$ref` names
 *   (a `Schema.Class`, any schema with an identifier) inlined at the root, so
 *   that the root is the object itself, as providers want; it says
 *   `additionalProperties: false`, so providers that follow the schema send
 *   no other key, and the decoder drops a key the schema lacks from an answer
 *   of one that does not (a provider told the schema in the prompt alone),
 *   rather than re-ask; the decoded value is typed; or
 * - a raw JSON Schema object (`fromJsonSchema`), compiled by Ajv and
 *   checked against every answer; the value is `unknown`. Its `$schema`
 *   names its dialect: draft-07 (what the OpenAI SDK's `zodResponseFormat`
 *   and the Vercel AI SDK send), 2019-09, or 2020-12, the default. Each is
 *   compiled by Ajv's class for that dialect, so draft-07's `definitions`,
 *   `$ref` beside other keywords and tuple `items` mean what draft-07 says.
 *   Any other `$schema` is refused.
 *
 * Each schema is compiled once. An Effect `Schema` is cached by identity (a
 * `WeakMap`): declare it once (module level), not inside the call. A raw
 * JSON Schema object is cached by identity too (do not change it once used),
 * and by its canonical JSON text (keys sorted), so the
 * same schema compiles once even when every call brings a new object with
 * its keys in another order (a gateway decoding it from each request body);
 * that cache keeps the {@link maxCompiledJsonSchemas} most recently used
 * schemas, of at most {@link maxCompiledJsonSchemaChars} characters in all.
 * Each schema is still sent to the provider as the caller wrote it.
 *
 * A schema from a client (`fromJsonSchema(schema, { untrusted: true })`, as
 * the gateway calls it) is not trusted code. JavaScript's `RegExp`
 * backtracks on the event loop, where no deadline interrupts it: a client's
 * `"pattern": "^(a+)+$"` and an answer `"aaa…!"` would hold the process for
 * minutes, and even `"a+b"` costs n² steps on a long string. So a client's
 * `pattern`s and `patternProperties` keys run on Baton's own matcher,
 * linear in the string (Thompson's construction, with the meaning of
 * JavaScript's `u`-flag regexes); one answer's checks stop after
 * {@link patternStepsPerAnswer} steps in all, and an answer that needs more
 * fails with a message saying so. Lookarounds run there too (each a program
 * of its own, run once over the string). A pattern the matcher cannot run
 * (a backreference, or counted repetitions and lookarounds that expand past
 * 2 000 instructions in all) is refused with `InvalidOptions` naming it by
 * JSON Pointer (`schema: /properties/code/pattern ...`), before any call.
 * The program's own schemas keep JavaScript's `RegExp` and its whole syntax.
 * Any raw schema, a client's or the program's, must be a plain JSON object
 * nested at most 100 levels of objects and arrays (as a tool's parameters,
 * `Tool.maxParametersDepth`): Ajv's compile takes seconds over some hundreds
 * of levels and overflows the stack past about 1 000. A client's schema is
 * also bounded in size: Ajv compiles a schema into JavaScript on the event
 * loop, with Baton's options some 1-1.6 µs a character of it (up to 3 µs
 * for a process's first compile), where a client's 774,000 characters (under
 * a gateway's 1 MiB body) held every other request 0.9-1.2 s (3.5 s with
 * Ajv's default options); one over {@link maxUntrustedJsonSchemaChars}
 * characters of canonical JSON is refused with `InvalidOptions`, saying its
 * size, before it is compiled or walked for `$ref` loops and patterns.
 * Each `$ref` of any raw schema compiles as a call, not a copy of what it
 * names (a copy grows the compile, and Ajv's inlined `contains` let a wrong
 * answer through). Ajv compiles each schema holding a `$dynamicAnchor` or
 * `$recursiveAnchor` (but the root) again as a schema of its own, and one
 * inside it again within that, doubling the compile a level (16 levels, 711
 * characters: 3.4 s): a client's holder inside another holder but the root
 * (not in its `$defs`, which Ajv compiles apart) is refused with
 * `InvalidOptions` naming it by JSON Pointer, and so is one in another
 * `$id` resource but at the root of one in `$defs` (Ajv compiles it again
 * against the root's base URI, its `#…` `$ref`s naming the root's schemas).
 * Generic schemas keep theirs at the root and in definitions (640 holders
 * side by side, 31,812 characters, compile in 0.1 s, 0.19 s as a process's
 * first compile). Ajv also compiles the schema each distinct `$ref` URI
 * names as a function of its own, whole (one holding nothing its dialect's
 * Ajv has a rule for but the `$ref` as the schema that names), so `$ref`s to each level of one chain
 * compile its bottom once a ref (90 levels over 1,000 properties, 28,708
 * characters: 10-15 s): a client's schema whose `$ref`s would make Ajv
 * compile more than {@link maxUntrustedCompiledChars} characters of schema
 * is refused with `InvalidOptions` saying how much, before it is compiled.
 *
 * Why Ajv and not Effect's own JSON Schema import: Effect 4.1's
 * `SchemaRepresentation.fromJsonSchemaDocument` imports a raw schema about
 * 500 times faster (0.3 ms against 160 ms for Ajv's compile of a quiz
 * schema, measured on the shared CI machine), but it rejects valid Draft
 * 2020-12 documents a caller may send (`contains`, `if` / `then`, and any
 * `pattern` unless told to apply it) and strips, rather than rejects,
 * properties a closed object does not declare. With compile-once the cost
 * difference is paid once per schema, so Ajv's complete validation wins.
 * Likewise `effect/ai`'s `OpenAiStructuredOutput.toCodecOpenAI` is not used
 * for OpenAI's strict subset: by its contract it throws for a root that is
 * not an object or contains `anyOf` (any `Schema.Union`, any optional
 * nullable field) and re-encodes tuples and records into other shapes,
 * where Baton sends such schemas with `strict: false` and decodes the
 * answer with the caller's own schema.
 *
 * Decoding tolerates a Markdown code fence around the JSON (backticks or
 * tildes, a `json` tag in any case), which models add even when asked not to.
 * An answer nested more than {@link maxAnswerDepth} (100) levels of arrays
 * and objects fails to decode, saying so, whatever its schema and step: it
 * is measured (without recursion) before Effect's `Schema` decoder or Ajv
 * sees it, as both recurse at least once per level of a recursive schema
 * and a deep enough answer would overflow the stack. Where a step reads
 * the answer first, see {@link maxAnswerDepth} for how it is kept from
 * recursing into it.
 *
 * Gotcha: in schemas meant for a model use `Schema.Finite` and `Schema.Int`,
 * not `Schema.Number` (whose JSON Schema admits `"NaN"` and loses its bounds).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as StructuredOutput from "@baton/core/StructuredOutput"
 *
 * const Quiz = Schema.Struct({
 *   question: Schema.String,
 *   choices: Schema.Array(Schema.String),
 *   answer: Schema.Int
 * })
 * const output = StructuredOutput.fromSchema(Quiz, { name: "quiz" })
 * ```
 *
 * @since 0.1.0
 */
import { Ajv2019 } from "ajv/dist/2019.js"
import { Ajv2020 } from "ajv/dist/2020.js"
import { Ajv } from "ajv/dist/ajv.js"
import type { Options, ValidateFunction } from "ajv/dist/core.js"
import { Effect, Result, Schema } from "effect"
import type { GenerationResult, StructuredResult } from "./GenerationResult.ts"
import * as JsonDepth from "./internal/jsonDepth.ts"
import * as LinearPattern from "./internal/linearPattern.ts"
import * as RefLoop from "./internal/refLoop.ts"
import { inlineRoot } from "./internal/rootRef.ts"
import { InvalidOptions } from "./LlmError.ts"
import { StructuredOutputInvalid } from "./ProviderError.ts"

/**
 * A JSON Schema object.
 *
 * @since 0.1.0
 */
export type JsonSchema = { readonly [key: string]: unknown }

/**
 * A structured-output specification.
 *
 * @since 0.1.0
 */
export interface StructuredOutput<A> {
  /** A short name for the schema (OpenAI requires one): letters, digits, `_`, `-`. */
  readonly name: string
  /** A self-contained JSON Schema (definitions inlined under `$defs`). */
  readonly jsonSchema: JsonSchema
  /** Parses and checks an answer; the failure is a message fit to show the model. */
  readonly decode: (text: string) => Result.Result<A, string>
}

/**
 * What `generateStructured` accepts: an Effect `Schema`, a raw JSON Schema
 * object, or a ready `StructuredOutput`.
 *
 * @since 0.1.0
 */
export type Spec<A> = Schema.Codec<A, unknown> | JsonSchema | StructuredOutput<A>

/**
 * A provider's answer decoded by `output`: the result with its `value`, or a
 * `StructuredOutputInvalid` with the decode issue, the raw answer and what it
 * billed, `truncated` when the answer ended at the token limit (finish reason
 * `length`: no re-ask with the same budget can fix it). `answer` is the text
 * to decode when a codec read the answer first (OpenAI's strict mode).
 *
 * @since 0.1.0
 */
export const decodeResult = <A>(
  output: StructuredOutput<A>,
  result: GenerationResult,
  answer: string = result.content
): Result.Result<StructuredResult<A>, StructuredOutputInvalid> => {
  const decoded = output.decode(answer)
  if (decoded._tag === "Success") return Result.succeed({ ...result, value: decoded.success })
  return Result.fail(
    new StructuredOutputInvalid({
      provider: result.provider,
      model: result.model,
      issue: decoded.failure,
      content: result.content,
      usage: result.usage,
      ...(result.finishReason === "length" ? { truncated: true } : {})
    })
  )
}

const errorMessage = (error: unknown): string => error instanceof Error ? error.message : String(error)

const NAME = /^[a-zA-Z0-9_-]{1,64}$/

/** The output, if its name is one OpenAI takes: the one check of the name, whichever way the output was built. */
const named = <A>(output: StructuredOutput<A>): Effect.Effect<StructuredOutput<A>, InvalidOptions> =>
  NAME.test(output.name)
    ? Effect.succeed(output)
    : Effect.fail(new InvalidOptions({ field: "name", message: "name: 1-64 letters, digits, '_' or '-'" }))

// an opening run of three or more backticks or tildes, an optional `json` tag, the body, the same run closing it
const fence = /^\s*(`{3,}|~{3,})[ \t]*(?:json)?[ \t]*\r?\n([\s\S]*?)\r?\n?\1\s*$/i

/**
 * The JSON inside a Markdown fence (```` ```json ````, ```` ~~~ ````, the
 * tag in any case), or the text itself: what `decode` reads, for a codec
 * that reads the answer before it.
 *
 * @since 0.1.0
 */
export const unfenced = (text: string): string => fence.exec(text)?.[2] ?? text

// V8 quotes the answer's start after an unexpected token: model output (it may echo the prompt) that the log keeps
const quotedAnswer = /^(Unexpected token '.'), [\s\S]*$/u

const parseJson = (text: string): Result.Result<unknown, string> => {
  try {
    return Result.succeed(JSON.parse(unfenced(text)))
  } catch (error) {
    return Result.fail(`the answer is not valid JSON (${errorMessage(error).replace(quotedAnswer, "$1")})`)
  }
}

/**
 * The most levels of arrays and objects a structured answer may nest, the
 * root being the first, whatever its schema. Every check of an answer
 * recurses at least once a level, and the stack ends its depth: Effect's
 * `Schema` decoder overflowed it some 900 levels down a recursive
 * `Schema.suspend` tree (`{ children: [...] }`) and some 450 to 500 down a
 * chain of checked structs, or unions of them, linked by nullable fields (a
 * process's first decode, its code not yet optimised: fewer levels than
 * later ones); Ajv, checking a recursive raw JSON Schema (as Baton
 * compiles one: `$ref`s as calls, code unoptimized), some 3,700 levels of
 * `[[[…]]]` against `{ items: { $ref: "#" } }`, 2,600 down a tree of
 * objects, 1,300 when a level goes through three references (390 through
 * twelve); OpenAI's strict-mode rewrite of an answer
 * (`dropOptionalNulls`) some 1,500; `effect/ai`'s `generateObject`, whose
 * codec decodes the answer before Baton's, some 2,000 down that tree. A
 * deeper answer fails to decode, saying so (a `StructuredOutputInvalid`,
 * re-asked and fallen back from as any other), on every path a structured
 * answer takes: `generateStructured` with an Effect `Schema` or a raw JSON
 * Schema (the gateway's `json_schema`), on Baton's adapters (OpenAI's does
 * not rewrite such an answer) and on an `effect/ai` step (`@baton/ai`'s
 * `LanguageModelProvider`: a stack overflow in `generateObject`'s decode
 * of an answer {@link answerNestsTooDeep} finds is this failure, not a
 * defect), and `@baton/ai`'s `BatonLanguageModel`, whose `generateObject`
 * decodes only what Baton's decoder took. A stack overflow on an answer
 * within the bound is a defect, and stays one, but for a client's schema
 * (`untrusted`), whose `$ref` chains may nest deep enough to overflow on a
 * shallow answer: its check fails that answer. Real answers nest a few
 * levels (OpenAI's strict mode takes schemas at most 10 levels deep).
 *
 * @since 0.1.0
 */
export const maxAnswerDepth = 100

/**
 * Whether `value` (parsed JSON) nests more than {@link maxAnswerDepth}
 * levels of arrays and objects, measured without recursion.
 *
 * @since 0.1.0
 */
export const nestsTooDeep = (value: unknown): boolean => JsonDepth.deeperThan(value, maxAnswerDepth)

/**
 * Whether an answer's text (fenced or not) is JSON nested more than
 * {@link maxAnswerDepth} levels: one the decode refuses for its depth, for
 * a caller whose own codec read the answer first and overflowed the stack.
 *
 * @since 0.1.0
 */
export const answerNestsTooDeep = (text: string): boolean =>
  Result.match(parseJson(text), { onFailure: () => false, onSuccess: nestsTooDeep })

/**
 * The answer's JSON, for either decoder: parsed once, and refused when it
 * nests more than {@link maxAnswerDepth} levels, before any decoder
 * recurses into it.
 */
const parseAnswer = (text: string): Result.Result<unknown, string> =>
  Result.filterOrFail(
    parseJson(text),
    (value) => !nestsTooDeep(value),
    () => `the answer nests more than ${maxAnswerDepth} levels of arrays and objects`
  )

/**
 * The instruction that asks for JSON for `responseFormat: "json"` without a
 * schema: in the system prompt of a provider with no JSON mode (Anthropic,
 * an `effect/ai` step), and in a system message beside chat completions'
 * `json_object`, which OpenAI and DeepSeek take only when a message says
 * "json" (this one does).
 *
 * @since 0.1.0
 */
export const jsonInstruction = "Respond with only one valid JSON value: no prose before or after it, no Markdown fence."

/**
 * Why a request cannot get a structured answer, if it cannot: the answer is
 * JSON, never a tool call, so a request offering tools the model may call
 * (any `toolChoice` but `"none"`) is refused with `InvalidOptions` (field
 * `tools`); `undefined` for any other. `LlmManager` and every provider's
 * `generateStructured` ask before calling.
 *
 * @since 0.1.0
 */
export const toolsRefused = (request: {
  readonly tools?: ReadonlyArray<unknown> | undefined
  readonly toolChoice?: unknown
}): InvalidOptions | undefined =>
  request.tools !== undefined && request.tools.length > 0 && request.toolChoice !== "none"
    ? new InvalidOptions({
      field: "tools",
      message: "tools: a structured answer is JSON, never a tool call; " +
        "offer the tools to generate or stream, or set toolChoice \"none\""
    })
    : undefined

/** A schema compiled once: everything of a `StructuredOutput` but its name. */
type Compiled<A> = Omit<StructuredOutput<A>, "name">

/** Compilations of Effect schemas, by identity; entries go when the schema object does. */
const compiledSchemas = new WeakMap<object, Compiled<unknown>>()

const cached = <C>(cache: WeakMap<object, C>, key: object, compile: () => C): C => {
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  const compiled = compile()
  cache.set(key, compiled)
  return compiled
}

const compileSchema = <A>(schema: Schema.Codec<A, unknown>): Compiled<A> => {
  const document = Schema.toJsonSchemaDocument(schema, { onExcessProperty: "error" })
  // the answer is JSON, as the JSON Schema describes it: decoded by the schema's JSON codec (`Schema.optional`'s
  // null is absent, a `Date` a string), not as if it were the schema's own type
  const decodeValue = Schema.decodeUnknownResult(Schema.toCodecJson(schema))
  return {
    // the definition a root `$ref` names (a `Schema.Class`) inlined: providers want the object at the root
    jsonSchema: inlineRoot(
      Object.keys(document.definitions).length === 0
        ? document.schema
        : { ...document.schema, $defs: document.definitions }
    ),
    decode: (text) =>
      Result.flatMap(
        parseAnswer(text),
        // a key the schema lacks is dropped, not re-asked for: a provider told the schema in the prompt alone
        // (DeepSeek's JSON mode) may add one, and the typed value never holds it
        (value) => Result.mapError(decodeValue(value, { errors: "all" }), (error) => error.message)
      )
  }
}

/**
 * A specification from an Effect `Schema`, compiled once per schema. Its
 * name is checked where it is used (`make`, `generateStructured`): one
 * OpenAI refuses fails there with `InvalidOptions`, before any call.
 *
 * @since 0.1.0
 */
export const fromSchema = <A>(
  schema: Schema.Codec<A, unknown>,
  options?: { readonly name?: string | undefined }
): StructuredOutput<A> => {
  const compiled = cached(compiledSchemas, schema, () => compileSchema<unknown>(schema))
  // the entry was compiled from this very schema, so its decoder yields an `A`
  return { ...(compiled as Compiled<A>), name: options?.name ?? "output" }
}

/**
 * How many compiled raw JSON Schemas are kept, the most recently used.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxCompiledJsonSchemas = 256

/**
 * The most characters of canonical JSON the kept raw JSON Schemas may add
 * up to, so that large schemas cannot grow the cache without bound. A schema
 * over an eighth of it is compiled on each call and never kept: one cannot
 * push all the others out.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxCompiledJsonSchemaChars = 4_000_000

/**
 * The steps a client's patterns may take on one answer, all its strings
 * together: some tens of milliseconds of the event loop at worst, and
 * enough for strings of some 250 000 characters against a simple pattern.
 *
 * @since 0.1.0
 * @category constants
 */
export const patternStepsPerAnswer = 1_000_000

/**
 * The most characters of canonical JSON (keys sorted, no whitespace) a
 * client's schema (`untrusted`) may have; one over it is refused with
 * `InvalidOptions` before it is compiled. Ajv compiles a schema into
 * JavaScript on the event loop, with Baton's options (`$ref`s as calls,
 * code unoptimized) some 1-1.6 µs a character, up to 3 µs for a process's
 * first compile (most of it V8 parsing the generated code): measured on the
 * shared CI machine, a client's schema at this bound compiles in 30-105 ms
 * (1,250 string properties: 40-60 ms, 0.12 s as a process's first
 * compile), the more distinct patterns the slower (1,250
 * `patternProperties` keys, or 1,000 patterns of 1,000-2,000 instructions
 * each: 0.18-0.26 s; 640 `$dynamicAnchor` holders: 0.1 s, 0.19 s first),
 * where 774,000 characters (under a gateway's 1 MiB body) take 0.9-1.2 s
 * (3.5 s with Ajv's defaults). `$ref`s may make Ajv compile up to
 * {@link maxUntrustedCompiledChars}, twice this bound: `$ref`s to 3 levels
 * of a chain over 800 properties (20,086 characters, some 60,000 compiled)
 * took 60-80 ms, 0.15 s first. A quiz
 * (294 characters), 100 OpenAI-strict fields (15,078) and a course of 40
 * nested lessons (30,336) fit. The program's own schemas have no such bound.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxUntrustedJsonSchemaChars = 32_000

/**
 * About how many characters of schema Ajv may compile for a client's
 * schema (`untrusted`), twice {@link maxUntrustedJsonSchemaChars}: one
 * whose `$ref`s would make it compile more is refused with `InvalidOptions`
 * before it is compiled. Ajv compiles each distinct `$ref` URI's target as
 * a function of its own, with all that target holds but its definitions,
 * so refs to each level of one chain compile its bottom once a ref: 90
 * `$anchor`s down an `items` chain with 1,000 properties at the bottom,
 * 28,708 characters, made Ajv compile some 2.4 million characters, in
 * 10-15 s. The estimate walks the schema once: the root's subschemas, each
 * distinct `$ref` URI's target (a schema with no keyword but `$ref` that
 * its dialect's Ajv has a rule for, `RULES.all`, counted with the one it
 * leads to: 2020-12 has no `additionalItems`), each other resource a `$ref` leads into, and
 * each dynamic anchor's holder again (Ajv compiles one as a function of its
 * own too). A schema without `$ref`s is within it; a generic one that names
 * each definition by `#/$defs/…` compiles each once, about its own size.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxUntrustedCompiledChars = 2 * maxUntrustedJsonSchemaChars

type Decode = StructuredOutput<unknown>["decode"]

/** Compilations of raw JSON Schemas by trust and canonical text, least recently used first. */
const compiledJsonSchemas = new Map<string, Decode | InvalidOptions>()

/** The characters of the keys of {@link compiledJsonSchemas}. */
let compiledJsonSchemaChars = 0

/** Compilations of raw JSON Schema objects by identity, by trust: a schema declared once skips its canonical text. */
const compiledJsonSchemaObjects = {
  program: new WeakMap<object, Decode | InvalidOptions>(),
  client: new WeakMap<object, Decode | InvalidOptions>()
}

const forgetCompiled = (key: string): void => {
  if (compiledJsonSchemas.delete(key)) compiledJsonSchemaChars -= key.length
}

/** Drops the least recently used compilations past either bound. */
const evictCompiled = (): void => {
  for (const key of compiledJsonSchemas.keys()) {
    if (
      compiledJsonSchemas.size <= maxCompiledJsonSchemas && compiledJsonSchemaChars <= maxCompiledJsonSchemaChars
    ) return
    forgetCompiled(key)
  }
}

/** The compilation kept under `key`, now the most recently used, or a new one, kept unless it is too large. */
const compileOnce = (key: string, compile: () => Decode | InvalidOptions): Decode | InvalidOptions => {
  const compiled = compiledJsonSchemas.get(key) ?? compile()
  forgetCompiled(key)
  if (key.length <= maxCompiledJsonSchemaChars / 8) {
    compiledJsonSchemas.set(key, compiled)
    compiledJsonSchemaChars += key.length
    evictCompiled()
  }
  return compiled
}

const invalidSchema = (detail: string) => new InvalidOptions({ field: "schema", message: `schema: ${detail}` })

const sortKeys = (_key: string, value: unknown): unknown =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a < b ? -1 : 1))
    : value

/** The schema as JSON with every object's keys sorted: one text per schema, whatever its key order. */
const canonicalJson = (schema: JsonSchema): Result.Result<string, InvalidOptions> =>
  Result.try({
    try: () => JSON.stringify(schema, sortKeys),
    catch: (error) => invalidSchema(`not a JSON value (${errorMessage(error)})`)
  })

/** Why a client's schema of canonical JSON `text` is too large to compile, if it is. */
const oversized = (text: string): string | undefined =>
  text.length > maxUntrustedJsonSchemaChars
    ? `${text.length} characters of JSON, at most ${maxUntrustedJsonSchemaChars} for a client's schema ` +
      "(StructuredOutput.maxUntrustedJsonSchemaChars: its compile would hold the event loop)"
    : undefined

type AnyAjv = Ajv | Ajv2019 | Ajv2020

/** A JSON Schema dialect: the Ajv class for it, and one instance that checks schemas against its meta-schema. */
interface Dialect {
  readonly make: (options: Options) => AnyAjv
  readonly meta: AnyAjv
}

const dialect = (make: (options: Options) => AnyAjv): Dialect => ({ make, meta: make({ strict: false }) })

/** The dialects a raw schema may name in `$schema` (less an empty fragment `#`). */
const dialects: ReadonlyMap<string, Dialect> = new Map([
  ["http://json-schema.org/draft-07/schema", dialect((options) => new Ajv(options))],
  ["https://json-schema.org/draft/2019-09/schema", dialect((options) => new Ajv2019(options))],
  ["https://json-schema.org/draft/2020-12/schema", dialect((options) => new Ajv2020(options))]
])

const dialectOf = (jsonSchema: JsonSchema): Dialect | undefined => {
  const uri = jsonSchema["$schema"] ?? "https://json-schema.org/draft/2020-12/schema"
  return typeof uri === "string" ? dialects.get(uri.replace(/#$/, "")) : undefined
}

/** Every regex of a schema by its JSON Pointer: the `pattern` strings and the `patternProperties` keys. */
const patternsOf = (value: unknown, pointer: string): ReadonlyArray<readonly [string, string]> =>
  typeof value !== "object" || value === null ?
    [] :
    Object.entries(value).flatMap(([key, child]: [string, unknown]) => {
      const at = `${pointer}/${JsonDepth.escapePointer(key)}`
      const pattern = key === "pattern" && typeof child === "string" ? [[at, child] as const] : []
      const keys = key === "patternProperties" && typeof child === "object" && child !== null
        ? Object.keys(child).map((source) => [`${at}/${JsonDepth.escapePointer(source)}`, source] as const)
        : []
      return [...pattern, ...keys, ...patternsOf(child, at)]
    })

/**
 * A client's patterns by source, each compiled once for the linear matcher
 * (drawing on `budget`), however often the schema repeats it; or the first
 * the matcher refuses, said where it is and why.
 */
const linearPatterns = (
  jsonSchema: JsonSchema,
  budget: LinearPattern.Budget
): Result.Result<Map<string, LinearPattern.LinearPattern>, string> => {
  const patterns = new Map<string, LinearPattern.LinearPattern>()
  for (const [pointer, source] of patternsOf(jsonSchema, "")) {
    if (patterns.has(source)) continue
    const compiled = LinearPattern.compile(source, budget)
    if (Result.isFailure(compiled)) {
      return Result.fail(
        `${pointer}: the pattern ${compiled.failure} (a client's patterns run in linear time: no backreference)`
      )
    }
    patterns.set(source, compiled.success)
  }
  return Result.succeed(patterns)
}

/**
 * The linear matcher's program for `source`: the one compiled before, or,
 * for a pattern that is not in the client's schema (in a meta-schema it
 * `$ref`s), one compiled now (drawing on `budget`) and kept with them.
 */
const linearPattern = (
  patterns: Map<string, LinearPattern.LinearPattern>,
  budget: LinearPattern.Budget,
  source: string
): LinearPattern.LinearPattern => {
  const known = patterns.get(source)
  if (known !== undefined) return known
  const compiled = LinearPattern.compile(source, budget)
  if (Result.isFailure(compiled)) throw new Error(`the pattern ${JSON.stringify(source)} ${compiled.failure}`)
  patterns.set(source, compiled.success)
  return compiled.success
}

/** Ajv's `code.regExp` for a client's schema: its `patterns`, compiled before, run by the linear matcher. */
const linearRegExp = (patterns: Map<string, LinearPattern.LinearPattern>, budget: LinearPattern.Budget) =>
  Object.assign((source: string) => {
    const compiled = linearPattern(patterns, budget, source)
    // Ajv tells compiled patterns apart by `toString()`
    return { test: compiled.test, toString: () => source }
  }, { code: "LinearPattern.compile" })

/**
 * Ajv's options for any raw schema: every error, no strict-mode refusals
 * (the meta-schema checked it), the generated code left unoptimized, and
 * each `$ref` a call of the schema it names, never a copy of it inlined.
 * Ajv's `code.optimize` passes take about half of a compile (1,000 string
 * properties: 49 ms against 24 ms) and make the validation no faster (a quiz
 * answer, 26.5 ns either way). Inlined (Ajv's default for a schema without
 * references of its own), a 100-property schema named by 500 `$ref`s,
 * 21,800 characters in all, compiles as 50,000 properties, in 11 s (61 ms
 * as calls); and Ajv's inlined `contains` wanting one match keeps an
 * item's verdict for the next (`{ items: { $ref: "#/$defs/C" } }` with `C`
 * a `contains` took `[["b"], []]`). A call costs some 15 ns an answer (a
 * course of 5 lessons of 3 quizzes, 20 calls: 0.35 µs against 0.63 µs).
 */
const ajvOptions: Options = {
  allErrors: true,
  strict: false,
  validateSchema: false,
  inlineRefs: false,
  code: { optimize: false }
}

/** Ajv's options for a client's schema: its patterns on the linear matcher. */
const clientOptions = (
  patterns: Map<string, LinearPattern.LinearPattern>,
  budget: LinearPattern.Budget
): Options => ({ ...ajvOptions, code: { ...ajvOptions.code, regExp: linearRegExp(patterns, budget) } })

/**
 * Whether `value` is valid. An exception Ajv's code for a client's schema
 * throws is the schema's fault: a failure saying so. Ajv 8.20 throws on
 * `{ anyOf: [{}, { additionalProperties: { type: "string" } }],
 * patternProperties: { "^a": {} } }` (or `oneOf`) and `{"a":"x","b":[1]}`:
 * with the branch that evaluates every property failing, its code marks the
 * pattern's properties in an object it never made. A stack overflow is the
 * client's schema's fault too: Ajv's check calls a function a `$ref`, and a
 * chain of 80 `$ref`s a level (3,399 characters) overflows the stack on a
 * `[[…]]` answer 99 levels deep, within the answer depth bound. On the
 * program's own schemas, an exception stays a defect.
 */
const validates = (validate: ValidateFunction, value: unknown, untrusted: boolean): Result.Result<boolean, string> => {
  if (!untrusted) return Result.succeed(validate(value))
  try {
    return Result.succeed(validate(value))
  } catch (error) {
    return Result.fail(
      error instanceof RangeError
        ? `the schema's references nest too deep to check this answer (${errorMessage(error)})`
        : `the schema's validator failed: ${errorMessage(error)}`
    )
  }
}

const decoder = (validate: ValidateFunction, budget: LinearPattern.Budget, untrusted: boolean): Decode => (text) =>
  Result.flatMap(parseAnswer(text), (value) => {
    budget.left = patternStepsPerAnswer
    const checked = validates(validate, value, untrusted)
    if (Result.isFailure(checked)) return checked
    const valid = checked.success
    if (budget.left <= 0) {
      return Result.fail(
        `the answer is too long to check against the schema's patterns (${patternStepsPerAnswer} steps)`
      )
    }
    return valid
      ? Result.succeed(value)
      : Result.fail(
        (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`).join("; ")
      )
  })

/** The bound of what Ajv compiles for a client's schema, by the rules of its dialect's Ajv (none known: none). */
const compileBound = (jsonSchema: JsonSchema): RefLoop.CompileBound => {
  const meta = dialectOf(jsonSchema)?.meta
  const rules = meta?.RULES.all ?? {}
  // as Ajv reads `RULES.all`, inherited properties and all
  return {
    maxChars: maxUntrustedCompiledChars,
    isRule: (keyword) => Boolean(rules[keyword]),
    isKnown: (uri) => meta !== undefined && (Object.hasOwn(meta.schemas, uri) || Object.hasOwn(meta.refs, uri))
  }
}

const compileJsonSchema = (jsonSchema: JsonSchema, untrusted: boolean): Decode | InvalidOptions => {
  const dialect = dialectOf(jsonSchema)
  if (dialect === undefined) {
    return invalidSchema(
      `$schema ${JSON.stringify(jsonSchema["$schema"])} is not a dialect Baton knows (draft-07, 2019-09, 2020-12)`
    )
  }
  // a schema nested deeper than the stack goes is as invalid as any other
  try {
    // the patterns of the program's own schemas run on JavaScript's `RegExp`, which never draws on the budget
    const budget: LinearPattern.Budget = { left: 0 }
    const patterns = untrusted ? linearPatterns(jsonSchema, budget) : Result.succeed(undefined)
    if (Result.isFailure(patterns)) return invalidSchema(patterns.failure)
    if (!dialect.meta.validateSchema(jsonSchema)) {
      return invalidSchema(`not a valid JSON Schema (${dialect.meta.errorsText(dialect.meta.errors)})`)
    }
    const ajv = dialect.make(patterns.success === undefined ? ajvOptions : clientOptions(patterns.success, budget))
    return decoder(ajv.compile(jsonSchema), budget, untrusted)
  } catch (error) {
    return invalidSchema(`not a valid JSON Schema (${errorMessage(error)})`)
  }
}

/**
 * A specification from a raw JSON Schema object, compiled once per schema
 * (see the module's notes). Fails with `InvalidOptions` when the name is
 * not 1-64 letters, digits, `_` or `-`, the schema itself is invalid, has
 * a `$ref` loop that reads no input (`D0 = { anyOf: [{ $ref: "#/$defs/D0" },
 * …] }`, which would check an answer against itself without end; a loop
 * through `properties` or `items`, a recursive tree, is fine; a
 * `$dynamicRef` / `$recursiveRef` counts as leading to every schema Ajv may
 * resolve it to) or,
 * `untrusted`, is over {@link maxUntrustedJsonSchemaChars} characters, has
 * a `$dynamicAnchor` / `$recursiveAnchor` inside a schema holding one (the
 * root aside) or in another `$id` resource (but at the root of one in
 * `$defs`), has `$ref`s that would make Ajv compile more than
 * {@link maxUntrustedCompiledChars}, or has a pattern that cannot run in
 * linear time.
 * `untrusted` is for a schema from outside the program (a gateway's
 * client): its patterns run on the linear matcher, and an exception Ajv's
 * check of it throws on an answer fails that answer's decode (`the
 * schema's validator failed: …`, or, for a stack overflow, `the schema's
 * references nest too deep to check this answer`), as an answer that does
 * not match.
 *
 * @since 0.1.0
 */
export const fromJsonSchema = (
  jsonSchema: JsonSchema,
  options?: { readonly name?: string | undefined; readonly untrusted?: boolean | undefined }
): Effect.Effect<StructuredOutput<unknown>, InvalidOptions> =>
  Effect.suspend(() => {
    const name = options?.name ?? "output"
    const untrusted = options?.untrusted === true
    const trust = untrusted ? "client" : "program"
    const compiled = cached(compiledJsonSchemaObjects[trust], jsonSchema, () => {
      // before any recursive walk: Ajv takes seconds over a schema some hundreds of levels deep, and overflows past 1,000
      const deep = JsonDepth.issue(jsonSchema)
      if (deep !== undefined) return invalidSchema(deep)
      return Result.match(canonicalJson(jsonSchema), {
        onFailure: (invalid) => invalid,
        onSuccess: (text) => {
          // the program's own schemas have no compile bound: none is built for them
          const wrong = untrusted
            ? oversized(text) ?? RefLoop.issue(jsonSchema, true, compileBound(jsonSchema))
            : RefLoop.issue(jsonSchema, false)
          return wrong !== undefined
            ? invalidSchema(wrong)
            : compileOnce(`${trust}:${text}`, () => compileJsonSchema(jsonSchema, untrusted))
        }
      })
    })
    return compiled instanceof InvalidOptions ? Effect.fail(compiled) : named({ name, jsonSchema, decode: compiled })
  })

const noSpec = invalidSchema("expected an Effect Schema, a StructuredOutput or a JSON Schema object")

const isStructuredOutput = <A>(spec: Spec<A>): spec is StructuredOutput<A> =>
  "decode" in spec && "jsonSchema" in spec && typeof spec.decode === "function"

/**
 * Normalises any `Spec` to a `StructuredOutput`, checking its name (a
 * ready-made one's too). A raw JSON Schema yields `unknown` values.
 *
 * @since 0.1.0
 */
export function make<A>(
  spec: Schema.Codec<A, unknown> | StructuredOutput<A>,
  options?: { readonly name?: string | undefined }
): Effect.Effect<StructuredOutput<A>, InvalidOptions>
export function make(
  spec: JsonSchema,
  options?: { readonly name?: string | undefined }
): Effect.Effect<StructuredOutput<unknown>, InvalidOptions>
export function make(
  spec: Spec<unknown>,
  options?: { readonly name?: string | undefined }
): Effect.Effect<StructuredOutput<unknown>, InvalidOptions> {
  return fromSpec(spec, options)
}

/**
 * `make` for a spec whose kind is not known statically; values are `unknown`.
 *
 * @since 0.1.0
 */
export const fromSpec = (
  spec: Spec<unknown>,
  options?: { readonly name?: string | undefined }
): Effect.Effect<StructuredOutput<unknown>, InvalidOptions> => {
  if (Schema.isSchema(spec)) return named(fromSchema(spec, options))
  // input built without the types: no spec at all
  const given: unknown = spec
  if (typeof given !== "object" || given === null) return Effect.fail(noSpec)
  if (isStructuredOutput(spec)) return named(spec)
  return fromJsonSchema(spec, options)
}
