"""Which TTS provider a runner uses: the cloud one when its key is set, else Piper."""

from __future__ import annotations

from bot.config import BotSettings
from bot.tts import TTSProvider, TTSUnavailable


def _choice(settings: BotSettings) -> str:
    if settings.tts_provider != "auto":
        return settings.tts_provider
    cloud = settings.openai_api_key and not settings.openai_base_url
    return "openai" if cloud else "piper"


def uses_piper(settings: BotSettings) -> bool:
    return _choice(settings) == "piper"


def select_tts(settings: BotSettings) -> TTSProvider:
    choice = _choice(settings)
    if choice == "openai":
        if not settings.openai_api_key:
            raise TTSUnavailable("BOT_TTS_PROVIDER=openai needs OPENAI_API_KEY")
        from bot.tts.openai import OpenAIProvider

        return OpenAIProvider(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            voice=settings.openai_tts_voice,
            model=settings.openai_tts_model,
        )
    from bot.tts.piper import PiperProvider

    return PiperProvider(settings.piper_voice)
