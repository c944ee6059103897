"""`DELETE /sessions/{id}`: a queued session ends; a running one's runner is told."""

from __future__ import annotations

import pytest

from tests.gateway.client import ACME, ROOM, Gateway
from tests.support.documented import assert_documented
from voicefleet.session_store import SessionStore
from voicefleet.signalling import SignallingRelay

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_delete_ends_a_queued_session(gateway: Gateway) -> None:
    session_id = await gateway.join()

    response = await gateway.http.delete(f"/sessions/{session_id}", headers=ACME)

    assert response.status_code == 202, response.text
    assert_documented("gateway", "DELETE", "/sessions/{session_id}", 202, response.json())
    assert (response.json()["status"], response.json()["reason"]) == ("ended", "ended by client")
    record = await gateway.session(session_id)
    assert (record["status"], record["reason"]) == ("ended", "ended by client")
    assert record["ended_at"] is not None
    # A runner that picks up the launch late does not start a bot.
    late = await SessionStore(gateway.redis).claim(
        session_id, "late-runner", room_url=ROOM, lease_ms=10_000
    )
    assert (late.claimed, late.reason) == (False, "final")

    again = await gateway.http.delete(f"/sessions/{session_id}", headers=ACME)
    assert again.status_code == 200, again.text
    assert_documented("gateway", "DELETE", "/sessions/{session_id}", 200, again.json())
    assert again.json() == record


async def test_delete_tells_the_runner_of_a_running_session(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()
    store = SessionStore(gateway.redis)
    assert (await store.claim(session_id, "runner-a", room_url=None, lease_ms=10_000)).claimed

    response = await gateway.http.delete(f"/sessions/{session_id}", headers=ACME)

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "starting"  # the runner ends it
    relay = SignallingRelay(gateway.redis)
    message = await relay.receive(session_id, timeout_s=1)
    assert message is not None
    assert (message.kind, message.payload) == ("end", {"reason": "ended by client"})
