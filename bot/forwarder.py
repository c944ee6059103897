"""Sends tool events to the user's interface over the session's transport.

Daily delivers them as app messages; over SmallWebRTC they travel as RTVI server messages
(`{"label": "rtvi-ai", "type": "server-message", "data": {"type", "data"}}`), which is what
Pipecat's client SDKs surface as `onServerMessage`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pipecat.frames.frames import Frame, OutputTransportMessageUrgentFrame
from pipecat.processors.frameworks.rtvi import RTVIServerMessageFrame

from voicefleet.contracts import TransportKind

PushFrames = Callable[[list[Frame]], Awaitable[None]]


class EventForwarder:
    def __init__(self, transport: TransportKind, push: PushFrames) -> None:
        self._transport = transport
        self._push = push
        self.sent: list[dict[str, Any]] = []

    async def emit_tool_event(self, name: str, data: dict[str, Any]) -> None:
        event = {"type": name, "data": data}
        if self._transport.is_phone:
            # A phone has no interface to show it: kept (for the session's record), not sent,
            # where the provider's stream would take it for a message it does not know.
            self.sent.append(event)
            return
        frame: Frame
        if self._transport is TransportKind.DAILY:
            frame = OutputTransportMessageUrgentFrame(message=event)
        else:
            frame = RTVIServerMessageFrame(data=event)
        self.sent.append(event)
        await self._push([frame])
