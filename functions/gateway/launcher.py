"""Creates a session and sends its launch CloudEvent, or leaves nothing behind."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from loguru import logger

from functions.gateway.admission import Admission, Duplicate, OverLimit
from functions.gateway.limits import refusal, retry_after
from functions.http.idempotency import Idempotency
from voicefleet import cloudevents_codec
from voicefleet.contracts import (
    GATEWAY_SOURCE,
    LAUNCH_EVENT,
    LaunchPayload,
    SessionRecord,
    SessionStatus,
    TransportKind,
)
from voicefleet.event_sink import sink_token
from voicefleet.http_errors import ApiError
from voicefleet.observability import tracing
from voicefleet.observability.metrics import LAUNCHES
from voicefleet.session_store import SessionStore

# How often one gateway process sweeps for sessions that waited past the queue-time bound.
_SWEEP_EVERY_S = 1.0


@dataclass(frozen=True)
class RoomGrant:
    """A room made for one session: its URL, the bot's token and the client's."""

    room_url: str
    bot_token: str
    user_token: str


class Launcher:
    def __init__(
        self,
        store: SessionStore,
        client: httpx.AsyncClient,
        sink: str | None,
        admission: Admission,
        *,
        queue_timeout_s: float | None = None,
        token_file: Path | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._sink = sink
        self._admission = admission
        self._queue_timeout_s = queue_timeout_s
        self._next_sweep = 0.0
        self._token_file = token_file

    async def launch(
        self,
        *,
        tenant: str,
        transport: TransportKind,
        room_url: str | None = None,
        body: dict[str, Any] | None = None,
        idempotency: Idempotency | None = None,
        room_token: str | None = None,
        client_token: str | None = None,
        make_room: Callable[[], Awaitable[RoomGrant]] | None = None,
        caller: str | None = None,
    ) -> tuple[SessionRecord, bool]:
        """Returns the session and whether this call created it (False: a duplicate).

        `make_room` makes the session's room once the launch is settled (admitted, not a
        duplicate), so a refused or repeated request never costs a room.
        """
        if not self._sink:
            LAUNCHES.labels(transport=transport.value, outcome="no_sink").inc()
            raise ApiError(503, "the gateway has no event sink (K_SINK) to launch bots through")
        await self._sweep()
        now = time.time()
        record = SessionRecord(
            session_id=uuid.uuid4().hex,
            tenant=tenant,
            status=SessionStatus.QUEUED,
            transport=transport,
            room_url=room_url,
            caller=caller,
            created_at=now,
            updated_at=now,
        )
        settled = await self._admission.settle(
            record, idempotency, secret=room_token, client_token=client_token
        )
        if isinstance(settled, Duplicate):
            assert idempotency is not None  # only a key can name an earlier session
            return await self._earlier(tenant, transport, idempotency, settled), False
        if isinstance(settled, OverLimit):
            LAUNCHES.labels(transport=transport.value, outcome="tenant_limit").inc()
            limits = self._admission.limits_for(tenant)
            raise ApiError(
                429,
                refusal(tenant, limits, settled.kind, settled.count, settled.retry_after_s),
                retry_after_s=retry_after(settled.kind, settled.retry_after_s),
            )
        key = idempotency.key if idempotency else None
        try:
            if make_room is not None:
                grant = await make_room()
                record = record.model_copy(update={"room_url": grant.room_url})
                await self._store.attach_room(
                    record.session_id, grant.room_url, grant.bot_token, grant.user_token
                )
            with logger.contextualize(session_id=record.session_id, tenant=tenant):
                await self._send(record, body)
        except BaseException:
            await self._store.discard(record.session_id, tenant=tenant, idempotency_key=key)
            await self._admission.release(tenant, record.session_id)
            raise
        return record, True

    async def _earlier(
        self,
        tenant: str,
        transport: TransportKind,
        idempotency: Idempotency,
        duplicate: Duplicate,
    ) -> SessionRecord:
        """The session the key's first request made, if this request is the same one."""
        if duplicate.fingerprint and duplicate.fingerprint != idempotency.fingerprint:
            LAUNCHES.labels(transport=transport.value, outcome="key_conflict").inc()
            raise ApiError(
                422,
                f"Idempotency-Key {idempotency.key!r} was first used with a different request "
                f"(session {duplicate.session_id}); a new request needs a new key",
                field="Idempotency-Key",
            )
        existing = await self._store.get(duplicate.session_id)
        if existing is None or existing.tenant != tenant:
            raise ApiError(409, "Idempotency-Key was used for a session that is gone")
        LAUNCHES.labels(transport=transport.value, outcome="duplicate").inc()
        return existing

    async def _send(self, record: SessionRecord, body: dict[str, Any] | None) -> None:
        """The launch CloudEvent to the broker; a refusal is a 503 (the caller discards)."""
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
        token = await sink_token(self._token_file)
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
