"""The broker (K_SINK) refusing or down: the launch fails and leaves nothing behind."""

from __future__ import annotations

import pytest

from tests.gateway.client import ACME, PREBUILT_START, ROOM, Gateway, GatewayFactory, error_of
from tests.support.servers import free_port, serving

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_sink_refusing_the_launch_leaves_nothing_behind(gateway: Gateway) -> None:
    gateway.sink.status = 500
    headers = {**ACME, "Idempotency-Key": "retry-me"}

    response = await gateway.http.post("/join", json={"room_url": ROOM}, headers=headers)

    assert response.status_code == 503, response.text
    assert "retry" in error_of(response)["message"]
    assert gateway.sink.refused == 1
    assert await gateway.stored_keys() == []

    gateway.sink.status = 202
    retry = await gateway.http.post("/join", json={"room_url": ROOM}, headers=headers)
    assert retry.status_code == 202, retry.text
    session_id = retry.json()["session_id"]
    assert [x["session_id"] for x in gateway.sink.launches] == [session_id]
    assert (await gateway.session(session_id))["status"] == "queued"


async def test_sink_down_leaves_nothing_behind(make_gateway: GatewayFactory) -> None:
    port = free_port()
    async with make_gateway(K_SINK=f"http://127.0.0.1:{port}/") as gw:
        headers = {**ACME, "Idempotency-Key": "retry-me"}
        for path, body in [("/join", {"room_url": ROOM}), ("/start", PREBUILT_START)]:
            response = await gw.http.post(path, json=body, headers=headers)
            assert response.status_code == 503, response.text
            error_of(response)
        assert await gw.stored_keys() == []

        async with serving(gw.sink.app, port=port):
            retry = await gw.http.post("/join", json={"room_url": ROOM}, headers=headers)
        assert retry.status_code == 202, retry.text
        assert [x["session_id"] for x in gw.sink.launches] == [retry.json()["session_id"]]


async def test_without_a_sink_nothing_launches(make_gateway: GatewayFactory) -> None:
    async with make_gateway(K_SINK="") as gw:
        response = await gw.http.post("/join", json={"room_url": ROOM}, headers=ACME)
        assert response.status_code == 503, response.text
        assert "K_SINK" in error_of(response)["message"]
        assert await gw.stored_keys() == []
