// The applets view: the user's saved applets, and the open one in a sandboxed frame.
//
// The frame has `sandbox="allow-scripts"` and no allow-same-origin: the applet runs in an
// opaque origin, so it cannot reach this page's DOM, its storage or its cookies. Its document
// comes from `/mesh/applets/{id}` with its own CSP (no network at all). A srcdoc frame would
// inherit this page's CSP instead, whose `script-src 'self'` stops the applet's inline scripts.

import type { AppState, Store } from "../state";
import { h } from "../../dom";

export class AppletsView {
  private shown: string | null = null;

  constructor(
    private readonly list: HTMLElement,
    private readonly stage: HTMLElement,
    private readonly store: Store,
    private readonly url: (id: string) => string,
  ) {}

  render(state: AppState): void {
    const applets = [...state.applets.values()];
    this.list.replaceChildren(
      ...(applets.length === 0
        ? [h("li", { class: "empty-view" }, 'No applets yet. Try "make me a timer".')]
        : applets.map((applet) => {
            const button = h(
              "button",
              { type: "button", class: state.openApplet === applet.id ? "applet open" : "applet" },
              applet.title,
            );
            button.addEventListener("click", () => this.store.update((s) => (s.openApplet = applet.id)));
            return h("li", {}, button);
          })),
    );
    if (state.openApplet !== this.shown) this.show(state);
  }

  private show(state: AppState): void {
    this.shown = state.openApplet;
    const applet = this.shown === null ? undefined : state.applets.get(this.shown);
    if (applet === undefined) {
      this.stage.replaceChildren();
      return;
    }
    const frame = h("iframe", {
      class: "applet-frame",
      sandbox: "allow-scripts",
      referrerpolicy: "no-referrer",
      title: applet.title,
      src: this.url(applet.id),
    });
    this.stage.replaceChildren(h("h3", {}, applet.title), frame);
  }
}
