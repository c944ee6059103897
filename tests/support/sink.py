"""A stand-in for the broker's ingress (K_SINK) that accepts every launch."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from voicefleet import cloudevents_codec


class CountingSink:
    """The broker's ingress: accepts every launch and counts them."""

    def __init__(self) -> None:
        self.session_ids: set[str] = set()
        self.app = Starlette(routes=[Route("/", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        event = cloudevents_codec.parse(request.headers, await request.body())
        self.session_ids.add(cloudevents_codec.data_of(event)["session_id"])
        return Response(status_code=202)
