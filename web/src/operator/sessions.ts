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

export function sessionRow(view: SessionView, reason = ""): SessionRow {
  const tone = TONES[view.status] ?? "unknown";
  return {
    id: view.session_id,
    status: view.status,
    tone,
    age: formatAge(view.age_s),
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
