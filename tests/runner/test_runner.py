"""The runner service over real HTTP and Redis: held launches, claims, heartbeats, input errors,
whole WebRTC calls through the gateway, and the process itself (standby drain, auto-start)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.config import BotSettings
from bot.preload import Preloaded, preload
from functions import asgi_app
from functions.gateway import context as gateway_context
from harness.webrtc import WebRTCCall
from runner.child_process import READY_LINE
from runner.service import RunnerService, create_app
from runner.settings import RunnerSettings
from tests.support.documented import assert_documented
from tests.support.launches import (
    eventually,
    launch_event,
    post_launch,
    queued_session,
    session_ended,
)
from tests.support.raw_http import raw_request
from tests.support.runner_process import runner_process
from tests.support.servers import free_port, serving
from voicefleet import body_deadline, cloudevents_codec
from voicefleet.contracts import (
    GATEWAY_SOURCE,
    JOIN_EVENT,
    LAUNCH_EVENT,
    Keys,
    LaunchPayload,
    SessionEnded,
    SessionRecord,
    SessionStatus,
    TransportKind,
)
from voicefleet.session_store import SessionStore

NO_OFFER = "no WebRTC offer arrived"


@pytest.fixture(scope="session")
def preloaded() -> Preloaded:
    """The Piper voice and the rendered greeting, loaded once (~1.3 s) for every runner here."""
    return asyncio.run(preload(BotSettings()))


@asynccontextmanager
async def serving_runner(
    redis_url: str, preloaded: Preloaded, **settings: Any
) -> AsyncIterator[tuple[str, RunnerService]]:
    """A standby runner (id "r1") on a loopback port; settings by their environment names."""
    values: dict[str, Any] = {
        "REDIS_URL": redis_url,
        "RUNNER_ID": "r1",
        "RUNNER_FIRST_OFFER_TIMEOUT_S": 1,
        **settings,
    }
    service = RunnerService(RunnerSettings(**values), BotSettings())
    service.preloaded = preloaded
    try:
        async with serving(create_app(service)) as url:
            yield url, service
    finally:
        await service.aclose()


@pytest.fixture
async def runner(redis_url: str, preloaded: Preloaded) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serving_runner(redis_url, preloaded) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=15) as http,
    ):
        yield http


async def unheld_launch(http: httpx.AsyncClient, launch: LaunchPayload) -> httpx.Response:
    """A launch the runner must answer without running a session (a refusal or a duplicate).
    No clock is needed to tell: a held launch would answer with the session's own end (or,
    when busy, a 200 once the other call ended), which each caller's assertions rule out."""
    return await post_launch(http, "/", launch)


# Held launches ------------------------------------------------------------------------------


async def test_webrtc_launch_without_offer_fails_and_releases_the_lease(
    runner: httpx.AsyncClient, redis: Redis
) -> None:
    launch = await queued_session(redis)

    ended = session_ended(await post_launch(runner, "/", launch))

    assert ended == SessionEnded(
        session_id=launch.session_id, status="failed", reason=ended.reason, runner="r1"
    )
    assert ended.reason is not None and NO_OFFER in ended.reason
    record = await SessionStore(redis).get(launch.session_id)
    assert record is not None
    assert (record.status, record.reason, record.runner) == (
        SessionStatus.FAILED,
        ended.reason,
        "r1",
    )
    assert record.ended_at is not None
    assert await redis.exists(Keys.session_lease(launch.session_id)) == 0
    assert await redis.zscore(Keys.ACTIVE_SESSIONS, launch.session_id) is None
    assert (await runner.get("/readyz")).status_code == 200


async def test_held_session_makes_the_runner_busy_and_retries_duplicates(
    redis_url: str, redis: Redis, preloaded: Preloaded
) -> None:
    launch = await queued_session(redis)
    other = await queued_session(redis)
    store = SessionStore(redis)
    async with (
        serving_runner(redis_url, preloaded, RUNNER_FIRST_OFFER_TIMEOUT_S=2) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=15) as http,
    ):
        held = asyncio.create_task(post_launch(http, "/", launch))
        # Busy is not unready: readiness is "preloaded and not draining" (runner/pod.py).
        readiness = await eventually(
            lambda: http.get("/readyz"),
            lambda r: r.json()["session"] == launch.session_id,
            timeout_s=1,
        )
        assert readiness.status_code == 200
        assert readiness.json()["draining"] is False
        assert (await http.get("/healthz")).status_code == 200

        busy = await unheld_launch(http, other)
        assert busy.status_code == 503
        assert "busy" in busy.json()["error"]["message"]
        assert busy.headers["retry-after"] == "1"

        retry = session_ended(await unheld_launch(http, launch))
        assert (retry.session_id, retry.status, retry.runner) == (
            launch.session_id,
            "duplicate",
            "r1",
        )

        record = await store.get(launch.session_id)
        assert record is not None
        assert (record.status, record.runner) == (SessionStatus.STARTING, "r1")
        untouched = await store.get(other.session_id)
        assert untouched is not None and untouched.status is SessionStatus.QUEUED

        ended = session_ended(await held)
        assert ended.status == "failed"
        assert (await http.get("/readyz")).status_code == 200


async def test_launch_of_a_session_held_by_another_runner_is_a_duplicate(
    runner: httpx.AsyncClient, redis: Redis
) -> None:
    store = SessionStore(redis)
    launch = await queued_session(redis)
    assert (await store.claim(launch.session_id, "r2", room_url=None, lease_ms=10_000)).claimed
    before = await store.get(launch.session_id)

    ended = session_ended(await unheld_launch(runner, launch))

    assert (ended.status, ended.reason) == ("duplicate", "held")
    assert await store.get(launch.session_id) == before
    assert await redis.get(Keys.session_lease(launch.session_id)) == "r2"


async def test_launch_of_an_ended_or_unknown_session_is_a_duplicate(
    runner: httpx.AsyncClient, redis: Redis
) -> None:
    store = SessionStore(redis)
    finished = await queued_session(redis)
    await store.finish(finished.session_id, SessionStatus.ENDED, reason="client left")
    before = await store.get(finished.session_id)
    unknown = LaunchPayload(
        session_id="no-such-session", tenant="t", transport=TransportKind.WEBRTC
    )

    ended = session_ended(await unheld_launch(runner, finished))
    missing = session_ended(await unheld_launch(runner, unknown))

    assert (ended.status, ended.reason) == ("duplicate", "final")
    assert await store.get(finished.session_id) == before
    assert (missing.status, missing.reason) == ("duplicate", "missing")
    assert await store.get(unknown.session_id) is None


async def test_heartbeat_keeps_the_lease_past_its_ttl_until_the_session_ends(
    redis_url: str, redis: Redis, preloaded: Preloaded
) -> None:
    launch = await queued_session(redis)
    lease = Keys.session_lease(launch.session_id)
    async with (
        serving_runner(
            redis_url,
            preloaded,
            RUNNER_LEASE_MS=400,
            RUNNER_HEARTBEAT_S=0.1,
            RUNNER_FIRST_OFFER_TIMEOUT_S=1.5,
        ) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=15) as http,
    ):
        held = asyncio.create_task(post_launch(http, "/", launch))
        # Twice the lease: without heartbeats the key would have expired by now.
        await asyncio.sleep(0.8)
        assert await redis.get(lease) == "r1"
        assert 0 < await redis.pttl(lease) <= 400
        assert session_ended(await held).status == "failed"
    assert await redis.exists(lease) == 0


# Bad input ----------------------------------------------------------------------------------


def assert_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]["message"]
    assert isinstance(message, str) and message
    return message


async def test_bad_launches_get_a_named_4xx(runner: httpx.AsyncClient) -> None:
    def event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        headers, body = cloudevents_codec.encode(event_type, GATEWAY_SOURCE, data)
        return {"headers": headers, "content": body}

    plain = await runner.post("/", json={"session_id": "x", "tenant": "t", "transport": "webrtc"})
    assert_error(plain, 400)

    join = await runner.post("/", **event(JOIN_EVENT, {"room_url": "https://a.daily.co/r"}))
    assert JOIN_EVENT in assert_error(join, 400)

    no_id = await runner.post("/", **event(LAUNCH_EVENT, {"tenant": "t", "transport": "webrtc"}))
    assert "session_id" in assert_error(no_id, 400)

    structured = await runner.post(
        "/", headers={"content-type": "application/cloudevents+json"}, content=b"{not json"
    )
    assert_error(structured, 400)

    ce_headers, _ = launch_event(
        LaunchPayload(session_id="s", tenant="t", transport=TransportKind.WEBRTC)
    )
    not_an_object = await runner.post("/", headers=ce_headers, content=b"[1, 2]")
    assert_error(not_an_object, 400)

    assert (await runner.get("/readyz")).status_code == 200


async def test_launch_bodies_are_bounded_in_size_and_time(
    redis_url: str, preloaded: Preloaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway's limits on a request body hold at the runner too: one CloudEvent intake."""
    monkeypatch.setattr(body_deadline, "BODY_TIMEOUT_S", 0.5)
    launch = LaunchPayload(
        session_id="big", tenant="acme", transport=TransportKind.WEBRTC,
        body={"system_prompt": "x" * 300_000}, created_at=0,
    )  # fmt: skip
    headers, body = cloudevents_codec.encode(
        LAUNCH_EVENT, GATEWAY_SOURCE, launch.model_dump(mode="json")
    )
    async with serving_runner(redis_url, preloaded) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=15) as http:
            huge = await http.post("/", headers=headers, content=body)
        stalled = await raw_request(
            url, "POST", "/", [(k.encode(), v.encode()) for k, v in headers.items()],
            body[:100], content_length=len(body), wait_s=10,
        )  # fmt: skip
    assert "larger than 262144 bytes" in assert_error(huge, 413)
    assert stalled.status == 408, stalled
    assert "not received within" in stalled.json()["error"]["message"]


async def test_launch_into_a_room_outside_the_allowed_hosts_is_refused(
    runner: httpx.AsyncClient, redis: Redis
) -> None:
    launch = await queued_session(
        redis, transport=TransportKind.DAILY, room_url="https://evil.example.com/x"
    )

    refused = await unheld_launch(runner, launch)

    assert "evil.example.com" in assert_error(refused, 422)
    record = await SessionStore(redis).get(launch.session_id)
    assert record is not None and record.status is SessionStatus.QUEUED
    assert await redis.exists(Keys.session_lease(launch.session_id)) == 0


async def test_bad_start_requests_get_a_named_4xx_and_leave_no_record(
    runner: httpx.AsyncClient, redis: Redis
) -> None:
    json_headers = {"content-type": "application/json"}
    cases = [
        (b"{not json", 400),
        (b"[]", 400),
        (b'"webrtc"', 400),
        (json.dumps({"transport": "carrier-pigeon"}).encode(), 400),
        (json.dumps({"unknown": 1}).encode(), 400),
        (json.dumps({"room_url": "https://evil.example.com/x"}).encode(), 422),
    ]
    for content, status in cases:
        response = await runner.post("/start", headers=json_headers, content=content)
        assert_error(response, status)
    assert await redis.keys("session:*") == []
    assert await redis.zcard(Keys.ACTIVE_SESSIONS) == 0


# Whole calls through the gateway --------------------------------------------------------------


@dataclass
class LaunchPath:
    """Gateway -> forwarding sink (the broker's part) -> runner, all on loopback ports."""

    gateway_url: str
    runner: RunnerService
    deliveries: list[asyncio.Task[httpx.Response]] = field(default_factory=list)


@asynccontextmanager
async def launch_path(
    redis_url: str, preloaded: Preloaded, monkeypatch: pytest.MonkeyPatch, **runner_settings: Any
) -> AsyncIterator[LaunchPath]:
    async with (
        serving_runner(redis_url, preloaded, **runner_settings) as (runner_url, service),
        httpx.AsyncClient(timeout=60) as broker_client,
    ):
        path = LaunchPath(gateway_url="", runner=service)

        async def sink(request: Request) -> Response:
            # Accept at once, deliver in the background, as a broker does (binary mode).
            headers = {
                k: v
                for k, v in request.headers.items()
                if k.startswith("ce-") or k == "content-type"
            }
            delivery = broker_client.post(runner_url, headers=headers, content=await request.body())
            path.deliveries.append(asyncio.create_task(delivery))
            return Response(status_code=202)

        sink_app = Starlette(routes=[Route("/", sink, methods=["POST"])])
        async with serving(sink_app) as sink_url:
            monkeypatch.setenv("REDIS_URL", redis_url)
            monkeypatch.setenv("VOICEFLEET_API_KEY", "k")
            monkeypatch.setenv("K_SINK", sink_url)
            gateway_context.context.forget()
            try:
                app = asgi_app("gateway")
                async with serving(app) as gateway_url:
                    path.gateway_url = gateway_url
                    yield path
                    # The held launches end with their sessions; let them before shutting down.
                    if path.deliveries:
                        await asyncio.wait_for(asyncio.gather(*path.deliveries), 15)
            finally:
                await gateway_context.context.reset()


async def record_of(store: SessionStore, session_id: str | None) -> SessionRecord | None:
    assert session_id is not None
    return await store.get(session_id)


async def final_record(store: SessionStore, session_id: str | None) -> SessionRecord:
    record = await eventually(
        lambda: record_of(store, session_id),
        lambda r: r is not None and r.status.is_final,
        timeout_s=10,
        interval_s=0.1,
    )
    assert record is not None
    return record


async def test_webrtc_call_hears_the_greeting_and_ends_when_the_client_leaves(
    redis_url: str, redis: Redis, preloaded: Preloaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SessionStore(redis)
    async with launch_path(redis_url, preloaded, monkeypatch) as path:
        async with WebRTCCall(path.gateway_url, api_key="k") as call:
            await call.wait_for_audio(10)
            joined = await eventually(
                lambda: record_of(store, call.session_id),
                lambda r: r is not None and r.status is SessionStatus.JOINED,
                timeout_s=2,
            )
            assert joined is not None
            assert (joined.status, joined.runner) == (SessionStatus.JOINED, "r1")
            assert (await call.session())["status"] == "joined"

            shown = await eventually(
                call.session, lambda r: r.get("ready_to_first_audio_ms") is not None, timeout_s=2
            )

        record = await final_record(store, call.session_id)
        assert (record.status, record.reason) == (SessionStatus.ENDED, "client left")
        # A warm runner (preloaded before the launch) took it; every start-up span is recorded
        # and shown by GET /sessions/{id}.
        assert record.cold_start is False and shown["cold_start"] is False
        assert_documented("gateway", "GET", "/sessions/{session_id}", 200, shown)
        for span in ("launch_to_claimed_ms", "claimed_to_ready_ms", "ready_to_first_audio_ms"):
            assert isinstance(shown[span], float) and shown[span] >= 0, (span, shown)
            assert getattr(record, span) == shown[span]
        # claimed → ready in its WebRTC parts: the client's offer, the bot's answer, and the
        # client connecting while the pipeline starts.
        parts = ("claimed_to_offer_ms", "offer_to_answer_ms", "answer_to_ready_ms")
        assert all(isinstance(shown[p], float) and shown[p] >= 0 for p in parts), shown
        assert abs(sum(shown[p] for p in parts) - shown["claimed_to_ready_ms"]) < 0.5, shown
        assert await redis.exists(Keys.session_lease(record.session_id)) == 0
        ended = session_ended(await path.deliveries[0])
        assert (ended.session_id, ended.status, ended.reason) == (
            record.session_id,
            "ended",
            "client left",
        )


async def test_runner_ends_a_call_at_the_maximum_session_duration(
    redis_url: str, redis: Redis, preloaded: Preloaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SessionStore(redis)
    async with launch_path(
        redis_url, preloaded, monkeypatch, RUNNER_SESSION_MAX_SECONDS=1.5
    ) as path:
        async with WebRTCCall(path.gateway_url, api_key="k") as call:
            await call.wait_for_audio(10)
            record = await final_record(store, call.session_id)
        assert (record.status, record.reason) == (
            SessionStatus.ENDED,
            "maximum session duration reached",
        )
        assert await call.wait_for_text("time limit", 0), call.bot_texts()  # said goodbye
        assert session_ended(await path.deliveries[0]).status == "ended"
        assert path.runner.ready


async def test_client_delete_ends_a_connected_call(
    redis_url: str, redis: Redis, preloaded: Preloaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SessionStore(redis)
    async with launch_path(redis_url, preloaded, monkeypatch) as path:
        async with WebRTCCall(path.gateway_url, api_key="k") as call:
            await call.wait_for_audio(10)
            deleted = await call.http.delete(f"/sessions/{call.session_id}")
            assert deleted.status_code == 202
            record = await final_record(store, call.session_id)
        assert (record.status, record.reason) == (SessionStatus.ENDED, "ended by client")
        assert session_ended(await path.deliveries[0]).reason == "ended by client"


# The runner process -----------------------------------------------------------------------------


async def test_sigterm_drains_every_held_session_then_exits(
    tmp_path: Path, redis_url: str, redis: Redis
) -> None:
    port = free_port()
    launches = [await queued_session(redis), await queued_session(redis)]
    async with runner_process(
        tmp_path,
        redis_url,
        PORT=str(port),
        RUNNER_ID="p1",
        RUNNER_SLOTS="2",
        RUNNER_FIRST_OFFER_TIMEOUT_S="3",
    ) as runner:
        line = await runner.stdout_line(60)
        assert line.strip() == f"{READY_LINE} port={port}", runner.output()
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=15) as http:
            held = [asyncio.create_task(post_launch(http, "/", launch)) for launch in launches]
            busy = await eventually(
                lambda: http.get("/readyz"), lambda r: r.json()["free"] == 0, timeout_s=2
            )
            assert busy.status_code == 200
            assert sorted(busy.json()["sessions"]) == sorted(la.session_id for la in launches)
            await asyncio.sleep(0.5)
            runner.process.send_signal(signal.SIGTERM)

            async def readiness() -> int | None:
                try:
                    return (await http.get("/readyz")).status_code
                except httpx.ConnectError:
                    return None

            assert await readiness() in (503, None)

            for ended in [session_ended(await call) for call in held]:
                assert ended.status == "failed" and ended.runner in ("p1-1", "p1-2")
                assert ended.reason is not None and NO_OFFER in ended.reason, runner.output()
        await asyncio.wait_for(runner.process.wait(), 15)
        # uvicorn re-raises the signal once it has drained: the conventional exit status.
        assert runner.process.returncode in (0, -signal.SIGTERM), runner.output()
    for launch in launches:
        record = await SessionStore(redis).get(launch.session_id)
        assert record is not None and record.status is SessionStatus.FAILED


async def test_auto_start_runs_its_session_without_a_request_then_exits(
    tmp_path: Path, redis_url: str, redis: Redis
) -> None:
    launch = await queued_session(redis)
    async with runner_process(
        tmp_path,
        redis_url,
        PORT=str(free_port()),
        RUNNER_ID="p1",
        RUNNER_AUTO_START="1",
        RUNNER_SESSION=launch.model_dump_json(),
        RUNNER_FIRST_OFFER_TIMEOUT_S="1",
    ) as runner:
        assert runner.process.stdout is not None
        out, _ = await asyncio.wait_for(runner.process.communicate(), 30)
    assert READY_LINE not in out.decode()
    ended = SessionEnded.model_validate_json(out.decode().strip().splitlines()[-1])
    assert (ended.session_id, ended.status, ended.runner) == (launch.session_id, "failed", "p1")
    # A failed session fails the process, so a Job shows it.
    assert runner.process.returncode == 1
    record = await SessionStore(redis).get(launch.session_id)
    assert record is not None
    assert record.status is SessionStatus.FAILED
    assert record.reason is not None and NO_OFFER in record.reason


@pytest.mark.parametrize(
    ("session", "named"),
    [(None, "RUNNER_SESSION"), ('{"session_id": "x"}', "RUNNER_SESSION")],
    ids=["missing", "invalid"],
)
async def test_auto_start_without_a_valid_session_exits_with_a_clear_message(
    tmp_path: Path, redis_url: str, session: str | None, named: str
) -> None:
    env = {"RUNNER_ID": "p1", "RUNNER_AUTO_START": "1", "PORT": str(free_port())}
    if session is not None:
        env["RUNNER_SESSION"] = session
    async with runner_process(tmp_path, redis_url, **env) as runner:
        await asyncio.wait_for(runner.process.communicate(), 30)
    assert runner.process.returncode == 2
    output = runner.output()
    assert named in output
    assert "Traceback" not in output
