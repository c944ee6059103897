// The header's connection line: whether the sessions list is current, and what to do when the
// admin API refuses the page (a dev stack restarted since the page was opened: reload it).

import type { ApiProblem } from "./api";
import { h, setText } from "../dom";

export function refusalHint(problem: ApiProblem): string {
  if (problem.status === 401) {
    return (
      "The admin API does not know this page (401). In the dev stack the page signs in with a " +
      "cookie set when it loads: reload the page (the stack may have restarted). Elsewhere, " +
      "send an admin key from a server, never from the browser."
    );
  }
  if (problem.status === 403) return `The admin API refused this page (403): ${problem.message}`;
  if (problem.status === 0) return `${problem.message}; retrying.`;
  return `The sessions list failed (${problem.status}): ${problem.message}; retrying.`;
}

export class LiveStatus {
  readonly element: HTMLParagraphElement = h("p", { class: "op-live", "aria-live": "polite" });
  readonly banner: HTMLParagraphElement = h("p", { class: "op-banner", role: "alert" });

  constructor() {
    this.banner.hidden = true;
  }

  ok(live: number): void {
    this.element.dataset.state = "ok";
    setText(this.element, `live · ${live} ${live === 1 ? "session" : "sessions"}`);
    this.banner.hidden = true;
  }

  failed(problem: ApiProblem): void {
    this.element.dataset.state = "error";
    setText(this.element, problem.status ? `refused (${problem.status})` : "unreachable");
    setText(this.banner, refusalHint(problem));
    this.banner.hidden = false;
  }
}
