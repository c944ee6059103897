"""Silero VAD analyzers, made before they are needed.

Building one takes ~0.1 s of CPU on the event loop; a session takes the spare made in
standby and the runner makes the next spare after the session, never during a call's start.
"""

from __future__ import annotations

import asyncio

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams


class SpareVAD:
    def __init__(self, params: VADParams | None = None) -> None:
        self._params = params or VADParams()
        self._spare: SileroVADAnalyzer | None = None

    def _make(self) -> SileroVADAnalyzer:
        return SileroVADAnalyzer(params=self._params)

    def fill(self) -> None:
        """Make the spare on this thread (before a fork, where no other thread may run)."""
        if self._spare is None:
            self._spare = self._make()

    async def refill(self) -> None:
        if self._spare is None:
            self._spare = await asyncio.to_thread(self._make)

    def take(self) -> SileroVADAnalyzer:
        spare, self._spare = self._spare, None
        return spare or self._make()
