"""Deepgram streaming STT that keeps the user's turn when its WebSocket drops mid-call.

Pipecat's `DeepgramSTTService` reconnects after a drop, but only after its backoff (at least
4 s), and sends audio only while a socket is up: whatever the user says in between, and the
part of the utterance Deepgram had heard but not finalized when the socket went, is lost, so
the turn is answered by halves or not at all. This service keeps the audio Deepgram has not
yet finalized (a final `Results` says up to where it has dealt with the stream: `start` +
`duration`), reconnects at once after a connection that was up, and sends the new socket that
audio before any new audio, so the utterance is heard whole. Only a second failure in a row
of a connection that did not stay up 5 s backs off as Pipecat's does (a bad key, or the service
down): a socket dropped soon after a call started is retried at once too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

from deepgram.core import ApiError
from deepgram.core.events import EventType
from deepgram.listen.v1.types import ListenV1Results
from loguru import logger
from pipecat.frames.frames import Frame
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.utils.network import QuickFailureTracker, exponential_backoff_time
from websockets.exceptions import WebSocketException

MAX_UNFINALIZED_S = 30.0  # audio kept for a replay; Deepgram finalizes far sooner


class ResumingDeepgramSTTService(DeepgramSTTService):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Audio Deepgram has not finalized, in the current socket's timeline: it starts at
        # byte `_kept_from` of that socket's stream; `_sent` bytes have gone to the socket.
        self._kept = bytearray()
        self._kept_from = 0
        self._sent = 0

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        self._keep(audio)
        connection = self._connection
        if connection is not None:
            try:
                await connection.send_media(audio)
                self._sent += len(audio)
            except (WebSocketException, OSError) as exc:  # the socket went: it reconnects
                logger.warning(f"{self}: send failed, the audio is kept for the next socket: {exc}")
                self._connection = None
        yield None

    def _keep(self, audio: bytes) -> None:
        self._kept += audio
        limit = int(MAX_UNFINALIZED_S * self.sample_rate) * 2 * self._channels
        if len(self._kept) > limit:
            dropped = len(self._kept) - limit
            del self._kept[:dropped]
            self._kept_from += dropped

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, ListenV1Results) and message.is_final:
            self._finalized_until(message.start + message.duration)
        await super()._on_message(message)  # type: ignore[no-untyped-call]

    def _finalized_until(self, seconds: float) -> None:
        end = int(seconds * self.sample_rate) * 2 * self._channels
        cut = min(end - self._kept_from, len(self._kept))
        if cut > 0:
            del self._kept[:cut]
            self._kept_from += cut

    async def _replay(self, connection: Any) -> None:
        """Send a new socket the audio the last one left unfinalized (and what arrived while
        none was up), then hand it to `run_stt`, with no await between the two."""
        self._kept_from, self._sent = 0, 0
        while (unsent := len(self._kept) - self._sent + self._kept_from) > 0:
            await connection.send_media(bytes(self._kept[max(0, len(self._kept) - unsent) :]))
            self._sent += unsent
        if self._sent:
            logger.info(f"{self}: replayed {self._sent} bytes of unfinalized audio")
        self._connection = connection

    async def _connection_handler(self) -> None:
        """Pipecat's loop, with the replay, and no backoff after a first failure."""
        failures = QuickFailureTracker()
        try:
            while True:
                keepalive = None
                connected_at = None
                try:
                    kwargs = self._build_connect_kwargs()
                    async with self._client.listen.v1.connect(**kwargs) as connection:
                        connected_at = time.monotonic()
                        connection.on(EventType.MESSAGE, self._on_message)
                        connection.on(EventType.ERROR, self._on_error)
                        await self._replay(connection)
                        self._connection_settled.set()
                        beats = self._keepalive_handler()  # type: ignore[no-untyped-call]
                        keepalive = self.create_task(beats, f"{self}::keepalive")
                        await connection.start_listening()
                except ApiError as exc:
                    if exc.status_code is not None and 400 <= exc.status_code < 500:
                        message = f"Deepgram rejected the connection (status {exc.status_code})"
                        await self.push_error(error_msg=message, force_treat_as_permanent=True)
                        return
                    logger.warning(f"{self}: connection lost, reconnecting: {exc}")
                except Exception as exc:  # noqa: BLE001 - whatever ended it, reconnect (as Pipecat)
                    logger.warning(f"{self}: connection lost, reconnecting: {exc}")
                finally:
                    self._connection = None
                    if keepalive:
                        await self.cancel_task(keepalive)
                uptime = time.monotonic() - connected_at if connected_at is not None else 0.0
                verdict = failures.record(uptime)
                if verdict.should_give_up:
                    message = f"Deepgram connection failed {failures.count} times in a row"
                    await self.push_error(error_msg=message, force_treat_as_permanent=True)
                    return
                if verdict.is_quick_failure and failures.count > 1:
                    await asyncio.sleep(exponential_backoff_time(failures.count - 1))
        finally:
            self._connection_settled.set()
