"""What an operator of a running fleet sees after real calls: metrics on every service.

One dev stack serves the whole module: a spoken request that becomes a Mesh tool call, an admin
message, a hang-up. Then each service's `/metrics` is scraped the way Prometheus would (the
runners found through the pool's http_sd endpoint, as pods are on a cluster).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import RunningStack, start_stack, stop_stack
from tests.e2e.test_launch_path import wait_status
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.prometheus import label_values, samples, value
from tests.support.speech import make_wav
from voicefleet.client.webrtc import WebRTCCall

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def observed_stack() -> Iterator[RunningStack]:
    running = start_stack("--warm", "1", "--max", "2")
    yield running
    if running.process.poll() is None:
        stop_stack(running)


async def _scrape(url: str) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200, url
    return response.text


async def _runner_scrapes(stack: RunningStack) -> list[str]:
    """Every runner's /metrics, found as Prometheus' http_sd would find them."""
    line = next(line for line in stack.output if "http_sd:" in line)
    found = re.search(r"http_sd: (\S+?)\)", line)
    assert found, line
    async with httpx.AsyncClient() as http:
        groups = (await http.get(found.group(1))).json()
    targets = [t for group in groups for t in group["targets"]]
    assert targets
    return [await _scrape(f"http://{target}/metrics") for target in targets]


def _sum(texts: list[str], name: str, **labels: str) -> float:
    return sum(value(text, name, **labels) for text in texts)


async def test_a_call_with_a_tool_shows_in_every_services_metrics(
    observed_stack: RunningStack, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    stack = observed_stack
    fake_llm.script += [
        Reply(tool_calls=[("bot_create_note", {"title": "standup"})]),
        Reply(text="I've created your standup note."),
    ]
    request = make_wav("Create a note called standup.", tmp_path / "request.wav")
    async with (
        WebRTCCall(stack.url, api_key=stack.api_key) as call,
        httpx.AsyncClient(base_url=stack.admin_url, headers=stack.admin_headers) as admin,
    ):
        await call.wait_for_audio(10)
        await call.wait_for_silence(0.8)
        await call.say(request)
        assert await call.wait_for_text("created your standup note", 30), call.bot_texts()
        await call.wait_for_silence(0.8, 30)
        sent = await admin.post(
            "/admin",
            json={"session_id": call.session_id, "message": {"type": "say", "text": "Noted."}},
        )
        assert sent.status_code == 202
        assert await call.wait_for_text("Noted.", 15), call.bot_texts()
    session_id = call.session_id or ""
    assert (await wait_status(stack, session_id, "ended", "failed"))["status"] == "ended"

    gateway = await _scrape(stack.url + "/metrics")
    assert value(gateway, "voicefleet_gateway_launches_total", transport="webrtc",
                 outcome="queued") >= 1  # fmt: skip
    assert value(gateway, "voicefleet_gateway_signal_relay_seconds_count", kind="offer",
                 outcome="ok") >= 1  # fmt: skip
    assert value(gateway, "voicefleet_http_request_duration_seconds_count", service="gateway",
                 route="/sessions/{session_id}/api/offer", status="200") >= 1  # fmt: skip
    admin_text = await _scrape(stack.admin_url + "/metrics")
    assert value(admin_text, "voicefleet_admin_messages_total", type="say", outcome="queued") >= 1

    # The runner that ran the call (its metrics outlive the call; sessions are counted once).
    for _ in range(50):
        runners = await _runner_scrapes(stack)
        if _sum(runners, "voicefleet_runner_sessions_total", status="ended") >= 1:
            break
        await asyncio.sleep(0.1)
    assert _sum(runners, "voicefleet_runner_sessions_total", status="ended",
                reason="client_left") == 1  # fmt: skip
    assert _sum(runners, "voicefleet_runner_session_duration_seconds_count", status="ended") == 1
    assert _sum(runners, "voicefleet_runner_launch_to_ready_seconds_count", start="warm") == 1
    assert _sum(runners, "voicefleet_runner_launch_to_first_audio_seconds_count") == 1
    assert _sum(runners, "voicefleet_runner_preloaded") == len(runners)
    assert _sum(runners, "voicefleet_runner_busy") == 0  # the call is over
    # The bot's turn, from Pipecat's own metrics frames.
    for stage in ("stt", "llm_first_token", "tts_first_audio", "vad_stop", "turn"):
        assert _sum(runners, "voicefleet_bot_stage_seconds_count", stage=stage) >= 1, stage
    assert _sum(runners, "voicefleet_bot_tool_calls_total", tool="bot_create_note",
                outcome="ok") == 1  # fmt: skip
    assert _sum(runners, "voicefleet_bot_mesh_requests_total", outcome="ok") >= 1
    assert _sum(runners, "voicefleet_admin_delivery_seconds_count") == 1
    assert _sum(runners, "voicefleet_bot_admin_messages_total", type="say",
                outcome="processed") == 1  # fmt: skip
    # No session id, room or user id is a label value anywhere.
    for text in [gateway, admin_text, *runners]:
        values = {v for _, labels, _ in samples(text) for v in labels.values()}
        assert not [v for v in values if session_id in v], values
        assert label_values(text, "route") <= {
            "unmatched", "/metrics", "/healthz", "/readyz", "/join", "/start", "/",
            "/api/offer", "/sessions/{session_id}/api/offer", "/sessions/{session_id}",
            "/sessions", "/admin", "/admin/messages/{message_id}", "/deadletter",
        }  # fmt: skip
