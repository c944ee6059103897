import { test } from "node:test";
import assert from "node:assert/strict";

import { AdminApi, type Fetch } from "../src/operator/api";

interface Call {
  url: string;
  init: RequestInit | undefined;
}

function fake(status: number, body: unknown, calls: Call[] = []): Fetch {
  return async (url, init) => {
    calls.push({ url, init });
    const text = typeof body === "string" ? body : JSON.stringify(body);
    return new Response(text, { status, headers: { "content-type": "application/json" } });
  };
}

test("send posts the session and message as JSON with its idempotency key, and no Authorization", async () => {
  const calls: Call[] = [];
  const api = new AdminApi(fake(202, { id: "m1", status: "queued" }, calls));
  const sent = await api.send("s1", { type: "say", text: "hi" }, "key-1");
  assert.deepEqual(sent, { ok: true, value: { id: "m1", status: "queued" } });
  const [call] = calls;
  assert.equal(call?.url, "/admin");
  assert.equal(call?.init?.method, "POST");
  assert.deepEqual(JSON.parse(String(call?.init?.body)), {
    session_id: "s1",
    message: { type: "say", text: "hi" },
  });
  const headers = new Headers(call?.init?.headers);
  assert.equal(headers.get("idempotency-key"), "key-1");
  assert.equal(headers.get("content-type"), "application/json");
  assert.equal(headers.get("authorization"), null);
  assert.equal(call?.init?.credentials, "same-origin");
});

test("a 422 comes back with the API's message and field", async () => {
  const api = new AdminApi(
    fake(422, {
      error: { message: "message.text: String should have at most 4000 characters", field: "message.text" },
    }),
  );
  const sent = await api.send("s1", { type: "say", text: "x" }, "k");
  assert.deepEqual(sent, {
    ok: false,
    problem: {
      status: 422,
      message: "message.text: String should have at most 4000 characters",
      field: "message.text",
    },
  });
});

test("429 and 404 keep their status and message", async () => {
  for (const [status, message] of [
    [429, "admin queue for s1 is full (1000 messages)"],
    [404, "no session 's1'"],
  ] as const) {
    const sent = await new AdminApi(fake(status, { error: { message } })).send(
      "s1",
      { type: "say", text: "x" },
      "k",
    );
    assert.deepEqual(sent, { ok: false, problem: { status, message } });
  }
});

test("an answer that is not the API's JSON is described, not thrown", async () => {
  const sent = await new AdminApi(fake(502, "<html>bad gateway</html>")).sessions();
  assert.equal(sent.ok, false);
  if (!sent.ok) assert.equal(sent.problem.status, 502);
  const odd = await new AdminApi(fake(200, { nope: true })).message("m1");
  assert.equal(odd.ok, false);
});

test("no answer at all is status 0, unreachable", async () => {
  const api = new AdminApi(async () => {
    throw new TypeError("fetch failed");
  });
  const answer = await api.sessions();
  assert.deepEqual(answer, { ok: false, problem: { status: 0, message: "the admin API is unreachable" } });
});

test("ids are escaped into paths", async () => {
  const calls: Call[] = [];
  await new AdminApi(fake(404, { error: { message: "no" } }, calls)).message("a/../b?c");
  assert.equal(calls[0]?.url, "/admin/messages/a%2F..%2Fb%3Fc");
});

test("a message's status is read with its timestamps and reason", async () => {
  const api = new AdminApi(
    fake(200, {
      id: "m1",
      type: "dance",
      status: "rejected",
      created_at: 1,
      claimed_at: 2,
      reason: "unknown type",
    }),
  );
  assert.deepEqual(await api.message("m1"), {
    ok: true,
    value: {
      id: "m1",
      type: "dance",
      status: "rejected",
      created_at: 1,
      claimed_at: 2,
      reason: "unknown type",
    },
  });
});

test("a session's record gives how it ended and the messages its bot handled", async () => {
  const record = {
    session_id: "s1",
    status: "ended",
    reason: "ended by an admin message",
    admin_messages: [
      { id: "m1", type: "say", status: "processed", reason: null, at: 1 },
      { id: "m2", type: "dance", status: "rejected", reason: "unknown message type", at: 2 },
      { id: "", type: "say", status: "processed" },
      { id: "m3", type: "say", status: "weird" },
    ],
  };
  assert.deepEqual(await new AdminApi(fake(200, record)).session("s1"), {
    ok: true,
    value: {
      session_id: "s1",
      status: "ended",
      reason: "ended by an admin message",
      handled: [
        { id: "m1", type: "say", status: "processed", reason: null },
        { id: "m2", type: "dance", status: "rejected", reason: "unknown message type" },
      ],
    },
  });
});
