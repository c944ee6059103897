// The view tabs and panels, and the strip of named windows the bot opened.

import { type AppState, closeView, openView, type Store, VIEWS, type ViewName } from "../state";
import { h } from "../../dom";

const LABELS: Record<ViewName, string> = {
  notes: "Notes",
  applets: "Applets",
  profile: "Profile",
  youtube: "YouTube",
  settings: "Settings",
};

export class Workspace {
  constructor(
    private readonly tabs: HTMLElement,
    private readonly panels: HTMLElement,
    private readonly windows: HTMLElement,
    private readonly store: Store,
  ) {}

  render(state: AppState): void {
    this.tabs.replaceChildren(...VIEWS.map((view) => this.tab(view, state)));
    for (const panel of this.panels.querySelectorAll<HTMLElement>(":scope > [data-view]")) {
      panel.hidden = panel.dataset["view"] !== state.activeView;
    }
    const nothing = this.panels.querySelector<HTMLElement>(":scope > .no-view");
    if (nothing !== null) nothing.hidden = state.activeView !== null;
    this.windows.hidden = state.windows.length === 0;
    this.windows.replaceChildren(
      h("span", { class: "windows-label" }, "Windows"),
      ...state.windows.map((name) => {
        const kind = name === state.focusedWindow ? "window focused" : "window";
        return h("span", { class: kind, "data-window": name }, name);
      }),
    );
  }

  private tab(view: ViewName, state: AppState): HTMLElement {
    const isOpen = state.views.has(view);
    const select = h(
      "button",
      {
        type: "button",
        class: "tab-select",
        role: "tab",
        "aria-selected": String(state.activeView === view),
      },
      LABELS[view],
    );
    select.addEventListener("click", () => this.store.update((s) => openView(s, view)));
    const tab = h("span", { class: isOpen ? "tab open" : "tab", "data-tab": view }, select);
    if (isOpen) {
      const label = `Close ${LABELS[view]}`;
      const close = h("button", { type: "button", class: "tab-close", "aria-label": label }, "×");
      close.addEventListener("click", () => this.store.update((s) => closeView(s, view)));
      tab.append(close);
    }
    return tab;
  }
}
