import { test } from "node:test";
import assert from "node:assert/strict";

import { type ComposerFields, buildMessage, partOf, summarize } from "../src/operator/compose";

const fields = (over: Partial<ComposerFields>): ComposerFields => ({
  kind: "say",
  text: "",
  role: "system",
  respond: true,
  ...over,
});

test("say carries its text, trimmed", () => {
  assert.deepEqual(buildMessage(fields({ text: "  The meeting moved to three. " })), {
    ok: true,
    message: { type: "say", text: "The meeting moved to three." },
  });
});

test("say and append_context without text are caught before sending, pointing at the text box", () => {
  for (const kind of ["say", "append_context"] as const) {
    const built = buildMessage(fields({ kind, text: "   " }));
    assert.equal(built.ok, false);
    if (!built.ok) assert.equal(built.part, "text");
  }
});

test("append_context sends content and role; respond: false only for a user message told not to answer", () => {
  assert.deepEqual(
    buildMessage(fields({ kind: "append_context", text: "VIP caller", role: "system", respond: false })),
    {
      ok: true,
      message: { type: "append_context", content: "VIP caller", role: "system" },
    },
  );
  assert.deepEqual(
    buildMessage(fields({ kind: "append_context", text: "Hi", role: "user", respond: true })),
    {
      ok: true,
      message: { type: "append_context", content: "Hi", role: "user" },
    },
  );
  assert.deepEqual(
    buildMessage(fields({ kind: "append_context", text: "Hi", role: "user", respond: false })),
    {
      ok: true,
      message: { type: "append_context", content: "Hi", role: "user", respond: false },
    },
  );
});

test("update_prompts and reload_context carry no fields, whatever the text box holds", () => {
  for (const kind of ["update_prompts", "reload_context"] as const) {
    assert.deepEqual(buildMessage(fields({ kind, text: "left over" })), {
      ok: true,
      message: { type: kind },
    });
  }
});

test("end_session's goodbye is optional", () => {
  assert.deepEqual(buildMessage(fields({ kind: "end_session" })), {
    ok: true,
    message: { type: "end_session" },
  });
  assert.deepEqual(buildMessage(fields({ kind: "end_session", text: "Bye now" })), {
    ok: true,
    message: { type: "end_session", text: "Bye now" },
  });
});

test("a 422's field names the composer part to mark", () => {
  assert.equal(partOf("message.text"), "text");
  assert.equal(partOf("message.content"), "text");
  assert.equal(partOf("message.role"), "role");
  assert.equal(partOf("message.respond"), "respond");
  assert.equal(partOf("message.type"), "kind");
  assert.equal(partOf("session_id"), null);
  assert.equal(partOf(undefined), null);
});

test("a sent message is summarized in one short line", () => {
  assert.equal(summarize({ type: "update_prompts" }), "update_prompts");
  assert.equal(summarize({ type: "say", text: "Hello" }), "say: “Hello”");
  assert.equal(
    summarize({ type: "append_context", content: "Hi", role: "user" }),
    "append_context (user): “Hi”",
  );
  const long = summarize({ type: "say", text: "x".repeat(500) }, 20);
  assert.ok(long.endsWith("…”") && long.length < 40, long);
});
