"""A session's start-up, stamped as it happens and written to its record once known.

These are what a caller waits for and what an operator sizes `min-scale` by (Pipecat Cloud
records `coldStart` and `botStartSeconds` per session for the same reason). The launch's
`created_at` comes from the gateway's clock; the spans after the claim use this process's
monotonic clock. The same moments feed the Prometheus histograms, so that a session's record
and the fleet's dashboards never disagree.
"""

from __future__ import annotations

import time

from loguru import logger
from redis.exceptions import RedisError

from voicefleet.observability.metrics import LAUNCH_TO_FIRST_AUDIO, LAUNCH_TO_READY
from voicefleet.session_store import SessionStore


class StartTimings:
    def __init__(
        self, store: SessionStore, session_id: str, *, created_at: float, runner_ready_at: float
    ) -> None:
        self._store = store
        self._session_id = session_id
        self._created_at = created_at
        # The launch waited for this runner to start: no warm runner was free for it.
        self.cold_start = runner_ready_at > created_at
        self._start = "cold" if self.cold_start else "warm"
        self._claimed: float | None = None
        self._offered: float | None = None
        self._answered: float | None = None
        self._joined: float | None = None
        self._first_audio: float | None = None

    async def claimed(self) -> None:
        self._claimed = time.monotonic()
        await self._write(
            cold_start=self.cold_start,
            launch_to_claimed_ms=max(time.time() - self._created_at, 0.0) * 1000,
        )

    def offered(self) -> None:
        """A WebRTC client's offer reached this runner (written with `joined`); a refused
        offer's stamp is replaced by the next one's."""
        if self._answered is None:
            self._offered = time.monotonic()

    def answered(self) -> None:
        """This runner's answer to the offer that started the bot went back."""
        if self._offered is not None and self._answered is None:
            self._answered = time.monotonic()

    async def joined(self) -> None:
        if self._claimed is None or self._joined is not None:
            return
        self._joined = time.monotonic()
        LAUNCH_TO_READY.labels(start=self._start).observe(self._since_launch())
        spans = {"claimed_to_ready_ms": (self._joined - self._claimed) * 1000}
        if self._offered is not None and self._answered is not None:
            spans["claimed_to_offer_ms"] = (self._offered - self._claimed) * 1000
            spans["offer_to_answer_ms"] = (self._answered - self._offered) * 1000
            spans["answer_to_ready_ms"] = max(self._joined - self._answered, 0.0) * 1000
        if self._first_audio is not None:  # the greeting can start before this is called
            spans["ready_to_first_audio_ms"] = max(self._first_audio - self._joined, 0.0) * 1000
        await self._write(**spans)

    async def first_audio(self) -> None:
        if self._first_audio is not None:
            return
        self._first_audio = time.monotonic()
        LAUNCH_TO_FIRST_AUDIO.labels(start=self._start).observe(self._since_launch())
        if self._joined is not None:
            await self._write(ready_to_first_audio_ms=(self._first_audio - self._joined) * 1000)

    def _since_launch(self) -> float:
        """Seconds from the gateway's launch to now; a clock skew between hosts counts as 0."""
        return max(time.time() - self._created_at, 0.0)

    async def _write(self, **fields: float | bool) -> None:
        try:
            await self._store.record_timings(self._session_id, **fields)
        except RedisError as exc:  # a timing is not worth failing a call over
            logger.warning("session {}: timings not recorded: {}", self._session_id, exc)
