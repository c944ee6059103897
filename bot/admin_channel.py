"""The bot's end of the admin channel: wake on pub/sub, take messages from the queue.

Subscribe first, then drain: a message published between the two is in the list, and one
published after wakes the loop. The list is drained again after every reconnect (Redis
restarted, network blip) and every `poll_s` as a safety net, so a lost wake-up only delays
a message. One drain runs at a time and each message is taken by an atomic move, so none is
handled twice.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from voicefleet.admin_queue import AdminMessage, AdminQueue, AdminStatus
from voicefleet.contracts import Keys
from voicefleet.observability.metrics import ADMIN_DELIVERY, ADMIN_HANDLED, admin_type

# What the bot does with a message: None when done, or why it refused.
AdminHandle = Callable[[AdminMessage], Awaitable[str | None]]

_RECONNECT_MAX_S = 2.0


class AdminChannel:
    def __init__(
        self,
        queue: AdminQueue,
        pubsub_redis: Redis,
        *,
        address: str,
        session_id: str,
        tenant: str,
        poll_s: float = 5.0,
    ) -> None:
        self._queue = queue
        self._pubsub_redis = pubsub_redis
        self.address = address
        self.session_id = session_id
        self.tenant = tenant
        self._poll_s = poll_s
        # This channel's claims, told apart from a twin's in the same session (a retried
        # bot, say), so that its recovery never takes back what the twin is handling.
        self._holder = f"{session_id}/{uuid.uuid4().hex[:12]}"
        # Handled, but Redis went away before it was told: told first after reconnecting,
        # so that recovery does not hand the message out again.
        self._unreported: list[tuple[AdminMessage, AdminStatus, str | None]] = []

    async def run(self, handle: AdminHandle) -> None:
        """Serve until cancelled; Redis outages are waited out, never raised."""
        delay = 0.05
        while True:
            try:
                await self._serve(handle)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                logger.warning(
                    "session {}: admin channel lost Redis ({}); retrying in {:.2f}s",
                    self.session_id,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RECONNECT_MAX_S)
            else:  # pragma: no cover - _serve only returns by raising
                return

    async def _serve(self, handle: AdminHandle) -> None:
        pubsub = self._pubsub_redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(Keys.admin_channel(self.address))
            while self._unreported:
                await self._report(*self._unreported[0])
                self._unreported.pop(0)
            await self._queue.recover(self.address, self.session_id, holder=self._holder)
            await self.drain(handle)
            while True:
                woken = await pubsub.get_message(timeout=self._poll_s)
                if woken is None:  # quiet: recover what a dead bot left behind
                    await self._queue.recover(self.address, self.session_id, holder=self._holder)
                await self.drain(handle)
        finally:
            await asyncio.shield(pubsub.aclose())

    async def drain(self, handle: AdminHandle) -> None:
        """Handle every waiting message, oldest first."""
        while (
            message := await self._queue.claim(self.address, self.session_id, holder=self._holder)
        ) is not None:
            ADMIN_DELIVERY.observe(max(time.time() - message.created_at, 0.0))
            status, reason = await self._handle(handle, message)
            ADMIN_HANDLED.labels(type=admin_type(message.type), outcome=status.value).inc()
            try:
                await self._report(message, status, reason)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                self._unreported.append((message, status, reason))
                raise

    async def _report(self, message: AdminMessage, status: AdminStatus, reason: str | None) -> None:
        await self._queue.finish(message, status, session_id=self.session_id, reason=reason)

    async def _handle(
        self, handle: AdminHandle, message: AdminMessage
    ) -> tuple[AdminStatus, str | None]:
        if message.tenant != self.tenant:
            return AdminStatus.REJECTED, "the message is for another tenant's bot"
        try:
            reason = await handle(message)
        except Exception as exc:  # noqa: BLE001 - a bad message must not stop the channel
            logger.exception("session {}: admin message {} failed", self.session_id, message.id)
            return AdminStatus.REJECTED, f"the bot failed to handle it: {type(exc).__name__}"
        if reason is not None:
            return AdminStatus.REJECTED, reason
        return AdminStatus.PROCESSED, None
