// The admin function's HTTP API, as the operator page uses it. Same-origin: in the dev stack the
// page's HttpOnly cookie stands for the admin key, which never reaches this code.

import { type Report, type ReportSummary, parseReport, parseReports } from "./history";

export type MessageStatus = "queued" | "processing" | "processed" | "rejected" | "expired";

/** One entry of `GET /sessions`. */
export interface SessionView {
  session_id: string;
  status: string;
  transport: string;
  room_url: string | null;
  tenant: string;
  runner: string | null;
  age_s: number;
  /** Whether the launch waited for a runner to start; null until a runner claimed it. */
  cold_start: boolean | null;
  /** The start-up spans, in ms, each null until it has happened. */
  launch_to_claimed_ms: number | null;
  claimed_to_ready_ms: number | null;
  ready_to_first_audio_ms: number | null;
}

/** One admin message a session's bot has handled, from its record's log. */
export interface HandledEntry {
  id: string;
  type: string;
  status: MessageStatus;
  reason: string | null;
}

/** `GET /sessions/{id}`: how a session ended, and the admin messages its bot handled. */
export interface SessionRecord {
  session_id: string;
  status: string;
  reason: string | null;
  handled: HandledEntry[];
}

/** `GET /admin/messages/{id}`. */
export interface MessageView {
  id: string;
  type: string;
  status: MessageStatus;
  created_at: number;
  claimed_at?: number;
  processed_at?: number;
  session_id?: string;
  reason?: string;
  /** The message as sent (`{"type": "say", "text": …}`). */
  message?: Record<string, unknown>;
}

/** What went wrong, in the API's own words. `status` 0 means no answer at all. */
export interface ApiProblem {
  status: number;
  message: string;
  field?: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; problem: ApiProblem };

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

const TIMEOUT_MS = 8000;
const MESSAGE_STATUSES: readonly string[] = ["queued", "processing", "processed", "rejected", "expired"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown, fallback = ""): string {
  return typeof value === "string" ? value : fallback;
}

function optStr(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The sessions of a `GET /sessions` answer; entries without an id are dropped, not fatal. */
export function parseSessions(body: unknown): SessionView[] {
  const list = isRecord(body) && Array.isArray(body.sessions) ? body.sessions : [];
  return list.filter(isRecord).flatMap((s) => {
    const id = str(s.session_id);
    if (!id) return [];
    return [
      {
        session_id: id,
        status: str(s.status, "unknown"),
        transport: str(s.transport, "unknown"),
        room_url: optStr(s.room_url),
        tenant: str(s.tenant),
        runner: optStr(s.runner),
        age_s: num(s.age_s) ?? 0,
        cold_start: typeof s.cold_start === "boolean" ? s.cold_start : null,
        launch_to_claimed_ms: num(s.launch_to_claimed_ms) ?? null,
        claimed_to_ready_ms: num(s.claimed_to_ready_ms) ?? null,
        ready_to_first_audio_ms: num(s.ready_to_first_audio_ms) ?? null,
      },
    ];
  });
}

export function parseSessionRecord(body: unknown): SessionRecord | null {
  if (!isRecord(body) || !str(body.session_id)) return null;
  const log = Array.isArray(body.admin_messages) ? body.admin_messages : [];
  const handled = log.filter(isRecord).flatMap((entry): HandledEntry[] => {
    const status = str(entry.status);
    if (!str(entry.id) || !MESSAGE_STATUSES.includes(status)) return [];
    return [
      {
        id: str(entry.id),
        type: str(entry.type),
        status: status as MessageStatus,
        reason: optStr(entry.reason),
      },
    ];
  });
  return {
    session_id: str(body.session_id),
    status: str(body.status, "unknown"),
    reason: optStr(body.reason),
    handled,
  };
}

export function parseMessage(body: unknown): MessageView | null {
  if (!isRecord(body) || !str(body.id) || !MESSAGE_STATUSES.includes(str(body.status))) {
    return null;
  }
  const view: MessageView = {
    id: str(body.id),
    type: str(body.type),
    status: body.status as MessageStatus,
    created_at: num(body.created_at) ?? 0,
  };
  const claimed = num(body.claimed_at);
  const processed = num(body.processed_at);
  if (claimed !== undefined) view.claimed_at = claimed;
  if (processed !== undefined) view.processed_at = processed;
  if (optStr(body.session_id)) view.session_id = str(body.session_id);
  if (optStr(body.reason)) view.reason = str(body.reason);
  if (isRecord(body.message)) view.message = body.message;
  return view;
}

/** The API's `{"error": {"message", "field"}}`, or a plain description of a non-JSON answer. */
export function problemOf(status: number, statusText: string, body: unknown): ApiProblem {
  const error = isRecord(body) && isRecord(body.error) ? body.error : null;
  const message = error ? str(error.message) : "";
  const problem: ApiProblem = {
    status,
    message: message || `HTTP ${status}${statusText ? " " + statusText : ""}`,
  };
  const field = error ? optStr(error.field) : null;
  if (field) problem.field = field;
  return problem;
}

export class AdminApi {
  constructor(
    private readonly fetcher: Fetch = (input, init) => fetch(input, init),
    private readonly base = "",
  ) {}

  async sessions(): Promise<Result<SessionView[]>> {
    const answer = await this.call("GET", "/sessions");
    return answer.ok ? { ok: true, value: parseSessions(answer.value) } : answer;
  }

  async session(id: string): Promise<Result<SessionRecord>> {
    const answer = await this.call("GET", `/sessions/${encodeURIComponent(id)}`);
    if (!answer.ok) return answer;
    const record = parseSessionRecord(answer.value);
    return record ? { ok: true, value: record } : unreadable();
  }

  /** `GET /reports`: past sessions, newest first (`status`: ended or failed, or all). */
  async reports(status: string): Promise<Result<ReportSummary[]>> {
    const query = status ? `?limit=50&status=${encodeURIComponent(status)}` : "?limit=50";
    const answer = await this.call("GET", `/reports${query}`);
    return answer.ok ? { ok: true, value: parseReports(answer.value) } : answer;
  }

  async report(id: string): Promise<Result<Report>> {
    const answer = await this.call("GET", `/sessions/${encodeURIComponent(id)}/report`);
    if (!answer.ok) return answer;
    const report = parseReport(answer.value);
    return report ? { ok: true, value: report } : unreadable();
  }

  /** `POST /admin`; the idempotency key makes a retry after a lost answer queue one message. */
  async send(
    sessionId: string,
    message: Record<string, unknown>,
    idempotencyKey: string,
  ): Promise<Result<{ id: string; status: MessageStatus }>> {
    const headers = { "Idempotency-Key": idempotencyKey };
    const answer = await this.call("POST", "/admin", { session_id: sessionId, message }, headers);
    if (!answer.ok) return answer;
    const body = answer.value;
    if (!isRecord(body) || !str(body.id)) return unreadable();
    const status = MESSAGE_STATUSES.includes(str(body.status)) ? str(body.status) : "queued";
    return { ok: true, value: { id: str(body.id), status: status as MessageStatus } };
  }

  async message(id: string): Promise<Result<MessageView>> {
    const answer = await this.call("GET", `/admin/messages/${encodeURIComponent(id)}`);
    if (!answer.ok) return answer;
    const view = parseMessage(answer.value);
    return view ? { ok: true, value: view } : unreadable();
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Result<unknown>> {
    const init: RequestInit = {
      method,
      headers: { Accept: "application/json", ...headers },
      credentials: "same-origin",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)["Content-Type"] = "application/json";
    }
    let response: Response;
    try {
      response = await this.fetcher(this.base + path, init);
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === "TimeoutError";
      const message = timedOut ? "the admin API did not answer in time" : "the admin API is unreachable";
      return { ok: false, problem: { status: 0, message } };
    }
    let parsed: unknown = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    if (!response.ok) {
      return { ok: false, problem: problemOf(response.status, response.statusText, parsed) };
    }
    return { ok: true, value: parsed };
  }
}

function unreadable(): { ok: false; problem: ApiProblem } {
  return { ok: false, problem: { status: 0, message: "the admin API answered something unreadable" } };
}
