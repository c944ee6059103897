"""Transport construction per session kind: SmallWebRTC for local peers, Daily for rooms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipecat.transports.base_transport import BaseTransport, TransportParams

from voicefleet.contracts import TransportKind


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


def daily_transport(room_url: str, token: str | None, *, sample_rate: int) -> SessionTransport:
    from pipecat.transports.daily.transport import DailyParams, DailyTransport

    transport = DailyTransport(
        room_url, token, "voicefleet", params=DailyParams(**_params(sample_rate))
    )
    # Until the roster handler (a later issue) tracks humans, the first one to leave ends it.
    return SessionTransport(
        transport,
        TransportKind.DAILY,
        ("on_first_participant_joined",),
        ("on_participant_left",),
        ("on_error",),
    )
