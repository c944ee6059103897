import { test } from "node:test";
import assert from "node:assert/strict";

import type { MessageStatus, MessageView, Result } from "../src/operator/api";
import { detailText, trailText } from "../src/operator/message-list-view";
import {
  type Tracked,
  advance,
  failed,
  follow,
  fromHistory,
  isFinal,
  pollDelayMs,
  track,
} from "../src/operator/status";

const view = (status: MessageStatus, extra: Partial<MessageView> = {}): MessageView => ({
  id: "m1",
  type: "say",
  status,
  created_at: 100,
  ...extra,
});

test("a message followed through queued, processing and processed keeps that trail", () => {
  let tracked = track("m1", "s1", "say: “hi”", "queued");
  tracked = advance(tracked, view("queued"));
  tracked = advance(tracked, view("processing", { claimed_at: 100.004 }));
  tracked = advance(tracked, view("processed", { claimed_at: 100.004, processed_at: 100.254 }));
  assert.equal(trailText(tracked), "queued → processing → processed");
  assert.equal(detailText(tracked), "taken after 4 ms · handled in 250 ms");
});

test("a processing step too quick for the poll is still shown, from claimed_at", () => {
  const tracked = advance(
    track("m1", "s1", "say", "queued"),
    view("processed", { claimed_at: 100.001, processed_at: 100.002 }),
  );
  assert.deepEqual(tracked.trail, ["queued", "processing", "processed"]);
});

test("a rejected message shows the bot's reason, and a final status never changes again", () => {
  const rejected = advance(
    track("m1", "s1", "dance", "queued"),
    view("rejected", { claimed_at: 101, reason: "unknown message type 'dance'" }),
  );
  assert.equal(rejected.status, "rejected");
  assert.equal(detailText(rejected), "unknown message type 'dance'");
  assert.equal(advance(rejected, view("queued")), rejected);
  assert.equal(failed(rejected, { status: 404, message: "gone" }), rejected);
});

test("a message re-queued after its bot died shows that it went back", () => {
  let tracked = track("m1", "s1", "say", "queued");
  tracked = advance(tracked, view("processing", { claimed_at: 101 }));
  tracked = advance(tracked, view("queued"));
  assert.deepEqual(tracked.trail, ["queued", "processing", "queued"]);
  assert.equal(isFinal(tracked.status), false);
});

test("a message the admin function no longer knows (404) is final: expired", () => {
  const gone = failed(track("m1", "s1", "say", "queued"), { status: 404, message: "no admin message" });
  assert.equal(gone.status, "expired");
  assert.ok(isFinal(gone.status));
});

test("a poll that fails otherwise is shown and the message stays followed", () => {
  const tracked = failed(track("m1", "s1", "say", "queued"), {
    status: 0,
    message: "the admin API is unreachable",
  });
  assert.equal(tracked.status, "queued");
  assert.match(detailText(tracked), /unreachable.*retrying/);
  assert.equal(advance(tracked, view("queued")).problem, undefined);
});

test("polls start quick and ease off to at most 1.5 s", () => {
  assert.ok(pollDelayMs(0) <= 200);
  assert.ok(pollDelayMs(3) > pollDelayMs(0));
  assert.equal(pollDelayMs(50), 1500);
});

test("follow polls until the message is final and reports each change once", async () => {
  const answers: Result<MessageView>[] = [
    { ok: true, value: view("queued") },
    { ok: false, problem: { status: 0, message: "the admin API is unreachable" } },
    { ok: true, value: view("processing", { claimed_at: 100.01 }) },
    { ok: true, value: view("processing", { claimed_at: 100.01 }) },
    { ok: true, value: view("processed", { claimed_at: 100.01, processed_at: 100.5 }) },
  ];
  const asked: string[] = [];
  const api = {
    message: async (id: string): Promise<Result<MessageView>> => {
      asked.push(id);
      const next = answers.shift();
      assert.ok(next, "polled after the message was final");
      return next;
    },
  };
  const seen: Tracked[] = [];
  const done = await follow(
    api,
    track("m1", "s1", "say", "queued"),
    (t) => seen.push(t),
    new AbortController().signal,
    async () => {},
  );
  assert.equal(done.status, "processed");
  assert.equal(answers.length, 0);
  assert.deepEqual(new Set(asked), new Set(["m1"]));
  assert.deepEqual(
    seen.map((t) => (t.problem ? "problem" : t.status)),
    ["problem", "processing", "processed"],
  );
});

test("follow stops when the page goes away", async () => {
  const stop = new AbortController();
  let polls = 0;
  const api = {
    message: async (): Promise<Result<MessageView>> => {
      polls++;
      stop.abort();
      return { ok: true, value: view("queued") };
    },
  };
  const done = await follow(
    api,
    track("m1", "s1", "say", "queued"),
    () => {},
    stop.signal,
    async () => {},
  );
  assert.equal(polls, 1);
  assert.equal(done.status, "queued");
});

test("a message handled before the page opened is shown from its record, or from the log", () => {
  const entry = { id: "m9", type: "say", status: "processed" as const, reason: null };
  const kept = fromHistory(
    "s1",
    entry,
    view("processed", { id: "m9", claimed_at: 100.01, processed_at: 100.02 }),
    "say: “hi”",
  );
  assert.deepEqual(
    [kept.id, kept.status, trailText(kept)],
    ["m9", "processed", "queued → processing → processed"],
  );
  const logged = fromHistory(
    "s1",
    { ...entry, status: "rejected", reason: "unknown message type" },
    null,
    "dance",
  );
  assert.deepEqual(
    [logged.status, trailText(logged), detailText(logged)],
    ["rejected", "rejected", "unknown message type"],
  );
});
