"""Each offline STT loads its model from an installed package with the network cut off, and
hears a spoken question through the session's VAD; a model that is not there fails the
runner's start-up, not a call."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from bot.config import BotSettings
from bot.stt.moonshine import BundledMoonshineSTTService
from bot.stt.selection import select_stt
from bot.vad import SpareVAD
from harness.speech import make_wav, pcm_16k, words
from harness.stt_stream import transcribe


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection leaves this process: a model fetched from a hub fails to load."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def settings(**values: Any) -> BotSettings:
    return BotSettings.model_validate({"DEEPGRAM_API_KEY": None, **values})


@pytest.mark.parametrize(
    "values",
    [{}, {"stt_provider": "moonshine"}],  # Whisper by name: tests/test_providers.py
    ids=["configured default", "moonshine"],
)
async def test_the_stt_loads_offline_and_hears_a_question(
    offline: None, values: dict[str, Any], tmp_path: Path
) -> None:
    name, stt = select_stt(settings(**values))
    assert name == values.get("stt_provider", name)
    pcm = pcm_16k(make_wav("What can you do?", tmp_path / "q.wav", pad_s=0))
    heard = await transcribe(pcm, stt, SpareVAD())
    assert words(heard.text) == "what can you do"


async def test_moonshine_decodes_at_the_pause_and_takes_that_transcript(tmp_path: Path) -> None:
    _, stt = select_stt(settings(stt_provider="moonshine", whisper_early=True))
    services: list[BundledMoonshineSTTService] = []

    def kept(vad: Any) -> Any:
        service = stt(vad)
        assert isinstance(service, BundledMoonshineSTTService)
        services.append(service)
        return service

    pcm = pcm_16k(make_wav("What time is it?", tmp_path / "q.wav", pad_s=0))
    heard = await transcribe(pcm, kept, SpareVAD())
    assert words(heard.text) == "what time is it"
    assert services[0].early_decodes().hits == 1


def test_a_missing_whisper_model_fails_at_load(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="model"):
        select_stt(settings(stt_provider="whisper", whisper_model_path=str(tmp_path)))


def test_a_moonshine_without_its_bundled_model_fails_at_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("bot.stt.moonshine.get_model_path", lambda name: tmp_path)
    with pytest.raises(FileNotFoundError, match="bundled Moonshine tiny-en"):
        select_stt(settings(stt_provider="moonshine"))
