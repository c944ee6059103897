// The YouTube view: what would play. Nothing is embedded or fetched (the machine may be
// offline, and an embed would load third-party code); the link opens YouTube itself.

import type { AppState } from "../state";
import { h } from "../../dom";

export function renderYoutube(container: HTMLElement, state: AppState): void {
  const video = state.video;
  if (video === null) {
    const hint = 'Nothing playing. Try "play some jazz on YouTube".';
    container.replaceChildren(h("p", { class: "empty-view" }, hint));
    return;
  }
  const link = h(
    "a",
    {
      href: `https://www.youtube.com/results?search_query=${encodeURIComponent(video.query)}`,
      target: "_blank",
      rel: "noopener noreferrer",
    },
    "Open on YouTube",
  );
  container.replaceChildren(
    h("p", { class: "video-kind" }, video.kind === "play" ? "Would play" : "Search"),
    h("p", { class: "video-query" }, video.query),
    link,
  );
}
