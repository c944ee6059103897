import { test } from "node:test";
import assert from "node:assert/strict";

import { parseSessions } from "../src/operator/api";
import { closedRow, formatAge, formatStart, reconcile, sessionRow } from "../src/operator/sessions";

const LISTED = {
  sessions: [
    {
      session_id: "a1",
      status: "joined",
      transport: "webrtc",
      room_url: null,
      tenant: "default",
      runner: "runner-1",
      age_s: 65.4,
      cold_start: true,
      launch_to_claimed_ms: 438.2,
      claimed_to_ready_ms: 286.0,
      ready_to_first_audio_ms: 4.1,
    },
    {
      session_id: "b2",
      status: "queued",
      transport: "daily",
      room_url: "https://acme.daily.co/standup",
      tenant: "default",
      runner: null,
      age_s: 0.8,
    },
  ],
};

test("the rows show each session's status, age, runner, transport and room", () => {
  const rows = parseSessions(LISTED).map((s) => sessionRow(s));
  assert.deepEqual(
    rows.map((r) => [r.id, r.status, r.tone, r.age, r.runner, r.transport, r.room, r.open]),
    [
      ["a1", "joined", "live", "1 min 05 s", "runner-1", "webrtc", "—", true],
      ["b2", "queued", "waiting", "0 s", "—", "daily", "https://acme.daily.co/standup", true],
    ],
  );
});

test("a row says how its session started: cold or warm, and how long until the bot spoke", () => {
  const [cold, queued] = parseSessions(LISTED).map((s) => sessionRow(s));
  assert.deepEqual(
    [cold!.start, cold!.startDetail],
    ["cold 728 ms", "launch → runner 438 ms, runner → joined 286 ms, joined → first audio 4 ms"],
  );
  assert.deepEqual([queued!.start, queued!.startDetail], ["—", ""]);
  const [view] = parseSessions(LISTED);
  const claimed = {
    ...view!,
    cold_start: false,
    claimed_to_ready_ms: null,
    ready_to_first_audio_ms: null,
  };
  assert.deepEqual(formatStart(claimed), { start: "warm", startDetail: "launch → runner 438 ms" });
  const slow = { ...view!, launch_to_claimed_ms: 2950 };
  assert.equal(formatStart(slow).start, "cold 3.2 s");
});

test("a malformed answer gives the rows it can, never throws", () => {
  assert.deepEqual(parseSessions(null), []);
  assert.deepEqual(parseSessions({ sessions: "nope" }), []);
  const rows = parseSessions({
    sessions: [
      { status: "joined" },
      7,
      { session_id: "c3", age_s: "old", cold_start: "yes", claimed_to_ready_ms: "1" },
    ],
  });
  assert.deepEqual(
    rows.map((s) => [s.session_id, s.status, s.age_s, s.runner, s.cold_start, s.claimed_to_ready_ms]),
    [["c3", "unknown", 0, null, null, null]],
  );
  assert.equal(sessionRow(rows[0]!).tone, "unknown");
});

test("ages read precisely when young and coarsely when old", () => {
  assert.equal(formatAge(-3), "0 s");
  assert.equal(formatAge(59.9), "59 s");
  assert.equal(formatAge(600), "10 min 00 s");
  assert.equal(formatAge(7384), "2 h 03 min");
});

test("sessions that left the list are the ones to close; new ones are shown", () => {
  const { live, left } = reconcile(["a1", "gone"], parseSessions(LISTED));
  assert.deepEqual(
    live.map((r) => r.id),
    ["a1", "b2"],
  );
  assert.deepEqual(left, ["gone"]);
});

test("a closed session shows how it ended and takes no more messages", () => {
  const last = sessionRow(parseSessions(LISTED)[0]!);
  const failed = closedRow(last, "failed", "runner lost its lease");
  assert.deepEqual(
    [failed.status, failed.tone, failed.open, failed.reason],
    ["failed", "failed", false, "runner lost its lease"],
  );
  const ended = closedRow(last, "ended", "ended by an admin message");
  assert.deepEqual([ended.status, ended.open], ["ended", false]);
  assert.deepEqual([closedRow(last, null, "its record has expired").status], ["ended"]);
});
