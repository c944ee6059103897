// A sent message's life as the operator sees it: the statuses it was seen in, in order, until a
// final one. Polling can miss a short `processing`, and a message can legitimately go back from
// `processing` to `queued` (its bot died and the next one re-queued it), so the trail records what
// was observed rather than forcing a fixed sequence; only a final status ends it.

import type { AdminApi, ApiProblem, HandledEntry, MessageStatus, MessageView } from "./api";

export interface Tracked {
  id: string;
  sessionId: string;
  summary: string;
  status: MessageStatus;
  /** Every status seen, without repeats: `["queued", "processing", "processed"]`. */
  trail: MessageStatus[];
  reason?: string;
  /** Seconds from queued to taken by the bot, and from taken to handled (the server's clocks). */
  waitedS?: number;
  tookS?: number;
  /** The last poll failed this way (the message is still followed). */
  problem?: ApiProblem;
}

export const FINAL: ReadonlySet<MessageStatus> = new Set(["processed", "rejected", "expired"]);

export function isFinal(status: MessageStatus): boolean {
  return FINAL.has(status);
}

export function track(id: string, sessionId: string, summary: string, status: MessageStatus): Tracked {
  return { id, sessionId, summary, status, trail: [status] };
}

/**
 * The tracked message after one `GET /admin/messages/{id}`; a final status never changes. A
 * `processing` too short for the poll to see is still shown: the record's `claimed_at` says it
 * happened.
 */
export function advance(tracked: Tracked, view: MessageView): Tracked {
  if (isFinal(tracked.status)) return tracked;
  if (view.status === tracked.status && !tracked.problem) return tracked;
  const trail = [...tracked.trail];
  const claimedAt = view.claimed_at;
  if (isFinal(view.status) && claimedAt !== undefined && trail.at(-1) !== "processing")
    trail.push("processing");
  if (trail.at(-1) !== view.status) trail.push(view.status);
  const next: Tracked = { ...tracked, status: view.status, trail };
  delete next.problem;
  if (view.reason) next.reason = view.reason;
  if (claimedAt !== undefined) {
    if (view.created_at > 0) next.waitedS = Math.max(0, claimedAt - view.created_at);
    if (view.processed_at !== undefined) next.tookS = Math.max(0, view.processed_at - claimedAt);
  }
  return next;
}

/**
 * A message the bot handled before this page was opened (or sent from elsewhere): from its own
 * record while the admin function keeps it, else from the session's log, which outlives it.
 */
export function fromHistory(
  sessionId: string,
  entry: HandledEntry,
  view: MessageView | null,
  summary: string,
): Tracked {
  if (view) return advance(track(entry.id, sessionId, summary, "queued"), view);
  const tracked = track(entry.id, sessionId, summary, entry.status);
  if (entry.reason) tracked.reason = entry.reason;
  return tracked;
}

/** A failed poll. A 404 means the message is gone (it expired and was cleaned up): final. */
export function failed(tracked: Tracked, problem: ApiProblem): Tracked {
  if (isFinal(tracked.status)) return tracked;
  if (problem.status === 404) {
    const trail: MessageStatus[] = [...tracked.trail, "expired"];
    return { ...tracked, status: "expired", trail, reason: "the admin function no longer knows it" };
  }
  return { ...tracked, problem };
}

/** Quick at first (a live bot takes a message within milliseconds), then easing off. */
export function pollDelayMs(attempt: number): number {
  return Math.min(1500, Math.round(150 * 1.5 ** attempt));
}

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export const sleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Polls until the message is final (or `signal` aborts), reporting every change. */
export async function follow(
  api: Pick<AdminApi, "message">,
  start: Tracked,
  onChange: (tracked: Tracked) => void,
  signal: AbortSignal,
  wait: Sleep = sleep,
): Promise<Tracked> {
  let tracked = start;
  for (let attempt = 0; !isFinal(tracked.status) && !signal.aborted; attempt++) {
    await wait(pollDelayMs(attempt), signal);
    if (signal.aborted) break;
    const answer = await api.message(tracked.id);
    const next = answer.ok ? advance(tracked, answer.value) : failed(tracked, answer.problem);
    if (next !== tracked) onChange(next);
    tracked = next;
  }
  return tracked;
}
