"""Silero VAD analyzers, made before they are needed, that say when the user pauses.

Building one takes ~0.1 s of CPU on the event loop; a session takes the spare made in
standby and the runner makes the next spare after the session, never during a call's start.

`PauseAwareVAD` also tells listeners the moment speech gives way to silence (the VAD's
stopping window begins) and the moment speech resumes within it: a segmented STT can start
transcribing at the pause instead of after the stop window (bot/stt/whisper.py).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState


class PauseListener(Protocol):
    def on_pause(self) -> None: ...

    def on_resume(self) -> None: ...


class PauseAwareVAD(SileroVADAnalyzer):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._listeners: list[PauseListener] = []
        self._last_state = VADState.QUIET

    def add_listener(self, listener: PauseListener) -> None:
        self._listeners.append(listener)

    async def analyze_audio(self, buffer: bytes) -> VADState:
        state = await super().analyze_audio(buffer)
        previous, self._last_state = self._last_state, state
        if previous == VADState.SPEAKING and state == VADState.STOPPING:
            for listener in self._listeners:
                listener.on_pause()
        elif previous == VADState.STOPPING and state == VADState.SPEAKING:
            for listener in self._listeners:
                listener.on_resume()
        return state


class SpareVAD:
    def __init__(self, params: VADParams | None = None) -> None:
        self._params = params or VADParams()
        self._spare: PauseAwareVAD | None = None

    def _make(self) -> PauseAwareVAD:
        return PauseAwareVAD(params=self._params)

    def fill(self) -> None:
        """Make the spare on this thread (before a fork, where no other thread may run)."""
        if self._spare is None:
            self._spare = self._make()

    async def refill(self) -> None:
        if self._spare is None:
            self._spare = await asyncio.to_thread(self._make)

    def take(self) -> PauseAwareVAD:
        spare, self._spare = self._spare, None
        return spare or self._make()
