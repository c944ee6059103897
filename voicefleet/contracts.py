"""The contracts every voicefleet service shares: event types, payloads, records, Redis keys.

Gateway, broker, runner and bot import these names so that a key format or an event type
is written exactly once; a typo in one service would otherwise be a silent split-brain.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# CloudEvent types ---------------------------------------------------------------------------

JOIN_EVENT = "io.voicefleet.bot.join"
LAUNCH_EVENT = "io.voicefleet.bot.launch"
SESSION_ENDED_EVENT = "io.voicefleet.session.ended"
SESSION_STARTED_EVENT = "io.voicefleet.session.started"
SESSION_REPORT_EVENT = "io.voicefleet.session.report"
# One webhook delivery of one event to one endpoint (the records function sends it to itself
# through the broker, so that the broker's retries and dead letter cover the last hop too).
WEBHOOK_DELIVERY_EVENT = "io.voicefleet.webhook.delivery"
ADMIN_MESSAGE_EVENT = "io.voicefleet.admin.message"

# The longest text an admin message may carry (checked by the admin function and the bot).
ADMIN_TEXT_MAX = 4000

GATEWAY_SOURCE = "/voicefleet/gateway"
ADMIN_SOURCE = "/voicefleet/admin"
RECORDS_SOURCE = "/voicefleet/records"


def runner_source(runner_id: str) -> str:
    return f"/voicefleet/runner/{runner_id}"


# Session model -------------------------------------------------------------------------------


class SessionStatus(StrEnum):
    QUEUED = "queued"
    STARTING = "starting"
    JOINED = "joined"
    ENDED = "ended"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (SessionStatus.ENDED, SessionStatus.FAILED)


class TransportKind(StrEnum):
    WEBRTC = "webrtc"
    DAILY = "daily"
    # Phone calls: the provider's media stream, relayed by the gateway (functions/gateway/media/).
    TWILIO = "twilio"
    TELNYX = "telnyx"

    @property
    def is_phone(self) -> bool:
        return self in (TransportKind.TWILIO, TransportKind.TELNYX)


class LaunchPayload(BaseModel):
    """What a runner needs to start one bot; the data of a launch CloudEvent.

    Secrets (a Daily meeting token, provider keys) never travel here: the token waits in Redis
    under `Keys.session_secret` and provider keys come from the runner's own configuration.
    """

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(min_length=1, max_length=64)
    tenant: str = Field(min_length=1, max_length=64)
    transport: TransportKind
    room_url: str | None = None
    body: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)


class DailyDialIn(BaseModel):
    """A phone call Daily holds for the bot (its pinless dial-in webhook's `callId` and
    `callDomain`): the bot forwards it into its room once joined."""

    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    call_domain: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class DailyDialOut(BaseModel):
    """Whom the bot calls from its Daily room once joined: a phone number or a SIP URI."""

    model_config = ConfigDict(extra="forbid")

    phone_number: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    sip_uri: str | None = Field(default=None, max_length=256, pattern=r"^sips?:[^\s]+$")

    @model_validator(mode="after")
    def _one_target(self) -> DailyDialOut:
        if (self.phone_number is None) == (self.sip_uri is None):
            raise ValueError("dialout needs exactly one of phone_number and sip_uri")
        return self


class SessionOverrides(BaseModel):
    """What a client may choose per session in its request's `body` (other keys are passed on
    untouched and ignored by the bot; a secret never travels here)."""

    model_config = ConfigDict(extra="ignore")

    greeting: str | None = Field(default=None, min_length=1, max_length=500)
    user_name: str | None = Field(default=None, max_length=100)
    # The tenant's own id for its user, whose data the tools use; the tenant itself comes from
    # the API key. ASCII, as it travels in an HTTP header to Mesh.
    user_id: str = Field(
        default="default", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@:-]+$"
    )
    # Phone calls through a Daily room (`createDailyRoom` sessions): forward a dial-in call, or
    # dial out once joined.
    dialin: DailyDialIn | None = None
    dialout: DailyDialOut | None = None


class SessionStart(BaseModel):
    """How a session started (runner/timings.py), each field None until it has happened; the
    three `launch_to_claimed`, `claimed_to_ready` and `ready_to_first_audio` spans add up to
    request → first bot audio. The descriptions are the APIs'
    documentation (docs/openapi-*.json)."""

    cold_start: bool | None = Field(
        default=None,
        description="the launch waited for a runner to start: no warm runner was free",
    )
    launch_to_claimed_ms: float | None = Field(
        default=None, description="launch created → a runner claimed it"
    )
    claimed_to_ready_ms: float | None = Field(
        default=None,
        description="claimed → the bot joined (transport connected, pipeline running)",
    )
    # claimed_to_ready_ms in three, for a WebRTC session (the client's offer comes to its bot).
    claimed_to_offer_ms: float | None = Field(
        default=None,
        description="WebRTC: claimed → the client's SDP offer reached the bot (the client "
        "making its offer, and the relay)",
    )
    offer_to_answer_ms: float | None = Field(
        default=None,
        description="WebRTC: the offer reached the bot → its SDP answer sent back",
    )
    answer_to_ready_ms: float | None = Field(
        default=None,
        description="WebRTC: the answer sent → the bot joined (the client's ICE and DTLS, "
        "the pipeline starting beside them)",
    )
    ready_to_first_audio_ms: float | None = Field(
        default=None, description="joined → the bot's first audio out"
    )


class SessionRecord(SessionStart):
    """The `session:{id}` hash: what `GET /sessions/{id}` shows."""

    session_id: str
    tenant: str
    status: SessionStatus
    transport: TransportKind
    room_url: str | None = None
    runner: str | None = None
    reason: str | None = None
    # A phone call's caller, as its tenant chose to keep it: E.164 or masked (never otherwise).
    caller: str | None = None
    # A phone call's progress as its provider reports it (queued, ringing, in-progress, …).
    call_status: str | None = None
    created_at: float
    updated_at: float
    started_at: float | None = None
    joined_at: float | None = None
    ended_at: float | None = None

    def to_redis(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.model_dump(mode="json").items() if v is not None}

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> SessionRecord:
        return cls.model_validate(raw)


def admin_address(session_id: str, room_url: str | None) -> str:
    """Where a session's admin messages wait: its room, or the session itself (WebRTC)."""
    return room_url or session_id


class SessionEnded(BaseModel):
    """Data of the `io.voicefleet.session.ended` CloudEvent a runner replies with."""

    session_id: str
    status: Literal["ended", "failed", "duplicate"]
    reason: str | None = None
    runner: str


# Redis keys ----------------------------------------------------------------------------------


class Keys:
    """Every Redis key voicefleet uses, in one place."""

    @staticmethod
    def session(session_id: str) -> str:
        return f"session:{session_id}"

    @staticmethod
    def session_secret(session_id: str) -> str:
        return f"session:{session_id}:secret"

    @staticmethod
    def session_client_token(session_id: str) -> str:
        """The client's own meeting token for a room the gateway created, for its retries."""
        return f"session:{session_id}:client-token"

    @staticmethod
    def session_lease(session_id: str) -> str:
        """Held by the runner that claimed the session; expires if that runner dies."""
        return f"session:{session_id}:lease"

    @staticmethod
    def session_inbox(session_id: str) -> str:
        """Signalling messages (SDP offers, ICE candidates, hang-up) for the session's runner."""
        return f"session:{session_id}:inbox"

    @staticmethod
    def session_reply(session_id: str, request_id: str) -> str:
        return f"session:{session_id}:reply:{request_id}"

    @staticmethod
    def peer_connection(pc_id: str) -> str:
        """Maps a WebRTC peer connection to its session, for ICE patches on `/api/offer`."""
        return f"pc:{pc_id}"

    @staticmethod
    def room_lease(room_url: str) -> str:
        """One bot per room: taken together with the session lease."""
        return f"room:{room_url}:lease"

    @staticmethod
    def idempotency(tenant: str, key: str) -> str:
        return f"idempotency:{tenant}:{key}"

    @staticmethod
    def media_in(session_id: str) -> str:
        """A phone call's provider messages (audio, DTMF, stop), gateway → runner (a stream)."""
        return f"session:{session_id}:media:in"

    @staticmethod
    def media_out(session_id: str) -> str:
        """The bot's messages for the provider (audio, clear), runner → gateway (a stream)."""
        return f"session:{session_id}:media:out"

    @staticmethod
    def phone_call(provider: str, call_id: str) -> str:
        """The session of a provider's call, for its later webhooks (status, stream end)."""
        return f"phone-call:{provider}:{call_id}"

    @staticmethod
    def stream_token(token_hash: str) -> str:
        """A phone call's one-time media stream token, by its SHA-256: the session it opens."""
        return f"stream-token:{token_hash}"

    ACTIVE_SESSIONS = "sessions:active"
    # Sessions no runner has claimed yet, by creation time: what the queue-time bound sweeps.
    QUEUED_SESSIONS = "sessions:queued"

    @staticmethod
    def tenant_sessions(tenant: str) -> str:
        """The tenant's sessions counted against its concurrent-session limit."""
        return f"tenant:{tenant}:sessions"

    @staticmethod
    def tenant_launches(tenant: str) -> str:
        """The tenant's launches of the last minute, for its launches-per-minute limit."""
        return f"tenant:{tenant}:launches"

    # Admin messages. A session's admin address is its room URL, or its id when it has no
    # room (WebRTC); messages can be queued for a room before its bot arrives.

    @staticmethod
    def admin_channel(address: str) -> str:
        """Pub/sub: wakes the bot at once; carries only the message id."""
        return f"admin:bot:{address}"

    @staticmethod
    def admin_queue(address: str) -> str:
        """The ids waiting for the bot: the list is what makes delivery reliable."""
        return f"admin:queue:{address}"

    @staticmethod
    def admin_processing(address: str) -> str:
        """Ids a bot has taken and not yet finished; requeued if that bot dies."""
        return f"admin:processing:{address}"

    @staticmethod
    def admin_message(message_id: str) -> str:
        return f"admin:message:{message_id}"

    @staticmethod
    def admin_idempotency(tenant: str, key: str) -> str:
        return f"admin:idempotency:{tenant}:{key}"

    @staticmethod
    def session_admin_log(session_id: str) -> str:
        """The admin messages a session processed or rejected, in order."""
        return f"session:{session_id}:admin"
