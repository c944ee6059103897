// The settings view: who and what this call is (the user's data is scoped to that user).

import type { AppState } from "../state";
import { h } from "../../dom";

export function renderSettings(container: HTMLElement, state: AppState, user: string): void {
  const session = state.session;
  container.replaceChildren(
    h(
      "dl",
      { class: "preferences" },
      h("dt", {}, "User"),
      h("dd", {}, user),
      h("dt", {}, "Transport"),
      h("dd", {}, session?.transport ?? "not connected"),
      h("dt", {}, "Session"),
      h("dd", {}, session?.id ?? "none"),
    ),
    h("p", { class: "hint" }, "Open this page with ?user=<id> to talk as another user of your tenant."),
  );
}
