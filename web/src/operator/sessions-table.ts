// The sessions table: one `<tbody>` per session (its row, then its composer and sent messages),
// created once and updated in place on every refresh.

import { Composer, type SubmitHandler } from "./composer-view";
import { h, setText } from "../dom";
import { MessageList } from "./message-list-view";
import type { SessionRow } from "./sessions";

const COLUMNS = ["Session", "Status", "Age", "Start", "Runner", "Transport", "Room"] as const;

export class SessionCard {
  readonly element: HTMLTableSectionElement;
  readonly composer: Composer;
  readonly messages = new MessageList();
  row: SessionRow;
  private readonly cells: HTMLTableCellElement[];
  private readonly badge: HTMLSpanElement;
  private readonly reason: HTMLSpanElement;

  constructor(
    row: SessionRow,
    onSubmit: (card: SessionCard) => SubmitHandler,
    onDismiss: (id: string) => void,
  ) {
    this.row = row;
    this.composer = new Composer(onSubmit(this));
    this.badge = h("span", { class: "op-badge" });
    this.reason = h("span", { class: "op-reason" });
    const dismiss = h("button", { class: "op-dismiss", type: "button" }, "Dismiss");
    dismiss.addEventListener("click", () => onDismiss(this.row.id));
    this.cells = [
      h("td", { class: "op-id" }, h("code", {}, row.id)),
      h("td", {}, this.badge, this.reason),
      h("td", { class: "op-num" }),
      h("td", { class: "op-start" }),
      h("td", { class: "op-runner" }),
      h("td", {}),
      h("td", { class: "op-room" }),
    ];
    const detail = h(
      "td",
      { colspan: String(COLUMNS.length) },
      h("div", { class: "op-detail-inner" }, this.composer.element, dismiss, this.messages.element),
    );
    this.element = h(
      "tbody",
      { class: "op-session", "data-session": row.id },
      h("tr", { class: "op-row" }, ...this.cells),
      h("tr", { class: "op-detail" }, detail),
    );
    this.update(row);
  }

  update(row: SessionRow): void {
    this.row = row;
    const [, , age, start, runner, transport, room] = this.cells;
    this.element.dataset.status = row.status;
    this.element.classList.toggle("op-closed", !row.open);
    setText(this.badge, row.status);
    this.badge.className = `op-badge op-badge-${row.tone}`;
    setText(this.reason, row.reason);
    if (age) setText(age, row.open ? row.age : "");
    if (start) {
      setText(start, row.start);
      start.title = row.startDetail;
    }
    if (runner) setText(runner, row.runner);
    if (transport) setText(transport, row.transport);
    if (room) setText(room, row.room);
    if (!row.open) this.composer.close();
  }
}

export class SessionsTable {
  readonly element: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly empty: HTMLParagraphElement;
  private readonly cards = new Map<string, SessionCard>();

  constructor(
    private readonly onSubmit: (card: SessionCard) => SubmitHandler,
    private readonly onAdded: (card: SessionCard) => void = () => {},
  ) {
    const head = h(
      "thead",
      {},
      h("tr", {}, ...COLUMNS.map((name) => h("th", { scope: "col" }, name))),
    );
    this.table = h("table", { class: "op-table" }, head);
    this.empty = h(
      "p",
      { class: "op-empty" },
      "No live sessions. Start a call (the gateway's page, or the Python client) and it appears here.",
    );
    this.element = h(
      "section",
      { class: "op-sessions", "aria-label": "sessions" },
      this.table,
      this.empty,
    );
    this.syncEmpty();
  }

  /** Shows these rows: new ones are added in order after the ones already shown. */
  show(rows: SessionRow[]): void {
    for (const row of rows) {
      const card = this.cards.get(row.id);
      if (card) {
        card.update(row);
      } else {
        const created = new SessionCard(row, this.onSubmit, (id) => this.remove(id));
        this.cards.set(row.id, created);
        this.table.append(created.element);
        this.onAdded(created);
      }
    }
    this.syncEmpty();
  }

  get(id: string): SessionCard | undefined {
    return this.cards.get(id);
  }

  openIds(): string[] {
    return [...this.cards.values()].filter((card) => card.row.open).map((card) => card.row.id);
  }

  remove(id: string): void {
    this.cards.get(id)?.element.remove();
    this.cards.delete(id);
    this.syncEmpty();
  }

  /** Ended sessions stay for their messages' outcome; past this many, the oldest go. */
  trimClosed(keep: number): void {
    const closed = [...this.cards.values()].filter((card) => !card.row.open && !card.messages.pending);
    for (const card of closed.slice(0, Math.max(0, closed.length - keep))) this.remove(card.row.id);
  }

  private syncEmpty(): void {
    this.empty.hidden = [...this.cards.values()].some((card) => card.row.open);
    this.table.hidden = this.cards.size === 0;
  }
}
