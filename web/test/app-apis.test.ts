// The interface's two HTTP clients: the gateway's session API and the Mesh loader, against a
// stubbed fetch (what they send, and that a refusal reaches the user as the server's words).
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";

import { ApiFailure, endSession, startSession } from "../src/app/call/session-api";
import { MeshError, MeshReader } from "../src/app/mesh";

interface Sent {
  url: string;
  init: RequestInit;
}

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

function answer(status: number, body: unknown): Sent[] {
  const sent: Sent[] = [];
  globalThis.fetch = async (url, init) => {
    sent.push({ url: String(url), init: init ?? {} });
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return sent;
}

test("a WebRTC session is started with the user's id in the session body", async () => {
  const sent = answer(200, { sessionId: "s1" });
  const started = await startSession("webrtc", { user_id: "ada" });
  assert.equal(started.sessionId, "s1");
  assert.equal(sent[0]?.url, "/start");
  assert.deepEqual(JSON.parse(String(sent[0]?.init.body)), { transport: "webrtc", body: { user_id: "ada" } });
});

test("a Daily session asks the gateway for a room", async () => {
  const sent = answer(200, { sessionId: "s2", dailyRoom: "https://x.daily.co/r", dailyToken: "t" });
  const started = await startSession("daily", { user_id: "ada" });
  assert.equal(started.dailyRoom, "https://x.daily.co/r");
  assert.deepEqual(JSON.parse(String(sent[0]?.init.body)), {
    createDailyRoom: true,
    body: { user_id: "ada" },
  });
});

test("the gateway's refusal reaches the user in its own words", async () => {
  answer(503, { error: { message: "Daily is not configured on this gateway (DAILY_API_KEY)" } });
  await assert.rejects(startSession("daily", {}), (error: Error) => {
    assert.ok(error instanceof ApiFailure);
    assert.match(error.message, /Daily is not configured/);
    return true;
  });
});

test("an answer without a session id is an error, not a call to nowhere", async () => {
  answer(200, {});
  await assert.rejects(startSession("webrtc", {}), /no session id/);
});

test("hanging up deletes the session; one already gone is fine", async () => {
  const sent = answer(404, { error: { message: "no such session" } });
  await endSession("s 1");
  assert.equal(sent[0]?.url, "/sessions/s%201");
  assert.equal(sent[0]?.init.method, "DELETE");
});

test("Mesh is asked for the user's data as that user, with no token", async () => {
  const sent = answer(200, {
    data: { notes: [], applets: [], profile: { displayName: null, preferences: {} } },
  });
  const snapshot = await new MeshReader("ada").load();
  assert.deepEqual(snapshot.notes, []);
  const headers = new Headers(sent[0]?.init.headers);
  assert.equal(sent[0]?.url, "/mesh/graphql");
  assert.equal(headers.get("X-Voicefleet-User"), "ada");
  assert.equal(headers.get("Authorization"), null);
});

test("a Mesh error names what went wrong", async () => {
  answer(200, { errors: [{ message: "Mesh is unreachable" }] });
  await assert.rejects(new MeshReader("ada").load(), (error: Error) => {
    assert.ok(error instanceof MeshError);
    assert.equal(error.message, "Mesh is unreachable");
    return true;
  });
  answer(403, { error: { message: "only queries go through the interface's Mesh proxy" } });
  await assert.rejects(new MeshReader("ada").load(), /only queries/);
});

test("an applet is framed from this origin, scoped to the user", () => {
  assert.equal(new MeshReader("a b").appletUrl("x/1"), "/mesh/applets/x%2F1?user=a%20b");
});
