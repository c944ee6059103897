"""The session report: what remains of a call once it has ended.

The runner assembles it as the call goes (the bot feeds it), sends it as the data of an
`io.voicefleet.session.report` CloudEvent, and the records function stores it and hands it to
the tenant's webhooks. Gateway, admin and records read and write this one model, so the
report a tenant fetches is the one its webhook received.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from voicefleet.contracts import SessionStart, TransportKind


class TranscriptLine(BaseModel):
    """One side's final words in one turn. Times are seconds since the call started."""

    role: Literal["user", "bot"]
    text: str
    start_s: float
    end_s: float
    # The user cut the bot off; `text` holds only what was said before the cut.
    interrupted: bool = False


class TurnFigures(BaseModel):
    """One user turn and the bot's answer, by stage, in seconds (None: not measured)."""

    index: int
    at_s: float = Field(description="end of the user's speech, seconds since the call started")
    vad_stop_s: float | None = None
    stt_s: float | None = None
    llm_first_token_s: float | None = None
    tts_first_audio_s: float | None = None
    # End of the user's speech to the bot's first audio: the figure a caller feels.
    end_of_speech_to_first_audio_s: float | None = None


class ToolCallRecord(BaseModel):
    name: str
    at_s: float
    duration_ms: float
    outcome: Literal["ok", "error"]
    error: str | None = None
    # None where the tool declares its arguments private.
    arguments: dict[str, Any] | None = None


class AdminMessageRecord(BaseModel):
    id: str
    type: str
    at_s: float
    outcome: Literal["handled", "refused"]
    reason: str | None = None


class Usage(BaseModel):
    """What the call consumed, summed from Pipecat's usage metrics."""

    stt_audio_s: float = 0.0
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    tts_characters: int = 0


class Recording(BaseModel):
    track: Literal["mixed", "user", "bot"]
    format: str
    key: str
    duration_s: float
    url: str | None = None  # pre-signed, expiring; filled in when the report is read


class SessionReport(BaseModel):
    session_id: str
    tenant: str
    transport: TransportKind
    status: Literal["ended", "failed"]
    end_reason: str | None = None
    started_at: float
    ended_at: float
    duration_s: float
    start: SessionStart = Field(default_factory=SessionStart)
    transcript: list[TranscriptLine] = Field(default_factory=list)
    turns: list[TurnFigures] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    admin_messages: list[AdminMessageRecord] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    recordings: list[Recording] = Field(default_factory=list)


class SessionStarted(BaseModel):
    """Data of the `io.voicefleet.session.started` CloudEvent: the bot joined its call."""

    session_id: str
    tenant: str
    transport: TransportKind
    started_at: float
    cold_start: bool | None = None


class ReportReference(BaseModel):
    """Data of a session.report event whose report was too large for the broker: it waits in
    storage under `key`, and the event carries only where."""

    session_id: str
    tenant: str
    report_key: str
    size_bytes: int
