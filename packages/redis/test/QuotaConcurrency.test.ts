/**
 * Many processes, one teacher, one Redis: several OS processes each race
 * hundreds of generations for the same subject with a daily limit of 100,
 * and some generations fail (so their units are refunded). Exactly 100
 * generations may succeed, and the counter left in Redis must equal them:
 * no overshoot, no lost refund.
 */
import { SubjectId } from "@baton/core/Ids"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { type ChildProcessByStdio, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import type { Readable, Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import { createClient } from "redis"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import * as RedisTest from "./redisTest.ts"

const node = fileURLToPath(new URL("../../../node_modules/.bin/node", import.meta.url))
const worker = fileURLToPath(new URL("fixtures/quotaWorker.ts", import.meta.url))

const prefix = RedisTest.uniquePrefix("quota-concurrency")
const processes = 4
const fibers = 300
const limit = 100
const failEvery = 4

const Report = Schema.fromJsonString(Schema.Struct({
  day: Schema.String,
  granted: Schema.Int,
  committed: Schema.Int,
  failed: Schema.Int,
  rejected: Schema.Int,
  unavailable: Schema.Int
}))

type Report = typeof Report.Type

type Worker = ChildProcessByStdio<Writable, Readable, Readable>

/** Resolves with the worker's lines once it printed `ready`, and its report when it exits 0. */
const start = (subject: string) => {
  const child: Worker = spawn(node, [
    worker,
    JSON.stringify({ redisUrl: RedisTest.redisUrl, prefix, subject, fibers, limit, failEvery })
  ], { stdio: ["pipe", "pipe", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const lines: Array<string> = []
  const ready = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line === "ready") resolve()
      else lines.push(line)
    })
  })
  const done = new Promise<Report>((resolve, reject) => {
    child.on("exit", (code) => {
      const last = lines.at(-1)
      if (code === 0 && last !== undefined) resolve(Schema.decodeUnknownSync(Report)(last))
      else reject(new Error(`quota worker exited with ${code}: ${stderr}`))
    })
  })
  return { child, ready, done }
}

describe.skipIf(!RedisTest.redisAvailable)("RedisQuotaStore across processes", () => {
  afterAll(() => RedisTest.deleteKeys(prefix))

  it("grants exactly the limit and loses no refund", async () => {
    const subject = `teacher-${crypto.randomUUID()}`
    const workers = Array.from({ length: processes }, () => start(subject))
    await Promise.all(workers.map((w) => w.ready))
    for (const w of workers) w.child.stdin.write("go\n")
    const reports = await Promise.all(workers.map((w) => w.done))
    const total = (field: Exclude<keyof Report, "day">) => reports.reduce((sum, r) => sum + r[field], 0)

    const days = new Set(reports.map((r) => r.day))
    assert.strictEqual(days.size, 1, "every process worked on the same day")
    const [day = ""] = days
    const client = createClient({ url: RedisTest.redisUrl })
    await client.connect()
    const stored = await client.hGet(
      RedisQuotaStore.keyOf(prefix, { subjectId: SubjectId.make(subject), day }),
      "units"
    )
    client.destroy()

    assert.strictEqual(total("unavailable"), 0)
    assert.strictEqual(total("committed"), limit)
    assert.strictEqual(Number(stored), limit)
    assert.isAbove(total("failed"), 0, "some generations failed and were refunded")
    assert.isAbove(total("rejected"), 0, "the limit refused some generations")
    assert.strictEqual(total("granted") - total("failed"), Number(stored), "every failed generation was refunded")
    assert.strictEqual(total("committed") + total("failed") + total("rejected"), processes * fibers)
  }, 60_000)
})
