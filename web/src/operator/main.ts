// The operator page: the tenant's live sessions, refreshed every second, each with a box to send
// an admin message and the status of every message sent, followed until the bot has handled it;
// below them, past sessions from their reports.

import "./operator.css";
import { AdminApi } from "./api";
import { type ComposerFields, buildMessage, partOf, summarize } from "./compose";
import { describeProblem } from "./composer-view";
import { h } from "../dom";
import { LiveStatus } from "./live-status";
import { closedRow, reconcile } from "./sessions";
import { type SessionCard, SessionsTable } from "./sessions-table";
import { follow, fromHistory, sleep, track } from "./status";
import { HistoryView } from "./history-view";

const REFRESH_MS = 1000;
const REFRESH_HIDDEN_MS = 5000;
const KEEP_CLOSED = 10;
const HISTORY = 20;

const api = new AdminApi();
const stop = new AbortController();
const live = new LiveStatus();
const closing = new Set<string>();
let histories: Promise<void> = Promise.resolve();
const table = new SessionsTable(
  (card) => (fields) => void send(card, fields),
  (card) => {
    // One session at a time: a page opened on a busy fleet must not fire hundreds of requests at once.
    histories = histories
      .then(() => loadHistory(card))
      .catch((error: unknown) => console.warn("could not load a session's messages", error));
  },
);
const history = new HistoryView(
  (status) => void loadReports(status),
  (id) => void openReport(id),
);
const main = h("main", { class: "op-main" }, table.element, history.element);
const HISTORY_REFRESH_MS = 10_000;

async function loadReports(status: string = history.outcome.value): Promise<void> {
  const answer = await api.reports(status);
  if (answer.ok) history.showList(answer.value);
}

async function openReport(id: string): Promise<void> {
  const answer = await api.report(id);
  if (answer.ok) history.showReport(answer.value);
  else history.showProblem(answer.problem.message);
}

async function keepHistory(): Promise<void> {
  while (!stop.signal.aborted) {
    await loadReports();
    await sleep(HISTORY_REFRESH_MS, stop.signal);
  }
}

async function send(card: SessionCard, fields: ComposerFields): Promise<void> {
  const built = buildMessage(fields);
  if (!built.ok) {
    card.composer.showProblem(built.message, built.part);
    return;
  }
  card.composer.setBusy(true);
  const answer = await api.send(card.row.id, built.message, card.composer.attemptKey());
  card.composer.setBusy(false);
  if (!answer.ok) {
    // No answer at all keeps the key: sending again cannot queue the message twice.
    if (answer.problem.status !== 0) card.composer.answered();
    card.composer.showProblem(describeProblem(answer.problem), partOf(answer.problem.field));
    return;
  }
  card.composer.sent();
  const tracked = track(answer.value.id, card.row.id, summarize(built.message), answer.value.status);
  card.messages.show(tracked);
  await follow(api, tracked, (next) => card.messages.show(next), stop.signal);
}

/** What the session's bot handled before the page saw it, newest first, under what is sent now. */
async function loadHistory(card: SessionCard): Promise<void> {
  const record = await api.session(card.row.id);
  if (!record.ok) return;
  for (const entry of record.value.handled.slice(-HISTORY).reverse()) {
    if (card.messages.has(entry.id)) continue;
    const answer = await api.message(entry.id);
    const view = answer.ok ? answer.value : null;
    const summary = summarize(view?.message ?? { type: entry.type });
    card.messages.show(fromHistory(card.row.id, entry, view, summary), true);
  }
}

async function close(id: string): Promise<void> {
  const card = table.get(id);
  if (!card || closing.has(id)) return;
  closing.add(id);
  const record = await api.session(id);
  closing.delete(id);
  if (record.ok) card.update(closedRow(card.row, record.value.status, record.value.reason));
  else if (record.problem.status === 404) card.update(closedRow(card.row, null, "its record has expired"));
}

async function refresh(): Promise<void> {
  const answer = await api.sessions();
  main.classList.toggle("op-stale", !answer.ok);
  if (!answer.ok) {
    live.failed(answer.problem);
    return;
  }
  const { live: rows, left } = reconcile(table.openIds(), answer.value);
  table.show(rows);
  await Promise.all(left.map(close));
  table.trimClosed(KEEP_CLOSED);
  live.ok(rows.length);
}

async function run(): Promise<void> {
  while (!stop.signal.aborted) {
    await refresh();
    await sleep(document.hidden ? REFRESH_HIDDEN_MS : REFRESH_MS, stop.signal);
  }
}

const root = document.getElementById("root");
if (root) {
  root.append(
    h(
      "header",
      { class: "op-header" },
      h("h1", {}, "voicefleet ", h("span", { class: "op-title-part" }, "operator")),
      live.element,
    ),
    live.banner,
    main,
  );
  window.addEventListener("pagehide", () => stop.abort());
  void run();
  void keepHistory();
}
