"""Silero VAD analyzers, made before they are needed, that say when the user pauses.

Building one takes ~0.1 s of CPU on the event loop; a session takes the spare made in
standby and the runner makes the next spare after the session, never during a call's start.

`PauseAwareVAD` also tells listeners each change of its state as it happens, which Pipecat
reports only once a window has passed: a segmented STT can start transcribing when speech
gives way to silence instead of after the stop window (bot/stt/whisper.py), and the bot can
hold its voice at the first frame of speech instead of after the start window
(bot/barge_in.py).

Its volume gate reacts faster than Pipecat's. The VAD counts a frame as speech only if the
volume (loudness over the last 0.4 s) clears `min_volume`, and Pipecat smooths that volume
again, exponentially, by 0.2 per 32 ms frame: from silence it takes six frames (0.19 s)
to clear the default threshold, all before the start window (`start_secs`) begins to count,
and a short first word ("Wait, ...") can be missed altogether. The loudness window is
smoothing enough; `volume_smoothing` sets the factor (0.5: two frames; 0.2 is Pipecat's).
The threshold keeps its meaning, so faint noise is kept out as before.

It also counts the samples it has analyzed and notes, in order, where it said each stretch of
speech started and stopped (`marks`): the STT reads the same stream ahead of the
VAD (it sits before the user aggregator, and relayed phone audio comes in bursts) and cuts
its segments at those sample counts, not where it happens to have read to
(bot/stt/preroll.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState


class VADListener(Protocol):
    def on_vad_state(self, previous: VADState, state: VADState) -> None: ...


PIPECAT_VOLUME_SMOOTHING = 0.2
MAX_MARKS = 16  # a reader that stopped reading (no segmented STT) costs no more than this


@dataclass(frozen=True)
class SpeechMark:
    """Where, in samples of the stream the VAD analyzed, it said a stretch of speech started
    (`start`: the end of the start window) or stopped (`stop`: the end of the stop window), in
    the order Pipecat's VAD frames for them go out."""

    kind: Literal["start", "stop"]
    sample: int


class PauseAwareVAD(SileroVADAnalyzer):
    def __init__(
        self, *, volume_smoothing: float = PIPECAT_VOLUME_SMOOTHING, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._smoothing_factor = volume_smoothing  # Pipecat's own name for it, set in __init__
        self._listeners: list[VADListener] = []
        self._last_state = VADState.QUIET
        self.heard_samples = 0  # analyzed so far, 16-bit mono
        self._speaking = False  # as Pipecat's VAD controller counts it: started, not stopped
        self.marks: deque[SpeechMark] = deque(maxlen=MAX_MARKS)

    def add_listener(self, listener: VADListener) -> None:
        self._listeners.append(listener)

    async def analyze_audio(self, buffer: bytes) -> VADState:
        self.heard_samples += len(buffer) // 2
        state = await super().analyze_audio(buffer)
        previous, self._last_state = self._last_state, state
        if state == VADState.SPEAKING and not self._speaking:
            self._speaking = True
            self.marks.append(SpeechMark("start", self.heard_samples))
        elif state == VADState.QUIET and self._speaking:
            self._speaking = False
            self.marks.append(SpeechMark("stop", self.heard_samples))
        if state != previous:
            for listener in self._listeners:
                listener.on_vad_state(previous, state)
        return state


class SpareVAD:
    def __init__(
        self, params: VADParams | None = None, volume_smoothing: float = PIPECAT_VOLUME_SMOOTHING
    ) -> None:
        self._params = params or VADParams()
        self._volume_smoothing = volume_smoothing
        self._spare: PauseAwareVAD | None = None

    def _make(self) -> PauseAwareVAD:
        return PauseAwareVAD(params=self._params, volume_smoothing=self._volume_smoothing)

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
