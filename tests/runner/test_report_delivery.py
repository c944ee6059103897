"""A report leaves the runner as a session.report CloudEvent, by reference when it is larger
than the broker takes, and the records function stores it either way; when the broker is
away, it waits in the event spool until the broker is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.broker import LocalBroker
from devstack.manifests import RECORDS_SERVICE, knative_root, load_triggers
from devstack.ports import free_port
from functions import asgi_app
from functions.records import context as records_context
from runner.report import ReportPublisher
from tests.support.servers import serving
from voicefleet import cloudevents_codec
from voicefleet.blobs import LocalBlobStore
from voicefleet.contracts import (
    SESSION_REPORT_EVENT,
    SessionRecord,
    SessionStatus,
    TransportKind,
)
from voicefleet.event_sink import EventSink
from voicefleet.event_spool import EventSpool, SpoolSender
from voicefleet.records.store import RecordsStore
from voicefleet.reports import SessionReport, SessionStarted, TranscriptLine
from voicefleet.session_store import SessionStore


def _report(session_id: str, lines: int) -> SessionReport:
    now = time.time()
    return SessionReport(
        session_id=session_id,
        tenant="acme",
        transport=TransportKind.WEBRTC,
        status="ended",
        end_reason="client left",
        started_at=now - 600,
        ended_at=now,
        duration_s=600,
        transcript=[
            TranscriptLine(role="user", text=f"line {i} " * 10, start_s=i, end_s=i + 0.5)
            for i in range(lines)
        ],
    )


@pytest.fixture
async def records_app(
    redis_url: str, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VOICEFLEET_RECORDS_DATABASE_URL", f"sqlite:///{tmp_path / 'records.db'}")
    monkeypatch.setenv("VOICEFLEET_BLOB_DIR", str(tmp_path / "blobs"))
    await records_context.context.reset()
    transport = httpx.ASGITransport(app=asgi_app("records"))
    async with httpx.AsyncClient(transport=transport, base_url="http://records") as client:
        yield client
    await records_context.context.reset()


async def _ended_session(redis: Redis, session_id: str) -> None:
    now = time.time()
    await SessionStore(redis).create(
        SessionRecord(
            session_id=session_id,
            tenant="acme",
            status=SessionStatus.ENDED,
            transport=TransportKind.WEBRTC,
            created_at=now,
            updated_at=now,
        )
    )


@pytest.mark.parametrize("lines, by_reference", [(3, False), (400, True)])
async def test_the_report_reaches_the_records_store_inline_or_by_reference(
    records_app: httpx.AsyncClient, redis: Redis, tmp_path: Path, lines: int, by_reference: bool
) -> None:
    sent: list[tuple[dict[str, str], bytes]] = []

    async def broker(request: Request) -> Response:
        sent.append((dict(request.headers), await request.body()))
        return Response(status_code=202)

    session_id = uuid.uuid4().hex
    await _ended_session(redis, session_id)
    report = _report(session_id, lines)
    limit = 20_000
    async with serving(Starlette(routes=[Route("/", broker, methods=["POST"])])) as url:
        async with httpx.AsyncClient() as http:
            publisher = ReportPublisher(
                EventSink(http, url + "/"),
                "runner-1",
                max_event_bytes=limit,
                blobs=LocalBlobStore(tmp_path / "blobs"),
            )
            await publisher.report(report)

    ((headers, body),) = sent
    event = cloudevents_codec.parse(headers, body)
    assert event["type"] == SESSION_REPORT_EVENT and len(body) < limit
    assert ("report_key" in cloudevents_codec.data_of(event)) is by_reference

    stored = await records_app.post("/", headers=headers, content=body)
    assert stored.status_code == 200, stored.text
    assert stored.json()["stored"] is True
    again = await records_app.post("/", headers=headers, content=body)  # the broker retried
    assert again.json()["stored"] is False
    store = RecordsStore(f"sqlite:///{tmp_path / 'records.db'}")
    try:
        assert await store.report("acme", session_id) == report
    finally:
        await store.aclose()


async def test_a_report_for_a_session_that_does_not_exist_is_refused(
    records_app: httpx.AsyncClient,
) -> None:
    headers, body = cloudevents_codec.encode(
        SESSION_REPORT_EVENT, "/forged", _report("no-such-session", 1).model_dump(mode="json")
    )
    refused = await records_app.post("/", headers=headers, content=body)
    assert refused.status_code == 404


class _Answers:
    """The records function, noting what it answered to each event it was sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.answers: list[tuple[str, str, int]] = []  # path, event id, status

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        event_id = dict(scope["headers"]).get(b"ce-id", b"").decode()

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.answers.append((scope["path"], event_id, message["status"]))
            await send(message)

        await self.app(scope, receive, sending)


async def test_events_the_broker_missed_at_call_end_reach_the_records_function_once_it_is_back(
    records_app: httpx.AsyncClient,
    redis: Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The broker's ingress is down when the call ends: session.started and the report wait
    in the spool (without the broker's token), and once the broker is back they are sent,
    stored once and delivered to the tenant's webhook once, though the records function got
    the report twice (a resend whose acknowledgement was lost, as at-least-once allows)."""
    broker_port = free_port()
    broker_url = f"http://127.0.0.1:{broker_port}/"
    monkeypatch.setenv("K_SINK", broker_url)
    monkeypatch.setenv("VOICEFLEET_WEBHOOKS_ALLOW_LOOPBACK", "true")
    token_file = tmp_path / "token"
    token_file.write_text("broker-token-not-for-disk")
    session_id = uuid.uuid4().hex
    await _ended_session(redis, session_id)
    report = _report(session_id, 3)
    spool = EventSpool(tmp_path / "spool")

    received: dict[str, dict[str, Any]] = {}  # by webhook-id, as a receiver drops repeats
    both = asyncio.Event()

    async def hook(request: Request) -> Response:
        body = await request.body()
        message = Webhook(webhook.secret).verify(body, dict(request.headers))
        received[request.headers["webhook-id"]] = message
        if len(received) == 2:
            both.set()
        return Response(status_code=204)

    store = RecordsStore(f"sqlite:///{tmp_path / 'records.db'}")
    receiver = serving(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    async with httpx.AsyncClient() as http, receiver as receiver_url:
        webhook = await store.add_webhook(
            "acme", receiver_url + "/hook", ["session.started", "session.report"]
        )
        sink = EventSink(http, broker_url, token_file=token_file, first_delay_s=0.05)
        publisher = ReportPublisher(
            sink,
            "runner-1",
            max_event_bytes=10**6,
            blobs=LocalBlobStore(tmp_path / "blobs"),
            spool=spool,
        )
        started = SessionStarted(
            session_id=session_id,
            tenant="acme",
            transport=TransportKind.WEBRTC,
            started_at=report.started_at,
        )
        await publisher.started(started)
        await publisher.report(report)
        kept = spool.waiting()
        assert len(kept) == 2
        assert not any(b"broker-token" in path.read_bytes() for path in kept)
        # The report is spooled again, as when the broker took it but its answer was lost.
        (spool.folder / f"{kept[-1].stem}-again.event").write_bytes(kept[-1].read_bytes())

        records = _Answers(asgi_app("records"))
        urls: dict[str, str] = {}
        broker = LocalBroker(load_triggers(knative_root() / "base"), urls.__getitem__)
        async with serving(records) as records_url, serving(broker.app, port=broker_port):
            urls[RECORDS_SERVICE] = records_url
            sender = SpoolSender(spool, EventSink(http, broker_url, attempts=1), poll_s=0.1)
            sender.start()
            await asyncio.wait_for(both.wait(), 60)
            assert await sender.stop(5) == 0 and not spool.waiting()
            await broker.wait_idle()
            await broker.close()

    messages = list(received.values())
    assert sorted(m["type"] for m in messages) == ["session.report", "session.started"]
    assert [m["data"]["session_id"] for m in messages] == [session_id, session_id]
    reports = [a for a in records.answers if a[:2] == ("/", f"{session_id}.report")]
    assert [status for *_, status in reports] == [200, 200]
    try:
        assert await store.report("acme", session_id) == report
    finally:
        await store.aclose()
