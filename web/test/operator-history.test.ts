import { test } from "node:test";
import assert from "node:assert/strict";

import { formatClock, parseReport, parseReports, segments, turnTotal } from "../src/operator/history";

const REPORT = {
  session_id: "s1",
  tenant: "default",
  transport: "webrtc",
  status: "ended",
  end_reason: "client left",
  started_at: 1_700_000_000,
  ended_at: 1_700_000_075,
  duration_s: 75,
  transcript: [
    { role: "user", text: "Create a note called budget.", start_s: 5.1, end_s: 7.2, interrupted: false },
    { role: "bot", text: "I've created", start_s: 8, end_s: 9, interrupted: true },
    { role: "someone", text: "not a side of the call", start_s: 1, end_s: 2 },
  ],
  turns: [
    { index: 0, at_s: 7.2, vad_stop_s: 0.2, stt_s: 0.3, llm_first_token_s: 0.4, tts_first_audio_s: 0.1,
      end_of_speech_to_first_audio_s: 1.1 },
    { index: 1, at_s: 20, vad_stop_s: 0.2, stt_s: null, llm_first_token_s: 0.3, tts_first_audio_s: null,
      end_of_speech_to_first_audio_s: null },
  ],
  tool_calls: [{ name: "bot_create_note", at_s: 7.5, duration_ms: 41.2, outcome: "ok", arguments: { title: "budget" } }],
  admin_messages: [{ id: "m1", type: "say", at_s: 30, outcome: "refused", reason: "the session is ending" }],
};

test("a report keeps both sides' lines, marks a cut line and drops what is neither side", () => {
  const report = parseReport(REPORT);
  assert.ok(report);
  assert.deepEqual(
    report.transcript.map((l) => [l.role, l.text, l.interrupted]),
    [["user", "Create a note called budget.", false], ["bot", "I've created", true]],
  );
  assert.equal(report.summary.end_reason, "client left");
  assert.equal(report.tool_calls[0]?.name, "bot_create_note");
  assert.equal(report.admin_messages[0]?.reason, "the session is ending");
  assert.equal(report.raw, REPORT); // the export is the report as the API sent it
  assert.equal(parseReport({ session_id: "s1" }), null);
});

test("a turn's bar has a segment per measured stage, scaled to the longest turn", () => {
  const report = parseReport(REPORT);
  assert.ok(report);
  const [first, second] = report.turns;
  assert.ok(first && second);
  const longest = Math.max(turnTotal(first), turnTotal(second));
  assert.equal(longest, 1.0);
  assert.deepEqual(
    segments(first, longest).map((s) => [s.stage, s.percent]),
    [["vad_stop_s", 20], ["stt_s", 30], ["llm_first_token_s", 40], ["tts_first_audio_s", 10]],
  );
  assert.deepEqual(segments(second, longest).map((s) => s.stage), ["vad_stop_s", "llm_first_token_s"]);
});

test("the list keeps well-formed entries and times read as minutes and seconds", () => {
  const listed = parseReports({ reports: [REPORT, { session_id: "broken" }, "x"] });
  assert.deepEqual(listed.map((r) => [r.session_id, r.status, r.duration_s]), [["s1", "ended", 75]]);
  assert.equal(formatClock(75.9), "1:15");
  assert.equal(formatClock(5), "0:05");
});
