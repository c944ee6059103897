"""What an operator of a running fleet sees after real calls: metrics, traces and logs.

One dev stack serves the whole module, with JSON logs: a spoken request that becomes a Mesh
tool call, an admin message, a hang-up, and a Daily session whose room and tokens come from a
stand-in for Daily's REST API. Each service's `/metrics` is scraped the way Prometheus would
(the runners found through the pool's http_sd endpoint, as pods are on a cluster); every
process exports its spans to an in-process OTLP/HTTP receiver; then the stack is stopped and
every line it wrote is read the way a log pipeline would.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.fake_openai import FakeOpenAI, Reply
from harness.speech import make_wav
from harness.stack import ADMIN_KEY, API_KEY, MESH_TOKEN, RunningStack, start_stack, stop_stack
from harness.webrtc import WebRTCCall
from tests.e2e.test_launch_path import wait_status
from tests.support.otlp import OTLPReceiver, Span
from tests.support.prometheus import label_values, samples, value
from tests.support.threaded import serving_in_thread

pytestmark = pytest.mark.e2e


MESH_SERVICE_TOKEN = "e2e-mesh-service-token-" + uuid.uuid4().hex
DAILY_API_KEY = "e2e-daily-api-key-" + uuid.uuid4().hex
# What the module learnt along the way, for the log checks at its end.
SEEN: dict[str, Any] = {"daily_tokens": []}
RECEIVER = OTLPReceiver()


def _fake_daily() -> Starlette:
    """Daily's REST API at its HTTP boundary: rooms, and a meeting token per request."""

    async def rooms(request: Request) -> JSONResponse:
        assert request.headers["authorization"] == f"Bearer {DAILY_API_KEY}"
        name = "obs-" + uuid.uuid4().hex[:8]
        return JSONResponse({"name": name, "url": f"https://acme.daily.co/{name}"})

    async def meeting_tokens(request: Request) -> JSONResponse:
        token = "e2e-daily-meeting-token-" + uuid.uuid4().hex
        SEEN["daily_tokens"].append(token)
        return JSONResponse({"token": token})

    return Starlette(
        routes=[
            Route("/rooms", rooms, methods=["POST"]),
            Route("/meeting-tokens", meeting_tokens, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def observed_stack() -> Iterator[RunningStack]:
    with (
        serving_in_thread(_fake_daily()) as daily_url,
        serving_in_thread(RECEIVER.app()) as collector_url,
    ):
        running = start_stack(
            "--overlay",
            "dev",
            "--warm",
            "1",
            "--max",
            "2",
            env={
                "LOG_FORMAT": "json",
                "MESH_SERVICE_TOKEN": MESH_SERVICE_TOKEN,
                "DAILY_API_KEY": DAILY_API_KEY,
                "DAILY_API_URL": daily_url,
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector_url,
                "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within a tenth of a second
            },
        )
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
    SEEN["webrtc_session"] = session_id
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
    # Every slot of every pod (a pod's /metrics labels each slot's process) is warm.
    slots = sum(len(label_values(text, "slot")) for text in runners)
    assert slots >= len(runners) and _sum(runners, "voicefleet_runner_preloaded") == slots
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


def _ancestors(span: Span, spans: list[Span]) -> list[Span]:
    by_id = {s.span_id: s for s in spans}
    chain = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


async def test_one_trace_runs_from_the_gateway_to_the_tools_mesh_request() -> None:
    session_id = SEEN["webrtc_session"]

    def tool_mesh_spans() -> list[Span]:
        spans = RECEIVER.snapshot()
        by_id = {s.span_id: s for s in spans}
        return [
            s for s in spans
            if s.name == "mesh graphql" and by_id.get(s.parent_id, s).name.startswith("tool ")
        ]  # fmt: skip

    for _ in range(100):
        if tool_mesh_spans():
            break
        await asyncio.sleep(0.1)
    (mesh,) = tool_mesh_spans()
    spans = [s for s in RECEIVER.snapshot() if s.trace_id == mesh.trace_id]
    chain = _ancestors(mesh, spans)
    names = [(s.service, s.name) for s in chain]
    # mesh graphql <- tool <- session (runner process) <- POST /start (gateway, another process)
    assert names[0] == ("voicefleet-runner", "tool bot_create_note"), names
    assert ("voicefleet-runner", "session") in names, names
    gateway = chain[-1]
    assert (gateway.name, gateway.attributes["voicefleet.service"]) == ("POST /start", "gateway")
    assert gateway.service != mesh.service  # two processes, one trace
    (session,) = [s for s in chain if s.name == "session"]
    assert session.attributes["voicefleet.session_id"] == session_id
    # Pipecat's own conversation and turn spans are in the session's trace, under its span.
    conversation = [s for s in spans if s.name == "conversation"]
    assert conversation and session in _ancestors(conversation[0], spans)
    assert any(s.name == "turn" for s in spans)
    SEEN["trace_id"] = mesh.trace_id


async def test_a_daily_session_gets_its_room_and_tokens_from_daily(
    observed_stack: RunningStack,
) -> None:
    """Daily's keys and tokens pass through gateway, Redis and runner (this machine cannot
    reach Daily, so the bot's join fails or is ended): the log checks below look for them."""
    stack = observed_stack
    async with httpx.AsyncClient(base_url=stack.url, headers=stack.headers) as http:
        started = await http.post("/start", json={"createDailyRoom": True})
        assert started.status_code == 200, started.text
        body = started.json()
        assert body["dailyToken"] in SEEN["daily_tokens"]
        SEEN["daily_session"] = body["sessionId"]
        await http.delete(f"/sessions/{body['sessionId']}")
    record = await wait_status(stack, body["sessionId"], "ended", "failed", timeout_s=30)
    assert record["status"] in ("ended", "failed")


def test_logs_are_json_lines_with_session_context_and_no_secret(
    observed_stack: RunningStack,
) -> None:
    stack = observed_stack
    code, left = stop_stack(stack)
    assert code == 0 and not left
    secrets = [API_KEY, ADMIN_KEY, MESH_TOKEN, MESH_SERVICE_TOKEN, DAILY_API_KEY,
               *SEEN["daily_tokens"]]  # fmt: skip
    assert len(SEEN["daily_tokens"]) == 2  # the bot's and the client's
    leaks = [(secret, line) for line in stack.output for secret in secrets if secret in line]
    assert not leaks, leaks

    entries: list[dict[str, Any]] = []
    other: list[str] = []
    for line in stack.output:
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            entries.append(entry)
        else:
            other.append(line)
    # Only what is printed for people (the stack's banner) is not a JSON object: no log line,
    # from any process or library, escaped the format.
    text_logs = [line for line in other if re.search(r"\| (DEBUG|INFO|WARNING|ERROR) ", line)]
    assert not text_logs, text_logs[:5]
    assert len([line for line in other if line.strip()]) <= 15, other
    # Daily's native library writes JSON lines of its own schema (`target: daily_core::…`).
    entries = [e for e in entries if not str(e.get("target", "")).startswith("daily")]
    malformed = [e for e in entries if not {"time", "level", "service", "message"} <= set(e)]
    assert entries and not malformed, malformed[:5]
    assert {"devstack", "runner"} <= {e["service"] for e in entries}

    session_id = SEEN["webrtc_session"]
    runner_lines = [e for e in entries if e["service"] == "runner" and session_id in e["message"]]
    assert len(runner_lines) >= 2  # claimed, ended
    for entry in runner_lines:
        assert entry.get("session_id") == session_id, entry
        assert entry.get("tenant") == "default" and entry.get("runner"), entry
    # Lines from inside the session that do not name it (the bot's, Pipecat's) carry it too.
    bound = [e for e in entries if e.get("session_id") == session_id]
    assert len(bound) > len(runner_lines)
    gateway = [e for e in entries if e["logger"].startswith("functions.gateway")]
    assert any(e.get("session_id") == session_id for e in gateway)
    # ... and the session's trace, in every process, so a log line opens its trace.
    assert {e.get("trace_id") for e in runner_lines} == {SEEN["trace_id"]}
    assert any(e.get("trace_id") == SEEN["trace_id"] for e in gateway)
