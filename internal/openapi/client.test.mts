// A client generated from openapi.yaml by openapi-typescript, called through openapi-fetch
// against a running Pulse: what a TypeScript application written from the document does.
// TestGeneratedTypeScriptClient (openapi_test.go) generates pulse.d.mts, compiles this file
// with tsc (strict: a route, parameter or field the document lacks fails the build) and runs it
// with node --test, PULSE_URL and PULSE_KEY pointing at the local API.
import { test } from "node:test";
import assert from "node:assert/strict";
import createClient from "openapi-fetch";
import type { paths, components } from "./pulse.d.mts";

const baseUrl = process.env.PULSE_URL;
const key = process.env.PULSE_KEY;
if (!baseUrl || !key) throw new Error("PULSE_URL and PULSE_KEY must be set");
const pulse = createClient<paths>({ baseUrl, headers: { "X-API-KEY": key } });

test("a login through the generated client", async () => {
  const { data, error, response } = await pulse.POST("/api/users/{user_id}/sessions", {
    params: { path: { user_id: "ts-user" } },
    body: { client_id: "web", ip_address: "203.0.113.9", user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" },
  });
  assert.equal(error, undefined);
  assert.equal(response.status, 201);
  const session: components["schemas"]["Session"] | undefined = data;
  assert.ok(session);
  assert.deepEqual(session.client_ids, ["web"]);
  assert.equal(session.last_metadata.ip_address, "203.0.113.9");
  assert.ok(session.expires_at > session.initiated_at);
});

test("the user's sessions, one page, paging in X-Pagination", async () => {
  const { data, response } = await pulse.GET("/api/users/{user_id}/sessions", {
    params: { path: { user_id: "ts-user" }, query: { page: 1, size: 5, sort: "initiated_at:-1", status: "all" } },
  });
  assert.equal(response.status, 200);
  assert.equal(data?.length, 1);
  const paging = JSON.parse(response.headers.get("X-Pagination") ?? "{}");
  assert.deepEqual(paging, { page_size: 5, current_page: 1, total_count: 1, has_previous: false, has_next: false });
});

test("an unknown user is a typed problem", async () => {
  const { data, error, response } = await pulse.GET("/api/users/{user_id}/sessions", {
    params: { path: { user_id: "nobody" } },
  });
  assert.equal(data, undefined);
  assert.equal(response.status, 404);
  // The error is a problem, or API Gateway's own throttling answer: the document says which.
  assert.ok(error && "traceId" in error);
  const problem: components["schemas"]["Problem"] = error;
  assert.equal(problem.status, 404);
  assert.match(problem.type, /^https:\/\/httpstatuses\.io\/404$/);
});
