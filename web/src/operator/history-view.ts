// The history part of the operator page: past sessions by date and outcome; one opened shows
// its transcript, a bar per turn split by stage, its tool calls and admin messages, and a JSON
// export of the whole report.

import { h } from "../dom";
import {
  type Report,
  type ReportSummary,
  formatClock,
  segments,
  turnTotal,
} from "./history";

export class HistoryView {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly detail: HTMLElement;
  readonly outcome: HTMLSelectElement;

  constructor(onFilter: (status: string) => void, private readonly onOpen: (id: string) => void) {
    this.outcome = h(
      "select",
      { class: "op-history-outcome", "aria-label": "outcome" },
      h("option", { value: "" }, "all outcomes"),
      h("option", { value: "ended" }, "ended"),
      h("option", { value: "failed" }, "failed"),
    );
    this.outcome.addEventListener("change", () => onFilter(this.outcome.value));
    this.list = h("ul", { class: "op-history-list" });
    this.detail = h("div", { class: "op-history-detail" });
    this.element = h(
      "section",
      { class: "op-history", "aria-label": "past sessions" },
      h("h2", {}, "Past sessions ", this.outcome),
      this.list,
      this.detail,
    );
  }

  showList(reports: ReportSummary[]): void {
    this.list.replaceChildren(
      ...reports.map((r) => {
        const when = new Date(r.started_at * 1000).toLocaleString();
        const open = h(
          "button",
          { type: "button", class: "op-history-open" },
          h("span", { class: "op-history-when" }, when),
          h("span", { class: `op-badge op-outcome-${r.status}` }, r.status),
          h("span", { class: "op-history-duration" }, formatClock(r.duration_s)),
          h("span", { class: "op-history-reason" }, r.end_reason ?? ""),
        );
        open.addEventListener("click", () => this.onOpen(r.session_id));
        return h("li", { "data-report": r.session_id }, open);
      }),
    );
    if (reports.length === 0) this.list.append(h("li", { class: "op-empty" }, "no past sessions"));
  }

  showProblem(message: string): void {
    this.detail.replaceChildren(h("p", { class: "op-error" }, message));
  }

  showReport(report: Report): void {
    const { summary } = report;
    const json = JSON.stringify(report.raw, null, 2);
    const exported = h(
      "a",
      {
        class: "op-history-export",
        download: `session-${summary.session_id}.json`,
        href: URL.createObjectURL(new Blob([json], { type: "application/json" })),
      },
      "Export JSON",
    );
    this.detail.replaceChildren(
      h(
        "article",
        { "data-report-detail": summary.session_id },
        h("h3", {}, `Session ${summary.session_id} · ${summary.status}`, " ", exported),
        h("h4", {}, "Transcript"),
        h(
          "ol",
          { class: "op-transcript" },
          ...report.transcript.map((line) =>
            h(
              "li",
              { "data-role": line.role, class: line.interrupted ? "op-interrupted" : undefined },
              h("span", { class: "op-line-at" }, formatClock(line.start_s)),
              h("span", { class: "op-line-who" }, line.role === "user" ? "caller" : "bot"),
              h("span", { class: "op-line-text" }, line.text),
              line.interrupted && h("span", { class: "op-line-cut" }, "(cut off)"),
            ),
          ),
        ),
        h("h4", {}, "Turns"),
        this.timeline(report),
        h("h4", {}, "Tool calls"),
        h(
          "ul",
          { class: "op-tools" },
          ...report.tool_calls.map((c) =>
            h(
              "li",
              { "data-outcome": c.outcome },
              `${formatClock(c.at_s)} ${c.name}: ${c.outcome} in ${Math.round(c.duration_ms)} ms`,
              c.error ? ` (${c.error})` : "",
            ),
          ),
        ),
        h("h4", {}, "Admin messages"),
        h(
          "ul",
          { class: "op-admin-log" },
          ...report.admin_messages.map((m) =>
            h(
              "li",
              { "data-outcome": m.outcome },
              `${formatClock(m.at_s)} ${m.type}: ${m.outcome}`,
              m.reason ? ` (${m.reason})` : "",
            ),
          ),
        ),
      ),
    );
  }

  private timeline(report: Report): HTMLElement {
    const longest = Math.max(0, ...report.turns.map(turnTotal));
    return h(
      "ol",
      { class: "op-timeline" },
      ...report.turns.map((turn) =>
        h(
          "li",
          { "data-turn": String(turn.index) },
          h("span", { class: "op-turn-label" }, `turn ${turn.index + 1}`),
          h(
            "span",
            { class: "op-turn-bar" },
            ...segments(turn, longest).map((s) => {
              const part = h("span", {
                class: `op-stage op-stage-${s.stage}`,
                title: `${s.label}: ${Math.round(s.seconds * 1000)} ms`,
                "data-stage": s.stage,
              });
              part.style.width = `${s.percent}%`;
              return part;
            }),
          ),
          h(
            "span",
            { class: "op-turn-total" },
            turn.end_of_speech_to_first_audio_s === null
              ? ""
              : `${Math.round(turn.end_of_speech_to_first_audio_s * 1000)} ms to first audio`,
          ),
        ),
      ),
    );
  }
}
