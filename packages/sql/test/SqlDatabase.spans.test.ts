/**
 * The spans of a PostgreSQL query made over `SqlDatabase.layerUrl` name the
 * server and database of the URL (`server.address`, `server.port`,
 * `db.namespace`), never its password.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { recordingTracer } from "../../core/test/utils/tracer.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import { postgresAvailable, postgresUrl } from "./postgres.ts"

describe.skipIf(!postgresAvailable)("SqlDatabase over PostgreSQL: spans", () => {
  const url = new URL(postgresUrl)
  url.password = "s3cret-in-url"
  const expected = { address: url.hostname, port: Number(url.port || 5432), database: url.pathname.slice(1) }
  // the driver's query parameters win over the URL's own parts
  const byQuery = new URL(`postgres://${url.username}:s3cret-in-url@elsewhere:1/other`)
  byQuery.search = new URLSearchParams({ host: url.hostname, port: url.port || "5432", dbname: expected.database })
    .toString()

  it.live.each([{ form: "its parts", href: url.href }, { form: "query parameters", href: byQuery.href }])(
    "a query's span carries the host, port and database the URL names by $form, and no password",
    ({ href }) =>
      Effect.gen(function*() {
        const { spans, tracer } = recordingTracer()
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1 AS one`).pipe(
          Effect.provide(SqlDatabase.layerUrl(href)),
          Effect.withTracer(tracer)
        )
        const query = spans.find((span) => span.attributes.get("db.system.name") === "postgresql")
        assert.isDefined(query, `spans: ${spans.map((span) => span.name).join(", ")}`)
        assert.deepStrictEqual(
          {
            address: query.attributes.get("server.address"),
            port: query.attributes.get("server.port"),
            database: query.attributes.get("db.namespace")
          },
          expected
        )
        for (const span of spans) {
          assert.notInclude(JSON.stringify([...span.attributes]), "s3cret", span.name)
        }
      })
  )
})
