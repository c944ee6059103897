"""Whisper starts on a turn's audio when the user pauses, never answers with stale text, and
reports its time to transcript however long a decode takes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import Frame, InputAudioRawFrame, STTMetadataFrame, TranscriptionFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.task import PipelineParams
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.tests.utils import SleepFrame, run_test
from prometheus_client import REGISTRY

from bot.config import BotSettings
from bot.stt.early import as_float
from bot.stt.segments import SegmentedSTTMetadataFrame, SegmentTranscribedFrame
from bot.stt.selection import select_stt
from bot.stt.whisper import PreloadedWhisperSTTService
from bot.turn_metrics import TurnMetricsObserver
from bot.vad import PauseAwareVAD
from harness.speech import make_wav, pcm_16k, words

_STEP = 640  # 20 ms at 16 kHz, 16-bit


def whisper(early: bool) -> tuple[PreloadedWhisperSTTService, PauseAwareVAD]:
    values = {"DEEPGRAM_API_KEY": None, "whisper_early": early}
    _, factory = select_stt(BotSettings.model_validate(values))
    vad = PauseAwareVAD(params=VADParams(stop_secs=0.2))
    stt = factory(vad)
    assert isinstance(stt, PreloadedWhisperSTTService)
    return stt, vad


async def heard(stt: PreloadedWhisperSTTService, vad: PauseAwareVAD, pcm: bytes, **run: Any) -> str:
    """What the user's side of the pipeline puts in the LLM's context, fed in real time."""
    user = LLMContextAggregatorPair(
        LLMContext(), user_params=LLMUserAggregatorParams(vad_analyzer=vad)
    ).user()
    frames: list[Frame] = []
    for i in range(0, len(pcm), _STEP):
        frames.append(
            InputAudioRawFrame(audio=pcm[i : i + _STEP], sample_rate=16000, num_channels=1)
        )
        frames.append(SleepFrame(0.02))
    await run_test(Pipeline([stt, user]), frames_to_send=[*frames, SleepFrame(2)], **run)
    return " ".join(str(m.get("content", "")) for m in user._context.get_messages())


@pytest.mark.parametrize("early", [True, False])
async def test_a_question_is_transcribed_once_early_or_after_the_stop_window(
    tmp_path: Path, early: bool
) -> None:
    stt, vad = whisper(early)
    text = await heard(stt, vad, pcm_16k(make_wav("What can you do?", tmp_path / "q.wav")))
    assert words(text) == "what can you do"
    assert stt._transcriber.early_hits == (1 if early else 0)


async def test_each_stretch_of_a_paused_sentence_is_decoded_once_and_early(
    tmp_path: Path,
) -> None:
    stt, vad = whisper(True)
    wav = make_wav(
        "Could you tell me about", tmp_path / "p.wav", then="the weather in Paris tomorrow?"
    )
    text = words(await heard(stt, vad, pcm_16k(wav)))
    # Whisper hears the halves apart (tiny.en may garble the first); both reach the LLM.
    assert text.startswith("could you tell me") and "the weather in" in text
    assert stt._transcriber.early_hits == 2


async def test_speech_after_the_pause_drops_the_early_transcript(tmp_path: Path) -> None:
    stt, _ = whisper(True)
    first = pcm_16k(make_wav("Could you tell me about", tmp_path / "a.wav", pad_s=0))
    rest = pcm_16k(make_wav("the weather in Paris tomorrow?", tmp_path / "b.wav", pad_s=0))
    stt._user_speaking = True
    stt._audio_buffer = bytearray(first)
    stt.on_pause()  # a breath mid-sentence...
    stt._audio_buffer += rest
    stt.on_resume()  # ...and the user goes on
    text = await transcribe(stt, first + rest)
    assert "could you tell me about the weather in paris tomorrow" in words(text)
    assert (stt._transcriber.early_hits, stt._transcriber.early_wasted) == (0, 1)


async def test_an_early_transcript_of_other_audio_is_not_taken(tmp_path: Path) -> None:
    stt, _ = whisper(True)
    stt._user_speaking = True
    stt._audio_buffer = bytearray(pcm_16k(make_wav("Good morning.", tmp_path / "a.wav")))
    stt.on_pause()
    text = await transcribe(stt, pcm_16k(make_wav("What time is it?", tmp_path / "b.wav")))
    assert words(text) == "what time is it"
    assert stt._transcriber.early_hits == 0


async def transcribe(stt: PreloadedWhisperSTTService, pcm: bytes) -> str:
    """The segment as Pipecat's run_stt hands it to the model (padded, as float)."""
    options: dict[str, Any] = {"language": "en", "hotwords": None, "initial_prompt": None}
    audio = as_float(pcm + stt._trailing_silence())
    segments, _ = stt._transcriber.transcribe(audio, **options)
    stt._transcriber.close()
    return " ".join(s.text for s in segments)


class _SlowModel:
    """The model on a host so loaded that a decode outlasts Pipecat's 2 s STT timeout."""

    def __init__(self, model: Any, delay_s: float) -> None:
        self._model, self._delay_s = model, delay_s

    def transcribe(self, audio: Any, **options: Any) -> Any:
        time.sleep(self._delay_s)
        return self._model.transcribe(audio, **options)


async def test_a_decode_slower_than_pipecats_stt_timeout_still_gives_the_turn_its_stt_figure(
    tmp_path: Path,
) -> None:
    stt, vad = whisper(False)
    stt._transcriber._model = _SlowModel(stt._transcriber._model, delay_s=2.5)
    before = REGISTRY.get_sample_value("voicefleet_bot_stage_seconds_count", {"stage": "stt"})
    text = await heard(
        stt,
        vad,
        pcm_16k(make_wav("What can you do?", tmp_path / "q.wav")),
        observers=[TurnMetricsObserver()],
        pipeline_params=PipelineParams(enable_metrics=True),
    )
    assert words(text) == "what can you do"
    after = REGISTRY.get_sample_value("voicefleet_bot_stage_seconds_count", {"stage": "stt"})
    assert (after or 0) - (before or 0) == 1


class _FromTheSTT(BaseObserver):
    """The frames the STT pushes that a turn's stop strategy reads."""

    def __init__(self, stt: PreloadedWhisperSTTService) -> None:
        super().__init__()
        self._stt = stt
        self.seen: list[Frame] = []

    async def on_push_frame(self, data: FramePushed) -> None:
        kinds = (TranscriptionFrame, SegmentTranscribedFrame, STTMetadataFrame)
        if data.source is self._stt and isinstance(data.frame, kinds):
            self.seen.append(data.frame)


async def test_each_segment_is_marked_done_after_its_transcript(tmp_path: Path) -> None:
    stt, vad = whisper(False)
    wav = make_wav(
        "Could you tell me about", tmp_path / "p.wav", then="the weather in Paris tomorrow?"
    )
    observer = _FromTheSTT(stt)
    await heard(stt, vad, pcm_16k(wav), observers=[observer])
    kinds = [type(frame) for frame in observer.seen]
    # The strategy learns at the start that it must wait for the marks, then gets one per
    # segment, each behind its transcript.
    assert kinds[0] is SegmentedSTTMetadataFrame
    assert [k for k in kinds if k is not SegmentedSTTMetadataFrame] == [
        TranscriptionFrame, SegmentTranscribedFrame, TranscriptionFrame, SegmentTranscribedFrame,
    ]  # fmt: skip
