"""Stand-ins for the broker's ingress (K_SINK): one that accepts and counts every launch, one
that records the CloudEvents it accepts and can be told to refuse them."""

from __future__ import annotations

import asyncio
from typing import Any

from cloudevents.http import CloudEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from voicefleet import cloudevents_codec
from voicefleet.contracts import LAUNCH_EVENT


class CountingSink:
    """The broker's ingress: accepts every launch and counts them."""

    def __init__(self) -> None:
        self.session_ids: set[str] = set()
        self.app = Starlette(routes=[Route("/", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        event = cloudevents_codec.parse(request.headers, await request.body())
        self.session_ids.add(cloudevents_codec.data_of(event)["session_id"])
        return Response(status_code=202)


class CaptureSink:
    """The broker (K_SINK): records the CloudEvents it accepts; answers `status`."""

    def __init__(self) -> None:
        self.app = Starlette(routes=[Route("/", self._receive, methods=["POST"])])
        self.reset()

    def reset(self) -> None:
        self.status = 202
        self.events: list[CloudEvent] = []
        self.refused = 0
        self._accepted: asyncio.Queue[CloudEvent] = asyncio.Queue()

    async def _receive(self, request: Request) -> Response:
        event = cloudevents_codec.parse(request.headers, await request.body())
        if self.status >= 300:
            self.refused += 1
            return Response(status_code=self.status)
        self.events.append(event)
        self._accepted.put_nowait(event)
        return Response(status_code=self.status)

    @property
    def launches(self) -> list[dict[str, Any]]:
        return [cloudevents_codec.data_of(e) for e in self.events if e["type"] == LAUNCH_EVENT]

    async def next_launch(self) -> dict[str, Any]:
        event = await asyncio.wait_for(self._accepted.get(), 5)
        assert event["type"] == LAUNCH_EVENT
        return cloudevents_codec.data_of(event)

    async def next_event(self, timeout_s: float = 5) -> CloudEvent:
        """The next event it accepts, of any type."""
        return await asyncio.wait_for(self._accepted.get(), timeout_s)
