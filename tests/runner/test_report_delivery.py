"""A report leaves the runner as a session.report CloudEvent, by reference when it is larger
than the broker takes, and the records function stores it either way."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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
from voicefleet.records.store import RecordsStore
from voicefleet.reports import SessionReport, TranscriptLine
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
