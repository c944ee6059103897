// Short notices of what the bot did ("Note created: meeting"), announced to screen readers.

import { h } from "../../dom";

const SHOWN_MS = 6000;
const MAX_SHOWN = 4;

export class Notifications {
  constructor(private readonly container: HTMLElement) {}

  show(text: string, kind: "info" | "error" = "info"): void {
    const item = h("div", { class: `notice notice-${kind}` }, text);
    this.container.append(item);
    while (this.container.children.length > MAX_SHOWN) this.container.firstElementChild?.remove();
    setTimeout(() => item.remove(), SHOWN_MS);
  }
}
