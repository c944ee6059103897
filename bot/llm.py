"""The LLM: Pipecat's OpenAI service, against OpenAI or any OpenAI-compatible server.

The offline default is the same code pointed at a local llama.cpp server (the dev stack
starts one), so every run exercises the production client.
"""

from __future__ import annotations

from pipecat.services.openai.llm import OpenAILLMService

from bot.config import BotSettings

LOCAL_API_KEY = "local"  # llama.cpp's server accepts any key; the client requires one


class LLMUnavailable(RuntimeError):
    pass


def check_llm(settings: BotSettings) -> None:
    """Refuse to start without an LLM, rather than fail the first call."""
    if not settings.openai_api_key and not settings.openai_base_url:
        raise LLMUnavailable(
            "no LLM configured: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (any "
            "OpenAI-compatible server; `voicefleet dev` starts a local one)"
        )


def make_llm(settings: BotSettings, *, system_instruction: str) -> OpenAILLMService:
    check_llm(settings)
    llm_settings = OpenAILLMService.Settings(
        model=settings.openai_model, system_instruction=system_instruction
    )
    if settings.llm_temperature is not None:
        llm_settings.temperature = settings.llm_temperature
    return OpenAILLMService(
        api_key=settings.openai_api_key or LOCAL_API_KEY,
        base_url=settings.openai_base_url,
        settings=llm_settings,
    )
