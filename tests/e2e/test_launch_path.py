"""A real WebRTC client through gateway, broker, pool and runner, as a user would connect."""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np
import pytest

from harness.stack import RunningStack, start_stack, stop_stack
from harness.webrtc import WebRTCCall

pytestmark = pytest.mark.e2e


async def wait_status(
    stack: RunningStack,
    session_id: str,
    *wanted: str,
    timeout_s: float = 15,
    gateway_url: str | None = None,
) -> dict:
    """The session's record once its status is one of `wanted` (or at the timeout), asked of
    the stack's gateway or of `gateway_url` (another gateway process on the same Redis)."""
    base_url = gateway_url or stack.url
    async with httpx.AsyncClient(base_url=base_url, headers=stack.headers) as http:
        deadline = time.monotonic() + timeout_s
        while True:
            record = (await http.get(f"/sessions/{session_id}")).json()
            if record["status"] in wanted or time.monotonic() > deadline:
                return record
            await asyncio.sleep(0.1)


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if pcm.size else 0.0


async def test_session_api_call_hears_greeting_then_ends(stack: RunningStack) -> None:
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(10)
        await asyncio.sleep(1.0)
        joined = await call.session()
        greeting = call.recording.audio()
    assert joined["status"] == "joined"
    assert joined["runner"]
    assert rms(greeting) > 300, "the greeting should be clearly audible"
    ended = await wait_status(stack, call.session_id or "", "ended", "failed")
    assert ended["status"] == "ended"
    assert ended["reason"] == "client left"
    assert ended["joined_at"] <= ended["ended_at"]


async def test_direct_api_offer_returns_answer_with_session_id(stack: RunningStack) -> None:
    async with WebRTCCall(stack.url, api_key=stack.api_key, direct=True) as call:
        assert call.session_id
        await call.wait_for_audio(10)
    ended = await wait_status(stack, call.session_id, "ended", "failed")
    assert ended["status"] == "ended"


async def test_second_concurrent_call_takes_the_cold_path(stack: RunningStack) -> None:
    calls = [WebRTCCall(stack.url, api_key=stack.api_key) for _ in range(2)]
    await asyncio.gather(*(c.connect() for c in calls))
    try:
        await asyncio.gather(*(c.wait_for_audio(30) for c in calls))
        runners = {(await c.session())["runner"] for c in calls}
    finally:
        await asyncio.gather(*(c.close() for c in calls))
    assert len(runners) == 2, "each call must get a runner of its own"
    assert any("cold start" in line for line in stack.output)


async def test_client_delete_ends_a_running_call(stack: RunningStack) -> None:
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(10)
        response = await call.http.delete(f"/sessions/{call.session_id}")
        assert response.status_code in (200, 202)
        ended = await wait_status(stack, call.session_id or "", "ended", "failed")
    assert ended["status"] == "ended"
    assert ended["reason"] == "ended by client"


async def test_daily_room_unreachable_fails_with_reason(stack: RunningStack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, headers=stack.headers) as http:
        response = await http.post("/join", json={"room_url": "https://voicefleet-e2e.daily.co/r"})
        assert response.status_code == 202
        session_id = response.json()["session_id"]
    record = await wait_status(stack, session_id, "failed", "ended", timeout_s=60)
    assert record["status"] == "failed"
    assert "daily.co" in record["reason"]


def test_browser_client_is_served_and_admitted_without_a_key(stack: RunningStack) -> None:
    with httpx.Client(base_url=stack.url) as browser:
        page = browser.get("/client/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        started = browser.post(
            "/start", json={"transport": "webrtc", "enableDefaultIceServers": True}
        )
        assert started.status_code == 200, started.text
        assert "iceConfig" not in started.json()  # offline: no public STUN
        # Another local page (every port of 127.0.0.1 is one site) cannot ride the cookie.
        for elsewhere in ({"Sec-Fetch-Site": "same-site"}, {"Origin": "http://127.0.0.1:1"}):
            assert browser.post("/start", json={}, headers=elsewhere).status_code == 401
    # Without the page's cookie, the same request needs a key.
    assert httpx.post(f"{stack.url}/start", json={}).status_code == 401


def test_dev_stack_stops_everything_on_ctrl_c() -> None:
    running = start_stack("--warm", "2", "--max", "2")
    code, left = stop_stack(running)
    assert code == 0
    assert not left, f"processes left behind: {left}"


async def test_a_call_outlives_redis_read_timeouts(stack: RunningStack) -> None:
    """Runner and gateway wait on Redis lists for the whole call; a call of several seconds
    (past redis-py's 5 s default read timeout) must stay up and end normally."""
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(10)
        await asyncio.sleep(7)
        assert (await call.session())["status"] == "joined"
    ended = await wait_status(stack, call.session_id or "", "ended", "failed")
    assert (ended["status"], ended["reason"]) == ("ended", "client left")
