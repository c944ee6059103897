// The messages sent to one session, newest first, each with its status badge and the statuses it
// went through (`queued → processing → processed`), how long the bot took, or why it refused.

import { h, setText } from "../dom";
import { type Tracked, isFinal } from "./status";

export function trailText(tracked: Tracked): string {
  return tracked.trail.join(" → ");
}

export function seconds(s: number): string {
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(1)} s`;
}

export function detailText(tracked: Tracked): string {
  if (tracked.problem) return `cannot check its status: ${tracked.problem.message} (retrying)`;
  if (tracked.status === "rejected" || tracked.status === "expired") return tracked.reason ?? "";
  const parts: string[] = [];
  if (tracked.waitedS !== undefined) parts.push(`taken after ${seconds(tracked.waitedS)}`);
  if (tracked.status === "processed" && tracked.tookS !== undefined) {
    parts.push(`handled in ${seconds(tracked.tookS)}`);
  }
  return parts.join(" · ");
}

export class MessageList {
  readonly element: HTMLOListElement = h("ol", { class: "op-messages", "aria-label": "sent messages" });
  private readonly items = new Map<string, HTMLLIElement>();

  has(id: string): boolean {
    return this.items.has(id);
  }

  /** Adds or updates a message; a new one goes on top, or at the bottom if it is `older`. */
  show(tracked: Tracked, older = false): void {
    let item = this.items.get(tracked.id);
    if (!item) {
      item = h(
        "li",
        { "data-message": tracked.id },
        h("span", { class: "op-pill" }),
        h("span", { class: "op-summary" }, tracked.summary),
        h("span", { class: "op-trail" }),
        h("span", { class: "op-detail-text" }),
      );
      this.items.set(tracked.id, item);
      if (older) this.element.append(item);
      else this.element.prepend(item);
    }
    const [pill, , trail, detail] = item.children;
    item.dataset.status = tracked.status;
    item.classList.toggle("op-final", isFinal(tracked.status));
    if (pill) {
      setText(pill, tracked.status);
      pill.className = `op-pill op-pill-${tracked.status}`;
    }
    if (trail) setText(trail, trailText(tracked));
    if (detail) setText(detail, detailText(tracked));
  }

  get pending(): boolean {
    return [...this.items.values()].some((item) => !item.classList.contains("op-final"));
  }
}
