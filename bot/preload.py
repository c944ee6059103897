"""Everything a bot needs that is slow to make, made once while the runner is in standby.

Two parts. `load_models` is what can be made before a fork (runner/zygote.py): the Piper
voice, the smart-turn model, a Silero VAD and the greeting audio, all ONNX sessions that run
in-line on the calling thread, so they start no thread and open no socket, and a zygote
shares their pages with every runner it forks. `preload` adds what cannot cross a fork
(faster-whisper starts CTranslate2 worker threads; a cloud TTS holds an HTTP client) and is
what a runner calls in standby, with the zygote's models or without them. Either way, a
call's first audio waits for no model and no synthesis.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import soxr

from bot import tls
from bot.config import BotSettings
from bot.llm import check_llm
from bot.stt.selection import STTFactory, select_stt
from bot.tts import TTSProvider
from bot.tts.selection import select_tts, uses_piper
from bot.turn import TurnDetection
from bot.vad import SpareVAD

_SILENCE_THRESHOLD = 200  # int16 amplitude under which leading samples are dropped


@dataclass(frozen=True)
class RenderedSpeech:
    text: str
    pcm: bytes  # 16-bit mono
    sample_rate: int


@dataclass(frozen=True)
class Models:
    """What `load_models` made; safe to hold across a fork."""

    turns: TurnDetection
    vad: SpareVAD
    tts: TTSProvider | None = None  # Piper only: a cloud TTS is made after the fork
    greeting: RenderedSpeech | None = None


@dataclass(frozen=True)
class Preloaded:
    settings: BotSettings
    tts: TTSProvider
    greeting: RenderedSpeech
    stt_name: str
    stt: STTFactory
    vad: SpareVAD
    turns: TurnDetection


def prepare_speech(text: str, pcm: bytes, in_rate: int, sample_rate: int) -> RenderedSpeech:
    """Resample to the transport's rate and drop leading silence."""
    samples = np.frombuffer(pcm, dtype=np.int16)
    if in_rate != sample_rate:
        samples = soxr.resample(samples, in_rate, sample_rate).astype(np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _SILENCE_THRESHOLD)
    if loud.size:
        samples = samples[max(int(loud[0]) - sample_rate // 100, 0) :]
    return RenderedSpeech(text=text, pcm=samples.tobytes(), sample_rate=sample_rate)


async def render_speech(tts: TTSProvider, text: str, sample_rate: int) -> RenderedSpeech:
    return prepare_speech(text, await tts.synthesize(text), tts.sample_rate, sample_rate)


def load_models(settings: BotSettings) -> Models:
    """Blocking, and on the calling thread only (a zygote calls it before any loop exists)."""
    turns = TurnDetection(
        smart_turn=settings.smart_turn,
        vad_stop_s=settings.vad_stop_s,
        vad_start_s=settings.vad_start_s,
        unsure_hold_s=settings.smart_turn_unsure_hold_s,
    )
    vad = SpareVAD(turns.vad_params, settings.vad_volume_smoothing)
    vad.fill()
    if not uses_piper(settings):
        return Models(turns=turns, vad=vad)
    from bot.tts.piper import PiperProvider

    tts = PiperProvider(settings.piper_voice)
    pcm = tts.synthesize_blocking(settings.greeting)
    greeting = prepare_speech(
        settings.greeting, pcm, tts.sample_rate, settings.audio_out_sample_rate
    )
    return Models(turns=turns, vad=vad, tts=tts, greeting=greeting)


async def preload(settings: BotSettings, models: Models | None = None) -> Preloaded:
    check_llm(settings)
    # Loading a local model is blocking work: off the loop, so /healthz keeps answering, and
    # Whisper beside the rest (both are native code that releases the GIL: two cores, two
    # loads at once).
    stt_loading = asyncio.create_task(asyncio.to_thread(select_stt, settings))
    tls_loading = asyncio.create_task(asyncio.to_thread(tls.warm))  # every call's clients'
    if models is None:
        models = await asyncio.to_thread(load_models, settings)
    tts = models.tts if models.tts is not None else await asyncio.to_thread(select_tts, settings)
    stt_name, stt = await stt_loading
    greeting = models.greeting or await render_speech(
        tts, settings.greeting, settings.audio_out_sample_rate
    )
    await models.vad.refill()
    await tls_loading
    return Preloaded(
        settings=settings,
        tts=tts,
        greeting=greeting,
        stt_name=stt_name,
        stt=stt,
        vad=models.vad,
        turns=models.turns,
    )
