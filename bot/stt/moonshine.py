"""Moonshine tiny-en over the model bundled in `moonshine-voice` 0.1.0, loaded once per runner.

Pipecat's `MoonshineSTTService` finds its model through Moonshine's downloader, which fetches
it from a hub on first use; moonshine-voice 0.1.0 ships tiny-en (MIT) inside its wheel
(later versions download it), so this subclass loads that directory instead and shares it
between the runner's sessions. A decode of a VAD segment takes about a third of
faster-whisper tiny.en's here; how many words it gets right beside Whisper is what
`benchmarks/stt_accuracy.py` measures. Given the session's VAD it starts at the user's pause,
like Whisper (bot/stt/early.py).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from moonshine_voice import ModelArch, Transcriber, get_model_path
from pipecat.services.moonshine.stt import Model, MoonshineSTTService

from bot.stt.early import TTFB_TIMEOUT_S, EarlyDecodes, EarlySegmentedSTT, as_float
from bot.vad import PauseAwareVAD

SAMPLE_RATE = 16000  # what Moonshine takes, and what the bot's STT receives


def bundled_model_path() -> Path:
    """tiny-en as moonshine-voice 0.1.0 ships it; fails if this install has no such model."""
    path = Path(get_model_path("tiny-en"))
    if not (path / "encoder_model.ort").is_file():
        raise FileNotFoundError(
            f"no bundled Moonshine tiny-en model at {path}: moonshine-voice 0.1.0 ships it "
            "(later versions download it instead)"
        )
    return path


class _Transcriber:
    """One runner's loaded model, as Pipecat's service calls it, one decode at a time; and a
    session's early decode taken instead of decoding the same speech again."""

    def __init__(self, model: Any, lock: threading.Lock) -> None:
        self._model = model
        self._lock = lock
        self.early: EarlyDecodes[Any] = EarlyDecodes("moonshine")

    def _decode(self, audio: list[float], sample_rate: int) -> Any:
        with self._lock:
            return self._model.transcribe_without_streaming(audio, sample_rate)

    def speculate(self, padded: list[float], speech_samples: int) -> None:
        self.early.start(
            padded[:speech_samples], SAMPLE_RATE, lambda: self._decode(padded, SAMPLE_RATE)
        )

    def transcribe_without_streaming(self, audio: list[float], sample_rate: int) -> Any:
        """Pipecat calls this in a worker thread with the whole padded segment."""
        early = self.early.take(audio, sample_rate, lambda a, b: a == b)
        return early if early is not None else self._decode(audio, sample_rate)


class MoonshineModel:
    """The bundled model, loaded once (in standby) for every session of a runner."""

    def __init__(self, path: Path | None = None) -> None:
        self._model = Transcriber(str(path or bundled_model_path()), ModelArch.TINY)
        self._lock = threading.Lock()  # a session's early decode and another's never overlap

    def session(self) -> _Transcriber:
        return _Transcriber(self._model, self._lock)


class BundledMoonshineSTTService(EarlySegmentedSTT, MoonshineSTTService):
    def __init__(
        self,
        *,
        model: MoonshineModel,
        vad: PauseAwareVAD | None = None,
        early: bool = True,
        **kwargs: Any,
    ) -> None:
        self._session_model = model.session()
        super().__init__(
            settings=MoonshineSTTService.Settings(model=Model.TINY),
            stt_ttfb_timeout=TTFB_TIMEOUT_S,  # as Whisper's (bot/stt/whisper.py)
            **kwargs,
        )
        self.follow(vad, early=early)

    def _load(self) -> Any:  # Pipecat's would download; this session's share of ours
        return self._session_model

    def early_decodes(self) -> EarlyDecodes[Any]:
        return self._session_model.early

    def decode_early(self, speech: bytes, padded: bytes) -> None:
        self._session_model.speculate(as_float(padded).tolist(), len(speech) // 2)
