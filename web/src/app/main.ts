// The user's interface: wires the call, the event router, Mesh and the views together.

import "./app.css";

import type { TransportState } from "@pipecat-ai/client-js";

import { Call, type CallListener } from "./call/call";
import { LevelMeter } from "./call/level";
import type { TransportChoice } from "./call/session-api";
import { MeshReader } from "./mesh";
import { type RouterContext, routeEvent } from "./router";
import { Store } from "./state";
import { AppletsView } from "./views/applets";
import { CallBar } from "./views/callbar";
import { byId } from "../dom";
import { renderNotes } from "./views/notes";
import { Notifications } from "./views/notifications";
import { renderProfile } from "./views/profile";
import { renderSettings } from "./views/settings";
import { Transcript } from "./views/transcript";
import { Workspace } from "./views/workspace";
import { renderYoutube } from "./views/youtube";

// The session API's rule for a user id (SessionOverrides.user_id).
const USER_ID = /^[A-Za-z0-9._@:-]{1,100}$/;

function chosenUser(): string {
  const asked = new URLSearchParams(location.search).get("user");
  return asked !== null && USER_ID.test(asked) ? asked : "default";
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const user = chosenUser();
const store = new Store();
const mesh = new MeshReader(user);
const notices = new Notifications(byId("notifications"));
const transcript = new Transcript(byId("transcript"));
const bar = new CallBar();
const workspace = new Workspace(byId("view-tabs"), byId("panels"), byId("windows"), store);
const applets = new AppletsView(byId("applet-list"), byId("applet-stage"), store, (id) => mesh.appletUrl(id));
const botAudio = byId<HTMLAudioElement>("bot-audio");
let call: Call | null = null;
let meter: LevelMeter | null = null;

store.subscribe((state) => {
  workspace.render(state);
  renderNotes(byId("note-list"), state);
  applets.render(state);
  renderYoutube(byId("youtube-view"), state);
  renderProfile(byId("profile-view"), state);
  renderSettings(byId("settings-view"), state, user);
  bar.showEnding(state.ending);
  byId("who").textContent = state.profile?.displayName || user;
});

/** Mesh is the truth; events only say what changed since. Merged, so a note an event
 * brought in while the load was under way is kept. */
async function loadState(): Promise<void> {
  try {
    const snapshot = await mesh.load();
    store.update((s) => {
      for (const note of snapshot.notes) s.notes.set(note.id, note);
      for (const applet of snapshot.applets) s.applets.set(applet.id, applet);
      s.profile = snapshot.profile;
    });
  } catch (error) {
    notices.show(`Your notes and applets could not be loaded: ${message(error)}`, "error");
  }
}

const router: RouterContext = {
  store,
  notify: (text) => notices.show(text),
  refreshNotes: () => void loadState(),
  log: console,
};

const listener: CallListener = {
  onState(state: TransportState) {
    bar.showState(state);
    if (state === "disconnected" || state === "error") {
      meter?.stop();
      botAudio.srcObject = null;
      store.update((s) => (s.session = null));
    }
  },
  onUserText: (text, final) => transcript.user(text, final),
  onBotText: (text, segment) => transcript.bot(text, segment),
  onEvent: (event) => void routeEvent(event, router),
  onBotAudio(track) {
    botAudio.srcObject = new MediaStream([track]);
    botAudio.play().catch((error: unknown) => console.warn("bot audio did not start", error));
    meter?.measure(track);
  },
  onSpeaking: (who, speaking) => bar.showSpeaking(who, speaking),
  onError: (text) => notices.show(text, "error"),
};

async function connect(): Promise<void> {
  // Made on the first click, so that the browser's autoplay rules let it run; one per page.
  meter ??= new LevelMeter(new AudioContext(), (level) => bar.showLevel(level));
  const choice: TransportChoice = bar.transport.value === "daily" ? "daily" : "webrtc";
  transcript.clear();
  store.update((s) => (s.ending = null));
  bar.showState("initializing");
  void loadState();
  const current = new Call(choice, listener);
  call = current;
  try {
    await current.start({ user_id: user });
    store.update((s) => (s.session = { id: current.sessionId ?? "", transport: choice }));
  } catch (error) {
    if (call !== current) return; // the user hung up while it was connecting
    notices.show(`Could not connect: ${message(error)}`, "error");
    bar.showState("error");
    await current.hangUp().catch(() => undefined);
  }
}

async function hangUp(): Promise<void> {
  const current = call;
  call = null;
  try {
    await current?.hangUp();
  } catch (error) {
    notices.show(message(error), "error");
  }
}

bar.connect.addEventListener("click", () => void connect());
bar.hangUp.addEventListener("click", () => void hangUp());
bar.mute.addEventListener("click", () => {
  if (call === null) return;
  call.setMuted(!call.muted);
  bar.showMuted(call.muted);
});
bar.showState("disconnected");
void loadState();
