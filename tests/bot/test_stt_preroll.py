"""A phone call's audio that reaches the bot in a burst is transcribed from its first word
(issue 23: "to note call budget" for "Create a note called budget")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soxr
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.tests.utils import SleepFrame, run_test

from bot.config import BotSettings
from bot.stt.selection import select_stt
from bot.vad import PauseAwareVAD
from harness.speech import make_wav, pcm_16k, words

RATE = 16000  # the pipeline's input rate, to which the phone serializer resamples
_STEP = 640  # 20 ms, 16-bit: one media message of a phone stream


def phone_pcm(wav: Path) -> bytes:
    """The test voice as the phone transport hands it on: through the telephone's 8 kHz,
    back at the pipeline's 16 kHz."""
    samples = np.frombuffer(pcm_16k(wav), dtype=np.int16)
    phone = soxr.resample(samples, RATE, 8000)
    return bytes(soxr.resample(phone, 8000, RATE).astype(np.int16).tobytes())


async def heard_in_a_burst(pcm: bytes) -> str:
    """What the user's side of the pipeline puts in the LLM's context when the whole
    utterance arrives at once (a relay catching up), then silence in real time."""
    _, factory = select_stt(BotSettings.model_validate({"DEEPGRAM_API_KEY": None}))  # Whisper
    vad = PauseAwareVAD(params=VADParams(stop_secs=0.2))
    stt = factory(vad)
    user = LLMContextAggregatorPair(
        LLMContext(), user_params=LLMUserAggregatorParams(vad_analyzer=vad)
    ).user()
    burst: list[Frame] = [
        InputAudioRawFrame(audio=pcm[i : i + _STEP], sample_rate=RATE, num_channels=1)
        for i in range(0, len(pcm), _STEP)
    ]
    silence: list[Frame] = []
    for _ in range(100):  # 2 s
        silence.append(InputAudioRawFrame(audio=bytes(_STEP), sample_rate=RATE, num_channels=1))
        silence.append(SleepFrame(0.02))
    await run_test(
        Pipeline([stt, user]),
        frames_to_send=[*burst, *silence, SleepFrame(2)],
    )
    return " ".join(str(m.get("content", "")) for m in user._context.get_messages())


async def test_a_phone_command_arriving_in_a_burst_is_heard_from_its_first_word(
    tmp_path: Path,
) -> None:
    pcm = phone_pcm(make_wav("Create a note called budget.", tmp_path / "command.wav"))
    assert words(await heard_in_a_burst(pcm)) == "create a note called budget"
