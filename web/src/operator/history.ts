// Past sessions, from their reports (`GET /reports`, `GET /sessions/{id}/report`): what the
// history part of the operator page shows. Parsing is defensive, as for the live API: an entry
// that is not what it should be is left out, never fatal.

export interface ReportSummary {
  session_id: string;
  status: string;
  end_reason: string | null;
  started_at: number;
  ended_at: number;
  duration_s: number;
}

export interface TranscriptLine {
  role: "user" | "bot";
  text: string;
  start_s: number;
  end_s: number;
  interrupted: boolean;
}

/** One turn's stages, in seconds, in the order they happen; null where not measured. */
export interface Turn {
  index: number;
  at_s: number;
  vad_stop_s: number | null;
  stt_s: number | null;
  llm_first_token_s: number | null;
  tts_first_audio_s: number | null;
  end_of_speech_to_first_audio_s: number | null;
}

export interface ToolCall {
  name: string;
  at_s: number;
  duration_ms: number;
  outcome: string;
  error: string | null;
}

export interface AdminEntry {
  id: string;
  type: string;
  at_s: number;
  outcome: string;
  reason: string | null;
}

export interface Report {
  summary: ReportSummary;
  transcript: TranscriptLine[];
  turns: Turn[];
  tool_calls: ToolCall[];
  admin_messages: AdminEntry[];
  /** The report exactly as the API sent it, for the JSON export. */
  raw: Record<string, unknown>;
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown, fallback = ""): string {
  return typeof value === "string" ? value : fallback;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function list(value: unknown): Obj[] {
  return Array.isArray(value) ? value.filter(isObj) : [];
}

function summary(body: Obj): ReportSummary | null {
  const id = str(body.session_id);
  const started = num(body.started_at);
  const ended = num(body.ended_at);
  if (!id || started === null || ended === null) return null;
  return {
    session_id: id,
    status: str(body.status, "unknown"),
    end_reason: str(body.end_reason) || null,
    started_at: started,
    ended_at: ended,
    duration_s: num(body.duration_s) ?? Math.max(ended - started, 0),
  };
}

export function parseReports(body: unknown): ReportSummary[] {
  const reports = isObj(body) ? list(body.reports) : [];
  return reports.flatMap((r) => {
    const parsed = summary(r);
    return parsed ? [parsed] : [];
  });
}

export function parseReport(body: unknown): Report | null {
  if (!isObj(body)) return null;
  const head = summary(body);
  if (!head) return null;
  return {
    summary: head,
    transcript: list(body.transcript).flatMap((l): TranscriptLine[] => {
      const role = str(l.role);
      if (role !== "user" && role !== "bot") return [];
      return [{
        role, text: str(l.text), start_s: num(l.start_s) ?? 0, end_s: num(l.end_s) ?? 0,
        interrupted: l.interrupted === true,
      }];
    }),
    turns: list(body.turns).map((t, i) => ({
      index: num(t.index) ?? i,
      at_s: num(t.at_s) ?? 0,
      vad_stop_s: num(t.vad_stop_s),
      stt_s: num(t.stt_s),
      llm_first_token_s: num(t.llm_first_token_s),
      tts_first_audio_s: num(t.tts_first_audio_s),
      end_of_speech_to_first_audio_s: num(t.end_of_speech_to_first_audio_s),
    })),
    tool_calls: list(body.tool_calls).map((c) => ({
      name: str(c.name), at_s: num(c.at_s) ?? 0, duration_ms: num(c.duration_ms) ?? 0,
      outcome: str(c.outcome), error: str(c.error) || null,
    })),
    admin_messages: list(body.admin_messages).map((m) => ({
      id: str(m.id), type: str(m.type), at_s: num(m.at_s) ?? 0, outcome: str(m.outcome),
      reason: str(m.reason) || null,
    })),
    raw: body,
  };
}

export const STAGES = [
  ["vad_stop_s", "VAD stop"],
  ["stt_s", "STT"],
  ["llm_first_token_s", "LLM first token"],
  ["tts_first_audio_s", "TTS first audio"],
] as const;

export interface Segment {
  stage: string;
  label: string;
  seconds: number;
  /** Share of the widest turn's bar, 0 to 100. */
  percent: number;
}

/** A turn's bar: one segment per measured stage, scaled so the longest turn fills the width. */
export function segments(turn: Turn, longest_s: number): Segment[] {
  const scale = longest_s > 0 ? 100 / longest_s : 0;
  return STAGES.flatMap(([stage, label]) => {
    const seconds = turn[stage];
    if (seconds === null || seconds <= 0) return [];
    return [{ stage, label, seconds, percent: Math.round(seconds * scale * 10) / 10 }];
  });
}

export function turnTotal(turn: Turn): number {
  return STAGES.reduce((sum, [stage]) => sum + (turn[stage] ?? 0), 0);
}

export function formatClock(seconds: number): string {
  const whole = Math.max(Math.floor(seconds), 0);
  const m = Math.floor(whole / 60);
  const s = whole % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}
