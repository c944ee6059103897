"""TTS provider selection and the cloud provider at its network boundary (a fake OpenAI)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from pipecat.services.openai.tts import OpenAITTSService
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.config import BotSettings
from bot.preload import preload
from bot.tts import TTSUnavailable
from bot.tts.piper import PiperProvider, PreloadedPiperTTSService
from bot.tts.selection import select_tts
from tests.support.servers import serving


def settings(**values: Any) -> BotSettings:
    return BotSettings.model_validate(values)


def test_offline_default_is_piper() -> None:
    provider = select_tts(settings())
    assert isinstance(provider, PiperProvider)
    assert isinstance(provider.service(), PreloadedPiperTTSService)


def test_openai_key_selects_cloud_tts_but_not_for_an_llm_server() -> None:
    assert select_tts(settings(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=None)).name == "openai"
    llm_server = settings(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL="http://127.0.0.1:8000/v1")
    assert select_tts(llm_server).name == "piper"


def test_openai_needs_its_key() -> None:
    with pytest.raises(TTSUnavailable, match="OPENAI_API_KEY"):
        select_tts(settings(tts_provider="openai"))


async def test_piper_greeting_is_rendered_in_standby() -> None:
    loaded = await preload(settings(greeting="Hello there."))
    pcm = np.frombuffer(loaded.greeting.pcm, dtype=np.int16)
    assert loaded.greeting.sample_rate == 24000
    assert 0.3 < pcm.size / 24000 < 3.0
    assert np.abs(pcm[:480]).max() > 200, "leading silence is trimmed"


async def test_openai_speech_renders_the_greeting() -> None:
    seen: list[dict[str, Any]] = []
    tone = (np.sin(np.arange(24000) / 24000 * 2 * np.pi * 300) * 9000).astype(np.int16)

    async def speech(request: Request) -> Response:
        seen.append(
            {"auth": request.headers.get("authorization"), **json.loads(await request.body())}
        )
        return Response(tone.tobytes(), media_type="audio/pcm")

    app = Starlette(routes=[Route("/v1/audio/speech", speech, methods=["POST"])])
    async with serving(app) as url:
        loaded = await preload(
            settings(
                tts_provider="openai",
                greeting="Hi from the cloud.",
                OPENAI_API_KEY="sk-test",
                OPENAI_BASE_URL=f"{url}/v1",
            )
        )
    assert seen == [
        {
            "auth": "Bearer sk-test",
            "input": "Hi from the cloud.",
            "model": "gpt-4o-mini-tts",
            "voice": "alloy",
            "response_format": "pcm",
        }
    ]
    assert loaded.tts.name == "openai"
    assert isinstance(loaded.tts.service(), OpenAITTSService)
    assert len(loaded.greeting.pcm) // 2 == pytest.approx(24000, abs=300)


async def test_unreachable_cloud_tts_is_a_clear_error() -> None:
    with pytest.raises(TTSUnavailable, match="OpenAI speech failed"):
        await preload(
            settings(
                tts_provider="openai",
                OPENAI_API_KEY="sk-test",
                OPENAI_BASE_URL="http://127.0.0.1:9/v1",
            )
        )
