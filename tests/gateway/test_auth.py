"""Who may call the gateway: an API key per tenant, and another tenant's session does not exist."""

from __future__ import annotations

import asyncio

import pytest

from tests.gateway.client import CANDIDATES, GLOBEX, OFFER, ROOM, Gateway, error_of
from voicefleet.contracts import Keys

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_healthz_needs_no_key(gateway: Gateway) -> None:
    response = await gateway.http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic key-acme"},
        {"Authorization": "key-acme"},
    ],
    ids=["none", "wrong", "empty", "basic", "no-scheme"],
)
async def test_requests_without_a_valid_key_are_refused(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    session_id = await gateway.join()
    calls = [
        gateway.http.post("/join", json={"room_url": ROOM}, headers=headers),
        gateway.http.post("/start", json={}, headers=headers),
        gateway.http.get(f"/sessions/{session_id}", headers=headers),
        gateway.http.delete(f"/sessions/{session_id}", headers=headers),
    ]
    for response in await asyncio.gather(*calls):
        assert response.status_code == 401, response.text
        error_of(response)
    assert len(gateway.sink.launches) == 1
    assert (await gateway.session(session_id))["status"] == "queued"


async def test_each_tenant_uses_its_own_key(gateway: Gateway) -> None:
    acme = await gateway.join()
    globex = await gateway.join(headers=GLOBEX)
    assert (await gateway.session(acme))["tenant"] == "acme"
    assert (await gateway.session(globex, headers=GLOBEX))["tenant"] == "globex"


async def test_another_tenants_session_does_not_exist(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()
    path = f"/sessions/{session_id}"

    calls = [
        gateway.http.get(path, headers=GLOBEX),
        gateway.http.delete(path, headers=GLOBEX),
        gateway.http.post(f"{path}/api/offer", json=OFFER, headers=GLOBEX),
        gateway.http.patch(f"{path}/api/offer", json=CANDIDATES, headers=GLOBEX),
    ]
    missing = await gateway.http.get("/sessions/no-such-session", headers=GLOBEX)
    for response in await asyncio.gather(*calls):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["field"] == "session_id"
        # Indistinguishable from a session that does not exist at all.
        assert response.json().keys() == missing.json().keys()
    assert (await gateway.session(session_id))["status"] == "queued"
    assert await gateway.redis.llen(Keys.session_inbox(session_id)) == 0
