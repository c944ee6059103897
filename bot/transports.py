"""Transport construction per session kind: SmallWebRTC for local peers, Daily for rooms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipecat.transports.base_transport import BaseTransport, TransportParams

from voicefleet.contracts import DailyDialIn, DailyDialOut, TransportKind


@dataclass(frozen=True)
class SessionTransport:
    """A transport and the names its events go by (SmallWebRTC and Daily differ)."""

    transport: BaseTransport
    kind: TransportKind
    joined_events: tuple[str, ...]
    left_events: tuple[str, ...]
    error_events: tuple[str, ...] = ()


def _params(sample_rate: int, **extra: Any) -> dict[str, Any]:
    return {
        "audio_in_enabled": True,
        "audio_out_enabled": True,
        "audio_out_sample_rate": sample_rate,
        **extra,
    }


def webrtc_transport(connection: Any, *, sample_rate: int) -> SessionTransport:
    from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

    transport = SmallWebRTCTransport(
        webrtc_connection=connection, params=TransportParams(**_params(sample_rate))
    )
    return SessionTransport(
        transport, TransportKind.WEBRTC, ("on_client_connected",), ("on_client_disconnected",)
    )


def daily_transport(
    room_url: str,
    token: str | None,
    *,
    sample_rate: int,
    dialin: DailyDialIn | None = None,
    dialout: DailyDialOut | None = None,
    api_url: str = "https://api.daily.co/v1",
    api_key: str = "",
) -> SessionTransport:
    """A Daily room; with `dialin` the bot forwards a held phone call into it, with
    `dialout` it calls out once joined (bot/daily_phone.py; Daily's API key for both)."""
    from pipecat.transports.daily.transport import DailyParams, DailyTransport

    from bot.daily_phone import dial_out_when_joined, dialin_settings

    params = DailyParams(
        **_params(sample_rate),
        dialin_settings=dialin_settings(dialin),
        api_url=api_url,
        api_key=api_key,
    )
    transport = DailyTransport(room_url, token, "voicefleet", params=params)
    dial_out_when_joined(transport, dialout)
    # Until the roster handler (a later issue) tracks humans, the first one to leave ends it.
    return SessionTransport(
        transport,
        TransportKind.DAILY,
        ("on_first_participant_joined",),
        ("on_participant_left",),
        ("on_error",),
    )
