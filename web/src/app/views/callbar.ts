// The call controls: connection state, the bot's audio level, mute and hang-up.

import type { TransportState } from "@pipecat-ai/client-js";

import { byId } from "../../dom";

const LABELS: Record<TransportState, string> = {
  disconnected: "Not connected",
  initializing: "Opening the microphone…",
  initialized: "Microphone ready",
  authenticating: "Starting a bot…",
  authenticated: "Bot started",
  connecting: "Connecting…",
  connected: "Connected, waiting for the bot…",
  ready: "Connected",
  disconnecting: "Hanging up…",
  error: "Connection failed",
};

export class CallBar {
  readonly connect = byId<HTMLButtonElement>("connect");
  readonly mute = byId<HTMLButtonElement>("mute");
  readonly hangUp = byId<HTMLButtonElement>("hangup");
  readonly transport = byId<HTMLSelectElement>("transport");
  private readonly state = byId("call-state");
  private readonly level = byId<HTMLMeterElement>("bot-level");
  private readonly ending = byId("ending");
  private readonly speaking = byId("speaking");
  private readonly talking = new Set<"user" | "bot">();

  showState(state: TransportState): void {
    this.state.textContent = LABELS[state];
    this.state.dataset["state"] = state;
    const idle = state === "disconnected" || state === "error";
    this.connect.disabled = !idle;
    this.transport.disabled = !idle;
    this.hangUp.disabled = idle || state === "disconnecting";
    this.mute.disabled = state !== "ready" && state !== "connected";
    if (idle) {
      this.showMuted(false);
      this.talking.clear();
      this.showSpeaking("bot", false);
    }
  }

  showSpeaking(who: "user" | "bot", speaking: boolean): void {
    if (speaking) this.talking.add(who);
    else this.talking.delete(who);
    // The bot stops when the user talks over it, so the user wins a tie.
    const now = this.talking.has("user") ? "user" : this.talking.has("bot") ? "bot" : "";
    this.speaking.textContent = { user: "You are speaking", bot: "The bot is speaking", "": "" }[now];
    this.speaking.dataset["who"] = now;
  }

  showMuted(muted: boolean): void {
    this.mute.setAttribute("aria-pressed", String(muted));
    this.mute.textContent = muted ? "Unmute" : "Mute";
  }

  showLevel(level: number): void {
    this.level.value = level;
  }

  showEnding(reason: string | null): void {
    this.ending.hidden = reason === null;
    this.ending.textContent = reason === null ? "" : `The bot is leaving: ${reason}`;
  }
}
