"""Creates a session and sends its launch CloudEvent, or leaves nothing behind."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from loguru import logger

from functions.gateway.limits import LaunchLimiter
from functions.http.errors import ApiError
from voicefleet import cloudevents_codec
from voicefleet.contracts import (
    GATEWAY_SOURCE,
    LAUNCH_EVENT,
    LaunchPayload,
    SessionRecord,
    SessionStatus,
    TransportKind,
)
from voicefleet.observability import tracing
from voicefleet.observability.metrics import LAUNCHES
from voicefleet.session_store import SessionStore

# How often one gateway process sweeps for sessions that waited past the queue-time bound.
_SWEEP_EVERY_S = 1.0


class Launcher:
    def __init__(
        self,
        store: SessionStore,
        client: httpx.AsyncClient,
        sink: str | None,
        *,
        limiter: LaunchLimiter | None = None,
        queue_timeout_s: float | None = None,
        token_file: Path | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._sink = sink
        self._limiter = limiter
        self._queue_timeout_s = queue_timeout_s
        self._next_sweep = 0.0
        self._token_file = token_file

    async def _sink_token(self) -> str | None:
        """The OIDC token the broker's EventPolicy checks; re-read each time, as it rotates."""
        if self._token_file is None:
            return None
        try:
            token = await asyncio.to_thread(self._token_file.read_text, encoding="utf-8")
        except FileNotFoundError:
            return None
        return token.strip() or None

    async def launch(
        self,
        *,
        tenant: str,
        transport: TransportKind,
        room_url: str | None = None,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        room_token: str | None = None,
        client_token: str | None = None,
        caller: str | None = None,
    ) -> tuple[SessionRecord, bool]:
        """Returns the session and whether this call created it (False: a duplicate)."""
        if not self._sink:
            LAUNCHES.labels(transport=transport.value, outcome="no_sink").inc()
            raise ApiError(503, "the gateway has no event sink (K_SINK) to launch bots through")
        if idempotency_key is not None:
            # A retry of an accepted launch is answered as before, whatever the limits say now.
            earlier = await self._store.by_idempotency_key(tenant, idempotency_key)
            if earlier is not None:
                LAUNCHES.labels(transport=transport.value, outcome="duplicate").inc()
                return earlier, False
        await self._sweep()
        session_id = uuid.uuid4().hex
        if self._limiter is not None:
            refusal = await self._limiter.admit(tenant, session_id)
            if refusal is not None:
                LAUNCHES.labels(transport=transport.value, outcome="tenant_limit").inc()
                raise ApiError(429, refusal.message, retry_after_s=refusal.retry_after_s)
        try:
            return await self._create_and_send(
                session_id,
                tenant=tenant,
                transport=transport,
                room_url=room_url,
                body=body,
                idempotency_key=idempotency_key,
                room_token=room_token,
                client_token=client_token,
                caller=caller,
            )
        except BaseException:
            if self._limiter is not None:
                await self._limiter.release(tenant, session_id)
            raise

    async def _create_and_send(
        self,
        session_id: str,
        *,
        tenant: str,
        transport: TransportKind,
        room_url: str | None,
        body: dict[str, Any] | None,
        idempotency_key: str | None,
        room_token: str | None,
        client_token: str | None,
        caller: str | None = None,
    ) -> tuple[SessionRecord, bool]:
        now = time.time()
        record = SessionRecord(
            session_id=session_id,
            tenant=tenant,
            status=SessionStatus.QUEUED,
            transport=transport,
            room_url=room_url,
            caller=caller,
            created_at=now,
            updated_at=now,
        )
        session_id, created = await self._store.create(
            record, idempotency_key=idempotency_key, secret=room_token, client_token=client_token
        )
        if not created:
            if self._limiter is not None:
                await self._limiter.release(tenant, record.session_id)
            existing = await self._store.get(session_id)
            if existing is None or existing.tenant != tenant:
                raise ApiError(409, "Idempotency-Key was used for a session that is gone")
            LAUNCHES.labels(transport=transport.value, outcome="duplicate").inc()
            return existing, False

        with logger.contextualize(session_id=session_id, tenant=tenant):
            await self._send(record, body, idempotency_key)
        return record, True

    async def _send(
        self, record: SessionRecord, body: dict[str, Any] | None, idempotency_key: str | None
    ) -> None:
        """The launch CloudEvent to the broker; on refusal the session is discarded."""
        assert self._sink is not None  # launch() refuses without one
        session_id, tenant, transport = record.session_id, record.tenant, record.transport
        payload = LaunchPayload(
            session_id=session_id,
            tenant=tenant,
            transport=transport,
            room_url=record.room_url,
            body=body or {},
            created_at=record.created_at,
        )
        headers, data = cloudevents_codec.encode(
            LAUNCH_EVENT,
            GATEWAY_SOURCE,
            payload.model_dump(mode="json"),
            event_id=session_id,
            # The session's trace travels with the event (CloudEvents distributed tracing).
            extensions=tracing.event_extensions(),
        )
        headers.update(tracing.http_headers())
        token = await self._sink_token()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = await self._post(headers, data)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            logger.warning(
                "launch of {} not accepted by the sink: {}",
                session_id,
                type(exc).__name__,
            )
            await self._store.discard(session_id, tenant=tenant, idempotency_key=idempotency_key)
            LAUNCHES.labels(transport=transport.value, outcome="sink_refused").inc()
            raise ApiError(
                503, "the event broker did not accept the launch; retry", retry_after_s=1
            ) from exc
        LAUNCHES.labels(transport=transport.value, outcome="queued").inc()
        logger.info("session {} queued ({}) for tenant {}", session_id, transport.value, tenant)

    async def _sweep(self) -> None:
        """Fail sessions that waited past the queue-time bound, and those whose runner died
        (at most once a second here), so that they neither count against their tenant nor
        look as if they may still start or still be running."""
        if self._queue_timeout_s is None or time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_S
        expired = await self._store.expire_queued(self._queue_timeout_s)
        if expired:
            logger.warning(
                "{} session(s) failed: no capacity within the queue-time bound", len(expired)
            )
        lost = await self._store.expire_all_lost()
        if lost:
            logger.warning("{} session(s) failed: their runner's lease expired", len(lost))

    async def _post(self, headers: dict[str, str], data: bytes) -> httpx.Response:
        """POST the launch; once more if a kept-alive connection broke under it (the broker
        closed it as we reused it). A launch delivered twice is safe: the runner claims it
        by its id and answers the second at once."""
        assert self._sink is not None
        try:
            return await self._client.post(self._sink, headers=headers, content=data)
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            return await self._client.post(self._sink, headers=headers, content=data)
