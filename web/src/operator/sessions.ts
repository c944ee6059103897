// The sessions table as data: what each row shows, and how one `GET /sessions` answer changes the
// rows the page already has. Rows are keyed by session id so that a refresh updates cells in place
// and never wipes what an operator is typing into a row's composer.

import type { SessionView } from "./api";

export interface SessionRow {
  id: string;
  status: string;
  /** A CSS modifier for the status badge: live, waiting, ended, failed or unknown. */
  tone: "live" | "waiting" | "ended" | "failed" | "unknown";
  age: string;
  /** How it started: `warm 0.2 s`, `cold 1.3 s` (launch to first bot audio), `cold`, or `—`. */
  start: string;
  /** The spans behind `start`, for its tooltip. */
  startDetail: string;
  runner: string;
  transport: string;
  room: string;
  /** Whether messages can still be sent (the session has not ended). */
  open: boolean;
  reason: string;
}

const TONES: Record<string, SessionRow["tone"]> = {
  joined: "live",
  queued: "waiting",
  starting: "waiting",
  ended: "ended",
  failed: "failed",
};

/** `4 s`, `1 min 05 s`, `2 h 03 min`: precise when young, coarse when old. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `cold 1.3 s`: whether the call waited for a runner to start, and how long until the bot spoke. */
export function formatStart(view: SessionView): { start: string; startDetail: string } {
  if (view.cold_start === null) return { start: "—", startDetail: "" };
  const spans: [string, number | null][] = [
    ["launch → runner", view.launch_to_claimed_ms],
    ["runner → joined", view.claimed_to_ready_ms],
    ["joined → first audio", view.ready_to_first_audio_ms],
  ];
  const kind = view.cold_start ? "cold" : "warm";
  const known = spans.filter((span): span is [string, number] => span[1] !== null);
  const startDetail = known.map(([name, ms]) => `${name} ${formatMs(ms)}`).join(", ");
  if (known.length < spans.length) return { start: kind, startDetail };
  const total = known.reduce((sum, [, ms]) => sum + ms, 0);
  return { start: `${kind} ${formatMs(total)}`, startDetail };
}

export function sessionRow(view: SessionView, reason = ""): SessionRow {
  const tone = TONES[view.status] ?? "unknown";
  return {
    id: view.session_id,
    status: view.status,
    tone,
    age: formatAge(view.age_s),
    ...formatStart(view),
    runner: view.runner ?? "—",
    transport: view.transport,
    room: view.room_url ?? "—",
    open: tone !== "ended" && tone !== "failed",
    reason,
  };
}

export interface Reconciled {
  /** Rows to show, oldest session first, as listed. */
  live: SessionRow[];
  /** Ids the page showed as open that the list no longer has: they ended or failed. */
  left: string[];
}

/** Compares a fresh list with the ids the page shows as open. */
export function reconcile(shownOpen: Iterable<string>, listed: SessionView[]): Reconciled {
  const live = listed.map((view) => sessionRow(view));
  const ids = new Set(live.map((row) => row.id));
  const left = [...shownOpen].filter((id) => !ids.has(id));
  return { live, left };
}

/** The row of a session that has left the list, from its final record (or none: it expired). */
export function closedRow(last: SessionRow, status: string | null, reason: string | null): SessionRow {
  const tone = status === "failed" ? "failed" : "ended";
  return { ...last, status: tone, tone, open: false, reason: reason ?? "" };
}
