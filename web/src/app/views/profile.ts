// The profile view: the user's name and preferences, as Mesh holds them.

import type { AppState } from "../state";
import { h } from "../../dom";

export function renderProfile(container: HTMLElement, state: AppState): void {
  const profile = state.profile;
  if (profile === null) {
    container.replaceChildren(h("p", { class: "empty-view" }, "No profile loaded."));
    return;
  }
  const rows = Object.entries(profile.preferences).map(([name, value]) => [
    h("dt", {}, name),
    h("dd", {}, typeof value === "string" ? value : JSON.stringify(value)),
  ]);
  container.replaceChildren(
    h("p", { class: "profile-name" }, profile.displayName ?? "(no name set)"),
    rows.length > 0
      ? h("dl", { class: "preferences" }, ...rows.flat())
      : h("p", { class: "empty-view" }, "No preferences."),
  );
}
