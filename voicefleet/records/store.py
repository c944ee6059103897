"""Reports, webhooks and deliveries in SQL; every read is scoped to a tenant."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from voicefleet.records.db import (
    AttemptRow,
    DeliveryRow,
    ReportRow,
    WebhookRow,
    create_tables,
    make_engine,
    make_sessions,
    utcnow,
)
from voicefleet.reports import SessionReport

MAX_LIST = 500


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class RecordsStore:
    def __init__(self, database_url: str) -> None:
        if database_url.startswith("sqlite:///"):  # the dev default lives in .voicefleet/
            Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = make_engine(database_url)
        self._sessions = make_sessions(self.engine)
        self._prepared = False
        self._lock = asyncio.Lock()

    async def prepare(self) -> None:
        """Create the tables once per process (idempotent; all services may do it)."""
        if self._prepared:
            return
        async with self._lock:
            if not self._prepared:
                await create_tables(self.engine)
                self._prepared = True

    async def aclose(self) -> None:
        await self.engine.dispose()

    # Reports ----------------------------------------------------------------------------

    async def save_report(self, report: SessionReport) -> bool:
        """Store it; False when it was stored already (a redelivered event)."""
        await self.prepare()
        body = report.model_dump_json()
        try:
            async with self._sessions() as db, db.begin():
                if await db.get(ReportRow, report.session_id) is not None:
                    return False
                db.add(
                    ReportRow(
                        session_id=report.session_id,
                        tenant=report.tenant,
                        status=report.status,
                        end_reason=report.end_reason,
                        started_at=_at(report.started_at),
                        ended_at=_at(report.ended_at),
                        duration_s=report.duration_s,
                        size_bytes=len(body.encode()),
                        report=body,
                    )
                )
        except IntegrityError:
            return False  # the same event, delivered twice at once: the other one stored it
        return True

    async def report(self, tenant: str, session_id: str) -> SessionReport | None:
        await self.prepare()
        async with self._sessions() as db:
            row = await db.get(ReportRow, session_id)
        if row is None or row.tenant != tenant:
            return None
        return SessionReport.model_validate_json(row.report)

    async def reports(
        self, tenant: str, *, since: float | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Summaries, newest first (the full report is one more request away)."""
        await self.prepare()
        query = select(ReportRow).where(ReportRow.tenant == tenant)
        if since is not None:
            query = query.where(ReportRow.ended_at >= _at(since))
        if status is not None:
            query = query.where(ReportRow.status == status)
        query = query.order_by(ReportRow.ended_at.desc()).limit(min(limit, MAX_LIST))
        async with self._sessions() as db:
            rows: Sequence[ReportRow] = (await db.scalars(query)).all()
        return [
            {
                "session_id": r.session_id,
                "status": r.status,
                "end_reason": r.end_reason,
                "started_at": _aware(r.started_at).timestamp(),
                "ended_at": _aware(r.ended_at).timestamp(),
                "duration_s": r.duration_s,
                "size_bytes": r.size_bytes,
            }
            for r in rows
        ]

    async def forget_older_than(self, days: float) -> int:
        """Retention: reports, and deliveries of them, past `days` are deleted."""
        await self.prepare()
        cutoff = utcnow() - timedelta(days=days)
        async with self._sessions() as db, db.begin():
            old = select(DeliveryRow.id).where(DeliveryRow.created_at < cutoff)
            await db.execute(delete(AttemptRow).where(AttemptRow.delivery_id.in_(old)))
            await db.execute(delete(DeliveryRow).where(DeliveryRow.created_at < cutoff))
            result = await db.execute(delete(ReportRow).where(ReportRow.ended_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)

    # Webhooks ---------------------------------------------------------------------------

    async def add_webhook(self, tenant: str, url: str, events: list[str]) -> WebhookRow:
        await self.prepare()
        row = WebhookRow(
            id="wh_" + secrets.token_hex(12),
            tenant=tenant,
            url=url,
            events=events,
            secret=new_secret(),
            created_at=utcnow(),
        )
        async with self._sessions() as db, db.begin():
            db.add(row)
        return row

    async def webhooks(self, tenant: str, event: str | None = None) -> list[WebhookRow]:
        await self.prepare()
        query = select(WebhookRow).where(WebhookRow.tenant == tenant)
        async with self._sessions() as db:
            rows = list((await db.scalars(query.order_by(WebhookRow.created_at))).all())
        return [r for r in rows if event is None or event in r.events]

    async def webhook(self, tenant: str, webhook_id: str) -> WebhookRow | None:
        await self.prepare()
        async with self._sessions() as db:
            row = await db.get(WebhookRow, webhook_id)
        return row if row is not None and row.tenant == tenant else None

    async def delete_webhook(self, tenant: str, webhook_id: str) -> bool:
        await self.prepare()
        async with self._sessions() as db, db.begin():
            row = await db.get(WebhookRow, webhook_id)
            if row is None or row.tenant != tenant:
                return False
            await db.delete(row)
        return True

    # Deliveries -------------------------------------------------------------------------

    async def add_delivery(
        self, delivery_id: str, hook: WebhookRow, event_type: str, session_id: str, body: str
    ) -> bool:
        """False when this message was already queued (a redelivered event)."""
        await self.prepare()
        now = utcnow()
        try:
            async with self._sessions() as db, db.begin():
                if await db.get(DeliveryRow, delivery_id) is not None:
                    return False
                db.add(
                    DeliveryRow(
                        id=delivery_id,
                        webhook_id=hook.id,
                        tenant=hook.tenant,
                        event_type=event_type,
                        session_id=session_id,
                        status="pending",
                        body=body,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return False  # queued by a concurrent delivery of the same event
        return True

    async def delivery(self, delivery_id: str) -> DeliveryRow | None:
        await self.prepare()
        async with self._sessions() as db:
            row: DeliveryRow | None = await db.get(DeliveryRow, delivery_id)
        return row

    async def set_delivery_status(self, delivery_id: str, status: str) -> None:
        async with self._sessions() as db, db.begin():
            row = await db.get(DeliveryRow, delivery_id)
            if row is not None:
                row.status = status
                row.updated_at = utcnow()

    async def add_attempt(
        self, delivery_id: str, *, status_code: int | None, latency_ms: float, error: str | None
    ) -> None:
        async with self._sessions() as db, db.begin():
            db.add(
                AttemptRow(
                    delivery_id=delivery_id,
                    at=utcnow(),
                    status_code=status_code,
                    latency_ms=round(latency_ms, 1),
                    error=error,
                )
            )

    async def deliveries(self, tenant: str, webhook_id: str, limit: int) -> list[dict[str, Any]]:
        """The webhook's messages, newest first, each with its attempts in order."""
        await self.prepare()
        query = (
            select(DeliveryRow)
            .where(DeliveryRow.webhook_id == webhook_id, DeliveryRow.tenant == tenant)
            .order_by(DeliveryRow.created_at.desc())
            .limit(min(limit, MAX_LIST))
        )
        async with self._sessions() as db:
            rows = list((await db.scalars(query)).all())
            ids = [r.id for r in rows]
            attempts = (
                await db.scalars(
                    select(AttemptRow)
                    .where(AttemptRow.delivery_id.in_(ids))
                    .order_by(AttemptRow.id)
                )
            ).all()
        by_delivery: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for a in attempts:
            by_delivery[a.delivery_id].append(
                {
                    "at": _aware(a.at).timestamp(),
                    "status": a.status_code,
                    "latency_ms": a.latency_ms,
                    "error": a.error,
                }
            )
        return [
            {
                "id": r.id,
                "event": r.event_type,
                "session_id": r.session_id,
                "status": r.status,
                "created_at": _aware(r.created_at).timestamp(),
                "attempts": by_delivery[r.id],
            }
            for r in rows
        ]
