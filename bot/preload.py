"""Everything a bot needs that is slow to make, made once while the runner is in standby.

Loading the Piper voice takes about a second and synthesizing the greeting a quarter of one
(a cloud TTS: a round trip); both happen before the runner reports ready, so a call's first
audio waits for neither.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import soxr

from bot.config import BotSettings
from bot.llm import check_llm
from bot.stt.selection import STTFactory, select_stt
from bot.tts import TTSProvider
from bot.tts.selection import select_tts
from bot.turn import TurnDetection
from bot.vad import SpareVAD

_SILENCE_THRESHOLD = 200  # int16 amplitude under which leading samples are dropped


@dataclass(frozen=True)
class RenderedSpeech:
    text: str
    pcm: bytes  # 16-bit mono
    sample_rate: int


@dataclass(frozen=True)
class Preloaded:
    settings: BotSettings
    tts: TTSProvider
    greeting: RenderedSpeech
    stt_name: str
    stt: STTFactory
    vad: SpareVAD
    turns: TurnDetection


async def render_speech(tts: TTSProvider, text: str, sample_rate: int) -> RenderedSpeech:
    """Synthesize, resample to the transport's rate and drop leading silence."""
    samples = np.frombuffer(await tts.synthesize(text), dtype=np.int16)
    if tts.sample_rate != sample_rate:
        samples = soxr.resample(samples, tts.sample_rate, sample_rate).astype(np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _SILENCE_THRESHOLD)
    if loud.size:
        samples = samples[max(int(loud[0]) - sample_rate // 100, 0) :]
    return RenderedSpeech(text=text, pcm=samples.tobytes(), sample_rate=sample_rate)


async def preload(settings: BotSettings) -> Preloaded:
    check_llm(settings)
    # Loading a local model is blocking work: off the loop, so /healthz keeps answering.
    tts = await asyncio.to_thread(select_tts, settings)
    stt_name, stt = await asyncio.to_thread(select_stt, settings)
    greeting = await render_speech(tts, settings.greeting, settings.audio_out_sample_rate)
    turns = await asyncio.to_thread(
        TurnDetection, smart_turn=settings.smart_turn, vad_stop_s=settings.vad_stop_s
    )
    vad = SpareVAD(turns.vad_params)
    await vad.refill()
    return Preloaded(
        settings=settings,
        tts=tts,
        greeting=greeting,
        stt_name=stt_name,
        stt=stt,
        vad=vad,
        turns=turns,
    )
