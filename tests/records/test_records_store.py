"""Reports, webhooks and deliveries on each database the records store supports: SQLite
always, PostgreSQL when reachable (as Mesh is tested)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.mesh.conftest import POSTGRES, _drop, _fresh_postgres_database
from voicefleet.contracts import TransportKind
from voicefleet.records.store import RecordsStore
from voicefleet.reports import SessionReport, TranscriptLine


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RecordsStore]:
    created: str | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.db'}"
    else:
        created = await _fresh_postgres_database()
        url = POSTGRES.rsplit("/", 1)[0] + f"/{created}"
    records = RecordsStore(url)
    try:
        yield records
    finally:
        await records.aclose()
        if created:
            await _drop(created)


def _report(
    session_id: str, *, tenant: str = "acme", ended_ago_s: float = 0.0, status: str = "ended"
) -> SessionReport:
    ended = time.time() - ended_ago_s
    return SessionReport.model_validate(
        {
            "session_id": session_id,
            "tenant": tenant,
            "transport": TransportKind.WEBRTC,
            "status": status,
            "end_reason": "client left",
            "started_at": ended - 60,
            "ended_at": ended,
            "duration_s": 60.0,
            "transcript": [
                TranscriptLine(role="user", text="hello", start_s=1.0, end_s=2.0).model_dump()
            ],
        }
    )


async def test_a_report_is_stored_once_and_read_only_by_its_tenant(store: RecordsStore) -> None:
    report = _report("s1")
    assert await store.save_report(report) is True
    assert await store.save_report(report) is False  # a redelivered event changes nothing
    assert await store.report("acme", "s1") == report
    assert await store.report("globex", "s1") is None


async def test_reports_list_newest_first_filtered_and_bounded(store: RecordsStore) -> None:
    await store.save_report(_report("old", ended_ago_s=3600))
    await store.save_report(_report("failed", ended_ago_s=60, status="failed"))
    await store.save_report(_report("new"))
    await store.save_report(_report("theirs", tenant="globex"))
    listed = await store.reports("acme", since=None, status=None, limit=10)
    assert [r["session_id"] for r in listed] == ["new", "failed", "old"]
    recent = await store.reports("acme", since=time.time() - 600, status=None, limit=10)
    assert [r["session_id"] for r in recent] == ["new", "failed"]
    failed = await store.reports("acme", since=None, status="failed", limit=10)
    assert [r["session_id"] for r in failed] == ["failed"]
    assert len(await store.reports("acme", since=None, status=None, limit=1)) == 1
    assert listed[0]["size_bytes"] > 0 and listed[0]["duration_s"] == 60.0


async def test_retention_forgets_reports_past_it(store: RecordsStore) -> None:
    await store.save_report(_report("ancient", ended_ago_s=40 * 86400))
    await store.save_report(_report("recent", ended_ago_s=86400))
    assert await store.forget_older_than(30) == 1
    assert await store.report("acme", "ancient") is None
    assert await store.report("acme", "recent") is not None


async def test_webhooks_and_deliveries_belong_to_their_tenant(store: RecordsStore) -> None:
    hook = await store.add_webhook("acme", "https://hooks.example.com/a", ["session.report"])
    assert hook.secret.startswith("whsec_")
    assert [h.id for h in await store.webhooks("acme", "session.report")] == [hook.id]
    assert await store.webhooks("acme", "session.started") == []
    assert await store.webhook("globex", hook.id) is None
    assert await store.delete_webhook("globex", hook.id) is False

    assert await store.add_delivery("msg_1", hook, "session.report", "s1", "{}") is True
    assert await store.add_delivery("msg_1", hook, "session.report", "s1", "{}") is False
    await store.add_attempt("msg_1", status_code=500, latency_ms=12.3, error="HTTP 500")
    await store.add_attempt("msg_1", status_code=200, latency_ms=8.0, error=None)
    await store.set_delivery_status("msg_1", "delivered")
    (delivery,) = await store.deliveries("acme", hook.id, 10)
    assert delivery["status"] == "delivered"
    assert [(a["status"], a["error"]) for a in delivery["attempts"]] == [
        (500, "HTTP 500"),
        (200, None),
    ]
    assert await store.deliveries("globex", hook.id, 10) == []
    assert await store.delete_webhook("acme", hook.id) is True
    assert await store.webhooks("acme") == []
