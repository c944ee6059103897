"""Provider selection by configuration, and the offline STT on real speech."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pipecat.frames.frames import (
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.tests.utils import SleepFrame, run_test

from bot.config import BotSettings
from bot.llm import LLMUnavailable, check_llm, make_llm
from bot.stt.selection import select_stt
from bot.stt.whisper import PreloadedWhisperSTTService
from bot.vad import PauseAwareVAD
from harness.speech import make_wav, pcm_16k, words


def settings(**values: Any) -> BotSettings:
    return BotSettings.model_validate(values)


def test_stt_is_offline_whisper_without_a_key() -> None:
    name, factory = select_stt(settings(DEEPGRAM_API_KEY=None))
    assert name == "whisper"
    assert isinstance(factory(PauseAwareVAD()), PreloadedWhisperSTTService)


def test_deepgram_key_selects_deepgram() -> None:
    name, factory = select_stt(settings(DEEPGRAM_API_KEY="dg-test"))
    assert name == "deepgram"
    assert isinstance(factory(PauseAwareVAD()), DeepgramSTTService)


def test_llm_is_the_openai_client_pointed_at_the_configured_server() -> None:
    llm = make_llm(
        settings(OPENAI_API_KEY=None, OPENAI_BASE_URL="http://127.0.0.1:8000/v1"),
        system_instruction="Be brief.",
    )
    assert isinstance(llm, OpenAILLMService)
    assert str(llm._client.base_url).startswith("http://127.0.0.1:8000/v1")


def test_the_llm_temperature_is_the_servers_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    local = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}
    default = make_llm(settings(**local), system_instruction="Be brief.")
    assert not isinstance(default._settings.temperature, float)  # not sent: the server's
    monkeypatch.setenv("BOT_LLM_TEMPERATURE", "0")
    greedy = make_llm(settings(**local), system_instruction="Be brief.")
    assert greedy._settings.temperature == 0
    monkeypatch.setenv("BOT_LLM_TEMPERATURE", "3")
    with pytest.raises(ValueError, match="llm_temperature"):
        settings(**local)


def test_no_llm_configured_is_a_clear_error() -> None:
    with pytest.raises(LLMUnavailable, match="OPENAI_BASE_URL"):
        check_llm(settings(OPENAI_API_KEY=None, OPENAI_BASE_URL=None))


async def test_whisper_transcribes_a_spoken_question(tmp_path: Path) -> None:
    _, factory = select_stt(settings(DEEPGRAM_API_KEY=None))
    pcm16 = pcm_16k(make_wav("What can you do?", tmp_path / "q.wav"))
    step = 16000 * 2 // 50  # 20 ms frames
    audio = [
        InputAudioRawFrame(audio=pcm16[i : i + step], sample_rate=16000, num_channels=1)
        for i in range(0, len(pcm16), step)
    ]
    down, _ = await run_test(
        factory(PauseAwareVAD()),
        frames_to_send=[
            VADUserStartedSpeakingFrame(),
            *audio,
            VADUserStoppedSpeakingFrame(),
            SleepFrame(3),
        ],
    )
    text = " ".join(f.text for f in down if isinstance(f, TranscriptionFrame))
    assert "what can you do" in words(text)
