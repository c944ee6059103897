"""Daily's REST API replaced at its network boundary, for the gateway's room creation."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class FakeDaily:
    """Daily's REST API: `POST /rooms` and `POST /meeting-tokens`, or a 500 when `failing`."""

    def __init__(self) -> None:
        self.failing = False
        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []
        self._tokens = 0
        self.app = Starlette(
            routes=[
                Route("/rooms", self._rooms, methods=["POST"]),
                Route("/meeting-tokens", self._token, methods=["POST"]),
            ]
        )

    @property
    def rooms(self) -> list[dict[str, Any]]:
        """The bodies of the `POST /rooms` it was sent: the rooms the gateway asked for."""
        return [payload for path, _, payload in self.requests if path == "/rooms"]

    async def _record(self, request: Request) -> Response | None:
        self.requests.append(
            (request.url.path, request.headers.get("authorization"), await request.json())
        )
        if self.failing:
            return JSONResponse({"error": "server-error"}, status_code=500)
        return None

    async def _rooms(self, request: Request) -> Response:
        failed = await self._record(request)
        name = "r-" + uuid.uuid4().hex[:8]
        return failed or JSONResponse({"name": name, "url": f"https://acme.daily.co/{name}"})

    async def _token(self, request: Request) -> Response:
        failed = await self._record(request)
        self._tokens += 1
        return failed or JSONResponse({"token": f"daily-token-{self._tokens}"})
