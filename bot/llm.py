"""The LLM: Pipecat's OpenAI service, against OpenAI or any OpenAI-compatible server.

The offline default is the same code pointed at a local llama.cpp server (the dev stack
starts one), so every run exercises the production client.
"""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI, DefaultAsyncHttpxClient
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.utils.http import connection_limits

from bot import tls
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


class _LLM(OpenAILLMService):
    """Pipecat's OpenAI service, its client verifying TLS with the runner's shared context
    (bot/tls.py) instead of loading the CA bundle again for every call."""

    def create_client(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        default_headers: Any = None,
        **kwargs: Any,
    ) -> AsyncOpenAI:
        # Pipecat's own client (services/openai/base_llm.py), but for `verify`.
        limits = connection_limits(
            max_keepalive_connections=100, max_connections=1000, keepalive_expiry=None
        )
        return AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            http_client=DefaultAsyncHttpxClient(limits=limits, verify=tls.openai_context()),
            default_headers=default_headers,
        )


def make_llm(settings: BotSettings, *, system_instruction: str) -> OpenAILLMService:
    check_llm(settings)
    llm_settings = OpenAILLMService.Settings(
        model=settings.openai_model, system_instruction=system_instruction
    )
    if settings.llm_temperature is not None:
        llm_settings.temperature = settings.llm_temperature
    return _LLM(
        api_key=settings.openai_api_key or LOCAL_API_KEY,
        base_url=settings.openai_base_url,
        settings=llm_settings,
    )
