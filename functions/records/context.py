"""What the records function holds for the life of its process (built on first request)."""

from __future__ import annotations

import time
from pathlib import Path

from redis.asyncio import Redis

from functions.http.lifetime import ProcessContext
from functions.records.settings import RecordsSettings
from voicefleet.event_sink import EventSink
from voicefleet.http_client import async_client
from voicefleet.records.sender import guarded_client
from voicefleet.records.store import RecordsStore
from voicefleet.redis_conn import connect
from voicefleet.session_store import SessionStore

# How often one process deletes reports past their retention.
RETENTION_SWEEP_S = 3600.0


class RecordsContext:
    def __init__(self, settings: RecordsSettings) -> None:
        self.settings = settings
        self.redis: Redis = connect(settings.redis_url)
        self.sessions = SessionStore(self.redis)
        self.records = RecordsStore(settings.records_database_url)
        self.blobs = settings.blobs()
        self.broker_http = async_client(timeout=10.0)
        self.sink = (
            EventSink(self.broker_http, settings.k_sink, token_file=Path(settings.sink_token_file))
            if settings.k_sink
            else None
        )
        self.webhook_http = guarded_client(
            allow_loopback=settings.webhooks_allow_loopback, timeout_s=settings.webhook_timeout_s
        )
        self._next_sweep = 0.0

    async def sweep_if_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + RETENTION_SWEEP_S
            await self.records.forget_older_than(self.settings.retention_days)

    async def aclose(self) -> None:
        await self.webhook_http.aclose()
        await self.broker_http.aclose()
        await self.records.aclose()
        await self.redis.aclose()


context: ProcessContext[RecordsContext] = ProcessContext(lambda: RecordsContext(RecordsSettings()))
