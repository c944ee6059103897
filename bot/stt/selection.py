"""Which STT a runner uses: Deepgram when DEEPGRAM_API_KEY is set, else offline Whisper, unless
BOT_STT_PROVIDER names one (whisper, moonshine)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipecat.services.stt_service import STTService

from bot.config import BotSettings
from bot.vad import PauseAwareVAD

# One session's service, given the session's VAD (a segmented STT follows its pauses).
STTFactory = Callable[[PauseAwareVAD], STTService]


def stt_choice(settings: BotSettings) -> str:
    """deepgram, whisper or moonshine: what `select_stt` will load."""
    if settings.stt_provider != "auto":
        return settings.stt_provider
    return "deepgram" if settings.deepgram_api_key else "whisper"


def select_stt(settings: BotSettings) -> tuple[str, STTFactory]:
    """The provider's name and a factory for one session's service (models load here, once)."""
    provider = stt_choice(settings)
    if provider == "deepgram":
        from bot.stt.deepgram import ResumingDeepgramSTTService

        key, url = settings.deepgram_api_key, settings.deepgram_base_url

        def deepgram(vad: PauseAwareVAD) -> STTService:  # streams: no VAD segments
            kwargs: dict[str, Any] = {"api_key": key}
            if url:
                kwargs["base_url"] = url
            return ResumingDeepgramSTTService(**kwargs)

        return "deepgram", deepgram

    early = settings.whisper_early
    if provider == "moonshine":
        from bot.stt.moonshine import BundledMoonshineSTTService, MoonshineModel

        moonshine_model = MoonshineModel()

        def moonshine(vad: PauseAwareVAD) -> STTService:
            return BundledMoonshineSTTService(model=moonshine_model, vad=vad, early=early)

        return "moonshine", moonshine

    from bot.stt.whisper import PreloadedWhisperSTTService, load_model

    model = load_model(settings.whisper_model_path, cpu_threads=settings.whisper_cpu_threads)
    fast = settings.whisper_fast

    def whisper(vad: PauseAwareVAD) -> STTService:
        return PreloadedWhisperSTTService(model=model, fast=fast, vad=vad, early=early)

    return "whisper", whisper
