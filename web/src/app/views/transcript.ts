// The conversation as it happens: the user's words (interim, then final) and the bot's.

import { h } from "../../dom";

type Speaker = "user" | "bot";

export class Transcript {
  private interim: HTMLElement | null = null;
  private lastSpeaker: Speaker | null = null;
  /** The bot's current turn: its segments in order, by segment id. */
  private botLine: HTMLElement | null = null;
  private segments = new Map<number | string, string>();
  private unnumbered = 0;

  constructor(private readonly list: HTMLElement) {}

  user(text: string, final: boolean): void {
    if (this.interim === null) this.interim = this.line("user");
    this.interim.textContent = text;
    this.interim.parentElement?.classList.toggle("interim", !final);
    if (final) this.interim = null;
    this.lastSpeaker = "user";
  }

  bot(text: string, segment: number | undefined): void {
    if (this.lastSpeaker !== "bot" || this.botLine === null) {
      this.botLine = this.line("bot");
      this.segments = new Map();
    }
    this.segments.set(segment ?? `piece-${this.unnumbered++}`, text.trim());
    this.botLine.textContent = [...this.segments.values()].join(" ");
    this.lastSpeaker = "bot";
  }

  clear(): void {
    this.list.replaceChildren();
    this.interim = this.botLine = this.lastSpeaker = null;
  }

  private line(speaker: Speaker): HTMLElement {
    const text = h("span", { class: "text" });
    const label = speaker === "user" ? "You" : "Bot";
    const who = h("span", { class: "who" }, label);
    this.list.append(h("li", { class: `turn turn-${speaker}` }, who, text));
    this.list.scrollTop = this.list.scrollHeight;
    return text;
  }
}
