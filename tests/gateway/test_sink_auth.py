"""The gateway proves who it is to the broker: with Knative's sender identity on, the SinkBinding
mounts an OIDC token for the gateway, and the production overlay's EventPolicy accepts launches
only with it. A capture sink stands in for the broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from functions import asgi_app
from functions.gateway import context as gateway_context
from tests.support.servers import serving

KEY = "sink-auth-key"


@pytest.fixture
async def gateway(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, list[str | None], Path]]:
    seen: list[str | None] = []

    async def sink(request: Request) -> Response:
        seen.append(request.headers.get("authorization"))
        return Response(status_code=202)

    token_file = tmp_path / "oidc" / "token"
    async with serving(Starlette(routes=[Route("/", sink, methods=["POST"])])) as sink_url:
        for name, value in {
            "REDIS_URL": redis_url,
            "VOICEFLEET_API_KEYS": f"acme:{KEY}",
            "K_SINK": sink_url,
            "VOICEFLEET_SINK_OIDC_TOKEN_FILE": str(token_file),
        }.items():
            monkeypatch.setenv(name, value)
        await gateway_context.context.reset()
        async with serving(asgi_app("gateway")) as url, httpx.AsyncClient(base_url=url) as http:
            yield http, seen, token_file
        await gateway_context.context.reset()


async def test_launches_carry_the_mounted_token_and_follow_its_rotation(
    gateway: tuple[httpx.AsyncClient, list[str | None], Path],
) -> None:
    http, seen, token_file = gateway
    auth = {"Authorization": f"Bearer {KEY}"}
    room = {"room_url": "https://acme.daily.co/r"}
    assert (await http.post("/join", json=room, headers=auth)).status_code == 202
    token_file.parent.mkdir()
    token_file.write_text("oidc-token-1\n")
    assert (await http.post("/join", json=room, headers=auth)).status_code == 202
    token_file.write_text("oidc-token-2")
    assert (await http.post("/join", json=room, headers=auth)).status_code == 202
    # No token mounted (OIDC off): no header; then each launch with the token of the moment.
    assert seen == [None, "Bearer oidc-token-1", "Bearer oidc-token-2"]
