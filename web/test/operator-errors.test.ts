import { test } from "node:test";
import assert from "node:assert/strict";

import { describeProblem } from "../src/operator/composer-view";
import { refusalHint } from "../src/operator/live-status";

test("each refusal next to the box says what happened, in the API's words", () => {
  const said = (status: number, message: string) => describeProblem({ status, message });
  assert.equal(
    said(422, "message.text: String should have at most 4000 characters"),
    "Invalid (422): message.text: String should have at most 4000 characters",
  );
  assert.match(
    said(429, "admin queue for s1 is full (1000 messages)"),
    /^Queue full \(429\): admin queue .*send again\.$/,
  );
  assert.equal(said(404, "no session 's1'"), "Not found (404): no session 's1'");
  assert.equal(said(409, "session s1 has ended"), "Too late (409): session s1 has ended");
  assert.equal(said(0, "the admin API is unreachable"), "the admin API is unreachable");
  assert.equal(said(503, "try later"), "Error 503: try later");
});

test("a page the admin API does not know is told to reload, and never to paste a key", () => {
  const hint = refusalHint({ status: 401, message: "invalid admin key" });
  assert.match(hint, /reload the page/);
  assert.match(hint, /never from the browser/);
  assert.match(refusalHint({ status: 0, message: "the admin API is unreachable" }), /unreachable; retrying/);
});
