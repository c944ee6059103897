"""A segment decoded early, at the user's pause, and taken instead of decoding it again.

A segmented STT (Whisper, Moonshine) transcribes a stretch of speech once the VAD's stop
window has passed. With smart turn the turn cannot end before its transcript, so the window
(0.2 s) is time the model can already use: at the pause (bot/vad.py tells it) the speech so
far is decoded in a worker thread. If the user goes on, the early decode is dropped; when the
VAD does stop, a segment that begins with exactly the speech decoded early (the rest being
the stop window's silence) takes the early result. The cost is a decode wasted on each
pause the user speaks through.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.frames.frames import Frame, STTMetadataFrame
from pipecat.services.stt_service import STTService

from bot.stt.preroll import AudioClockSegments
from bot.stt.segments import SegmentedSTTMetadataFrame, SegmentTranscribedFrame
from bot.vad import PauseAwareVAD
from voicefleet.observability.metrics import EARLY_TRANSCRIPTS

Result = TypeVar("Result")

# Longer than any decode; a segment's own (finalized) transcript ends the measurement.
TTFB_TIMEOUT_S = 30.0
PIPECAT_TURN_STOP_TIMEOUT_S = 5.0  # LLMUserAggregatorParams.user_turn_stop_timeout


@dataclass(frozen=True)
class _Speculation(Generic[Result]):
    speech: Any  # the segment's audio up to the pause, without the padding
    options: Any  # what else the decode was given; a segment decoded otherwise misses
    decoded: Future[Result]


class EarlyDecodes(Generic[Result]):
    """One session's early decodes: at most one held, on one worker thread."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self._speculation: _Speculation[Result] | None = None
        self.hits = 0  # segments that took an early result
        self.wasted = 0  # early results dropped because the user went on

    def start(self, speech: Any, options: Any, decode: Callable[[], Result]) -> None:
        """Decode now; `speech` is the prefix a later segment must start with to take it."""
        if self._executor is None:  # one worker: early decodes never compete with each other
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"{self._name}-early")
        self._speculation = _Speculation(speech, options, self._executor.submit(decode))

    def drop(self) -> None:
        if self._speculation is not None:
            self._speculation = None
            self.wasted += 1
            EARLY_TRANSCRIPTS.labels("wasted").inc()

    def take(
        self,
        audio: Any,
        options: Any,
        same: Callable[[Any, Any], bool],
    ) -> Result | None:
        """The early result if `audio` (the whole segment) starts with its speech, else None.
        Blocks until that decode is done: call it off the event loop, where the decode
        would have run."""
        early = self._speculation
        if (
            early is None
            or early.options != options
            or len(early.speech) > len(audio)
            or not same(early.speech, audio[: len(early.speech)])
        ):
            return None
        self._speculation = None
        self.hits += 1
        EARLY_TRANSCRIPTS.labels("used").inc()
        return early.decoded.result()

    def close(self) -> None:
        self._speculation = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


class EarlySegmentedSTT(AudioClockSegments):
    """A segmented STT that marks each segment done (bot/stt/segments.py), cuts its segments
    where the session's VAD heard them (bot/stt/preroll.py) and, if asked, starts decoding at
    the user's pause. A subclass says how to decode early (`decode_early`) and where its
    `EarlyDecodes` are (`early_decodes`)."""

    _pauses: PauseAwareVAD | None = None

    def follow(self, vad: PauseAwareVAD | None, *, early: bool) -> None:
        """Cut segments on `vad`'s clock and, with `early`, decode at its pauses."""
        self.keep_clock_by(vad)
        if vad is not None and early:
            self._pauses = vad
            vad.add_listener(self)

    def early_decodes(self) -> EarlyDecodes[Any]:
        raise NotImplementedError

    def decode_early(self, speech: bytes, padded: bytes) -> None:
        """Start decoding `padded` (the segment so far, padded as it would be) now."""
        raise NotImplementedError

    def service_metadata_frame(self) -> STTMetadataFrame:
        metadata = super().service_metadata_frame()
        return SegmentedSTTMetadataFrame(
            service_name=metadata.service_name, ttfs_p99_latency=metadata.ttfs_p99_latency
        )

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        try:
            async for frame in super().run_stt(audio):
                if frame is not None:
                    yield frame
        finally:  # after the transcript, or in place of one (no words, or a failed decode)
            await self.push_frame(SegmentTranscribedFrame())

    def on_vad_state(self, previous: VADState, state: VADState) -> None:
        if previous == VADState.SPEAKING and state == VADState.STOPPING:
            self.on_pause()
        elif previous == VADState.STOPPING and state == VADState.SPEAKING:
            self.on_resume()

    def on_pause(self) -> None:
        if not self._user_speaking or not self.is_usable or self._pauses is None:
            return
        speech = self.speech_until(self._pauses.heard_samples)  # not what the STT read on to
        self.decode_early(speech, speech + self._trailing_silence())

    def on_resume(self) -> None:
        self.early_decodes().drop()

    async def cleanup(self) -> None:
        self.early_decodes().close()
        await super().cleanup()  # type: ignore[no-untyped-call]


def turn_stop_timeout(stt: STTService) -> float:
    """How long Pipecat waits after the user stops before it ends the turn without a
    transcript (5 s by default). A segmented STT here always says when a segment is done,
    with words or without (bot/stt/segments.py), so the turn ends then; the timeout would
    only end it earlier, empty, when a decode on a loaded host takes longer, and the bot
    would ask the user to repeat what it was about to hear."""
    return TTFB_TIMEOUT_S if isinstance(stt, EarlySegmentedSTT) else PIPECAT_TURN_STOP_TIMEOUT_S


def as_float(pcm: bytes) -> np.ndarray:
    """16-bit PCM as the local models take it (and as Pipecat's services convert it, so an
    early segment compares equal)."""
    return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
