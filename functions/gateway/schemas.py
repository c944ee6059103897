"""The request bodies the gateway accepts, validated before anything is stored or sent."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Per-session overrides are forwarded to the bot: keep them small.
_MAX_BODY_KEYS = 64


class JoinRequest(BaseModel):
    """The seed's `POST /join` and the data of an `io.voicefleet.bot.join` CloudEvent."""

    model_config = ConfigDict(extra="forbid")

    room_url: str = Field(min_length=1, max_length=2048)
    token: str | None = Field(default=None, max_length=4096)
    body: dict[str, Any] = Field(default_factory=dict, max_length=_MAX_BODY_KEYS)


class StartRequest(BaseModel):
    """Pipecat's session API (`POST /start`), as its client SDKs send it."""

    model_config = ConfigDict(extra="ignore")

    transport: Literal["webrtc", "daily"] | None = None
    enableDefaultIceServers: bool = False
    createDailyRoom: bool = False
    room_url: str | None = Field(default=None, max_length=2048)
    dailyRoomProperties: dict[str, Any] | None = None
    dailyMeetingTokenProperties: dict[str, Any] | None = None
    body: dict[str, Any] = Field(default_factory=dict, max_length=_MAX_BODY_KEYS)

    def resolved_transport(self) -> Literal["webrtc", "daily"]:
        if self.transport:
            return self.transport
        return "daily" if self.createDailyRoom or self.room_url else "webrtc"


class OfferRequest(BaseModel):
    """An SDP offer, as Pipecat's SmallWebRTC clients post it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    sdp: str = Field(min_length=1, max_length=64_000)
    type: Literal["offer"]
    pc_id: str | None = Field(default=None, max_length=128)
    restart_pc: bool | None = None
    request_data: dict[str, Any] | None = Field(default=None, alias="requestData")


class IceCandidateIn(BaseModel):
    candidate: str = Field(max_length=2048)
    sdp_mid: str = Field(max_length=64)
    sdp_mline_index: int = Field(ge=0, le=64)


class IcePatchRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pc_id: str = Field(min_length=1, max_length=128)
    candidates: list[IceCandidateIn] = Field(max_length=64)
