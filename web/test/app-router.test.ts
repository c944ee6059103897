// The event router, one test per event type: what each event does to the interface's state.
import { test } from "node:test";
import assert from "node:assert/strict";

import { EVENT_NAMES } from "../src/app/events";
import { HANDLERS, type RouterContext, routeEvent } from "../src/app/router";
import { Store } from "../src/app/state";

interface Harness extends RouterContext {
  notes: string[];
  warnings: string[];
  refreshes: number;
}

function harness(): Harness {
  const h: Harness = {
    store: new Store(),
    notes: [],
    warnings: [],
    refreshes: 0,
    notify: (text) => void h.notes.push(text),
    refreshNotes: () => void h.refreshes++,
    log: { warn: (...args: unknown[]) => void h.warnings.push(args.map(String).join(" ")) },
  };
  return h;
}

function send(h: Harness, type: string, data: unknown): boolean {
  return routeEvent({ type, data }, h);
}

const meeting = { id: "n1", title: "meeting", content: "", createdAt: "t", updatedAt: "t" };

test("every event name has exactly one handler", () => {
  assert.deepEqual(Object.keys(HANDLERS).sort(), [...EVENT_NAMES].sort());
});

test("note.created adds the note, shows it and says so", () => {
  const h = harness();
  assert.equal(send(h, "note.created", meeting), true);
  assert.equal(h.store.state.notes.get("n1")?.title, "meeting");
  assert.equal(h.store.state.openNote, "n1");
  assert.equal(h.store.state.activeView, "notes");
  assert.deepEqual(h.notes, ["Note created: meeting"]);
});

test("note.updated replaces the note in place", () => {
  const h = harness();
  send(h, "note.created", meeting);
  send(h, "note.updated", { ...meeting, title: "standup", content: "at nine" });
  assert.equal(h.store.state.notes.size, 1);
  assert.equal(h.store.state.notes.get("n1")?.content, "at nine");
  assert.equal(h.notes.at(-1), "Note updated: standup");
});

test("note.deleted removes the note and names it", () => {
  const h = harness();
  send(h, "note.created", meeting);
  send(h, "note.deleted", { id: "n1" });
  assert.equal(h.store.state.notes.size, 0);
  assert.equal(h.store.state.openNote, null);
  assert.equal(h.notes.at(-1), "Note deleted: meeting");
});

test("notes.listed highlights the notes and reloads when one is unknown", () => {
  const h = harness();
  send(h, "note.created", meeting);
  send(h, "notes.listed", { ids: ["n1"] });
  assert.deepEqual([...h.store.state.highlighted], ["n1"]);
  assert.equal(h.refreshes, 0);
  send(h, "notes.listed", { ids: ["n1", "n2"] });
  assert.equal(h.refreshes, 1);
  assert.equal(h.notes.at(-1), "Found 2 note(s)");
});

test("note.opened expands the note", () => {
  const h = harness();
  send(h, "note.created", meeting);
  h.store.update((s) => (s.openNote = null));
  send(h, "note.opened", { id: "n1" });
  assert.equal(h.store.state.openNote, "n1");
  assert.equal(h.notes.at(-1), "Opened note: meeting");
});

test("view.opened opens and activates a view", () => {
  const h = harness();
  send(h, "view.opened", { view: "profile" });
  assert.ok(h.store.state.views.has("profile"));
  assert.equal(h.store.state.activeView, "profile");
});

test("view.closed closes the view; an unknown view is only logged", () => {
  const h = harness();
  send(h, "view.closed", { view: "notes" });
  assert.equal(h.store.state.views.has("notes"), false);
  assert.equal(h.store.state.activeView, null);
  send(h, "view.opened", { view: "kitchen" });
  assert.equal(h.store.state.views.size, 0);
  assert.match(h.warnings.at(-1) ?? "", /kitchen/);
});

test("applet.created lists the applet and opens it", () => {
  const h = harness();
  send(h, "applet.created", { id: "a1", title: "Timer" });
  assert.equal(h.store.state.applets.get("a1")?.title, "Timer");
  assert.equal(h.store.state.openApplet, "a1");
  assert.equal(h.store.state.activeView, "applets");
  assert.deepEqual(h.notes, ["Applet created: Timer"]);
});

test("applet.opened opens a saved applet", () => {
  const h = harness();
  send(h, "applet.opened", { id: "a2", title: "Calculator" });
  assert.equal(h.store.state.openApplet, "a2");
  assert.deepEqual(h.notes, ["Opened applet: Calculator"]);
});

test("youtube.play shows what would play", () => {
  const h = harness();
  send(h, "youtube.play", { query: "lofi beats" });
  assert.deepEqual(h.store.state.video, { query: "lofi beats", kind: "play" });
  assert.equal(h.store.state.activeView, "youtube");
});

test("youtube.search shows the search", () => {
  const h = harness();
  send(h, "youtube.search", { query: "jazz" });
  assert.deepEqual(h.store.state.video, { query: "jazz", kind: "search" });
});

test("profile.updated replaces the profile", () => {
  const h = harness();
  send(h, "profile.updated", { userId: "u", displayName: "Ada", preferences: { units: "metric" } });
  assert.equal(h.store.state.profile?.displayName, "Ada");
  assert.deepEqual(h.store.state.profile?.preferences, { units: "metric" });
  assert.equal(h.notes.at(-1), "Profile updated: Ada");
});

test("window.opened adds a window; one named like a view opens it", () => {
  const h = harness();
  send(h, "window.opened", { window: "timer" });
  send(h, "window.opened", { window: "profile" });
  assert.deepEqual(h.store.state.windows, ["timer", "profile"]);
  assert.equal(h.store.state.focusedWindow, "profile");
  assert.equal(h.store.state.activeView, "profile");
});

test("window.focused focuses the window", () => {
  const h = harness();
  send(h, "window.opened", { window: "timer" });
  send(h, "window.opened", { window: "clock" });
  send(h, "window.focused", { window: "timer" });
  assert.equal(h.store.state.focusedWindow, "timer");
});

test("window.closed removes the window", () => {
  const h = harness();
  send(h, "window.opened", { window: "timer" });
  send(h, "window.opened", { window: "notes" });
  send(h, "window.closed", { window: "notes" });
  assert.deepEqual(h.store.state.windows, ["timer"]);
  assert.equal(h.store.state.focusedWindow, "timer");
  assert.equal(h.store.state.views.has("notes"), false);
});

test("call.ending shows that the bot is leaving", () => {
  const h = harness();
  send(h, "call.ending", { reason: "the user said goodbye" });
  assert.equal(h.store.state.ending, "the user said goodbye");
  assert.deepEqual(h.notes, ["The bot is leaving the call"]);
});

test("an unknown event type is logged and ignored", () => {
  const h = harness();
  assert.equal(send(h, "confetti.thrown", { amount: 3 }), false);
  assert.match(h.warnings[0] ?? "", /confetti\.thrown/);
  assert.deepEqual(h.notes, []);
});

test("a malformed event is logged and ignored, and the next one still works", () => {
  const h = harness();
  assert.equal(send(h, "note.created", { id: 7 }), false);
  assert.equal(routeEvent("not an event", h), false);
  assert.equal(routeEvent(null, h), false);
  assert.equal(h.warnings.length, 3);
  assert.equal(send(h, "note.created", meeting), true);
});
