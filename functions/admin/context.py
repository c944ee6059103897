"""What the admin function holds for the life of its process (built on first request)."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis
from starlette.requests import Request

from functions.admin.settings import AdminSettings
from functions.http.keys import bearer, tenant_for
from functions.http.lifetime import ProcessContext
from voicefleet.admin_queue import AdminQueue
from voicefleet.event_sink import EventSink
from voicefleet.http_client import async_client
from voicefleet.http_errors import ApiError
from voicefleet.records.store import RecordsStore
from voicefleet.redis_conn import connect
from voicefleet.session_store import SessionStore


class AdminContext:
    def __init__(self, settings: AdminSettings) -> None:
        self.settings = settings
        self.redis: Redis = connect(settings.redis_url)
        self.store = SessionStore(self.redis)
        self.queue = AdminQueue(
            self.redis, max_length=settings.queue_max, max_age_s=settings.message_max_age_s
        )
        self.records = RecordsStore(settings.records_database_url)
        self._sink_http = async_client(timeout=10.0)
        self.sink = (
            EventSink(self._sink_http, settings.k_sink, token_file=Path(settings.sink_token_file))
            if settings.k_sink
            else None
        )
        self._admin_keys = settings.admin_tenants_by_key()
        self._gateway_keys = settings.tenants_by_key()

    def authenticate(self, request: Request) -> str:
        """The tenant of an admin key; a gateway key is known but not enough (403)."""
        key = bearer(request)
        tenant = tenant_for(key, self._admin_keys)
        if tenant is not None:
            return tenant
        if tenant_for(key, self._gateway_keys) is not None:
            raise ApiError(403, "this is a gateway key; the admin function needs an admin key")
        raise ApiError(401, "invalid admin key")

    async def aclose(self) -> None:
        await self.redis.aclose()
        await self.records.aclose()
        await self._sink_http.aclose()


context: ProcessContext[AdminContext] = ProcessContext(lambda: AdminContext(AdminSettings()))
