"""What the admin function answers about sessions: the models its routes build the answers
from, and the OpenAPI document describes them by (docs/openapi-admin.json)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from voicefleet.admin_queue import AdminStatus
from voicefleet.contracts import SessionRecord, SessionStart, SessionStatus, TransportKind


class SessionSummary(SessionStart):
    """One live session, as an operator's list shows it."""

    session_id: str
    status: SessionStatus
    transport: TransportKind
    room_url: str | None
    tenant: str
    runner: str | None
    age_s: float = Field(description="seconds since the launch was created")

    @classmethod
    def of(cls, record: SessionRecord, now: float) -> SessionSummary:
        fields = record.model_dump(include=set(cls.model_fields) - {"age_s"})
        return cls(**fields, age_s=round(now - record.created_at, 3))


class SessionList(BaseModel):
    sessions: list[SessionSummary]


class HandledMessage(BaseModel):
    """One admin message the session's bot finished, from its log."""

    id: str
    type: str
    status: AdminStatus
    reason: str | None = None
    at: float = Field(description="when the bot finished it (Unix time)")


class SessionWithMessages(SessionRecord):
    """A session's record and the admin messages its bot handled, in order."""

    admin_messages: list[HandledMessage]
