"""A clip streamed through the bot's own ear: the session's VAD and the configured STT service,
as `bot.stt.selection` makes them for a call, in a real Pipecat pipeline.

The audio goes in as a transport delivers it (20 ms frames), with silence before and after
it, so the STT transcribes the segments the VAD cuts (with the STT's own pre-roll and
trailing padding), not a whole file. Frames are sent as fast as the pipeline takes them: a
VAD counts frames, not seconds, so the cut is the one a live call gets; the decode times
(Pipecat's processing metric per segment) are the STT's, on whatever else this CPU is doing.

That feed (`stream`) puts the VAD before the STT, so the STT never reads ahead of it. In a
call the STT comes first and the VAD (in the user aggregator) sends its frames back up to it;
a phone call's media, relayed through the gateway and Redis, comes in bursts, and the STT
reads a burst while the VAD is still on its start. The `burst` feed is that: the STT, then
the VAD, and the clip delivered in bursts of `burst_s` of audio at once, each followed by as
long a wait (by default the whole clip in one), then silence in real time while the VAD
catches up (bot/stt/preroll.py cuts the segments on the audio's clock for this).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipecat.frames.frames import Frame, InputAudioRawFrame, MetricsFrame, TranscriptionFrame
from pipecat.metrics.metrics import ProcessingMetricsData
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.tests.utils import SleepFrame, run_test

from bot.stt.selection import STTFactory
from bot.vad import PauseAwareVAD, SpareVAD
from harness.stt_corpus import RATE

FRAME_MS = 20
LEAD_S = 0.5  # silence before the words, as after a greeting
TAIL_S = 1.2  # silence after: the VAD's stop window closes and the segment goes to the STT
CATCH_UP_S = 2.0  # after a burst, silence in real time: the VAD's frames reach the STT

Feed = Literal["stream", "burst"]


@dataclass
class Transcribed:
    texts: list[str] = field(default_factory=list)  # one per segment with words
    decode_s: list[float] = field(default_factory=list)  # Pipecat's STT processing metric

    @property
    def text(self) -> str:
        return " ".join(t.strip() for t in self.texts)


def _frames(pcm: bytes) -> list[InputAudioRawFrame]:
    lead = bytes(int(RATE * LEAD_S) * 2)
    tail = bytes(int(RATE * TAIL_S) * 2)
    audio = lead + pcm + tail
    step = RATE * 2 * FRAME_MS // 1000
    return [
        InputAudioRawFrame(audio=audio[i : i + step], sample_rate=RATE, num_channels=1)
        for i in range(0, len(audio) - step + 1, step)
    ]


def _caught_up() -> list[Frame]:
    silence = bytes(RATE * 2 * FRAME_MS // 1000)
    paced: list[Frame] = []
    for _ in range(int(CATCH_UP_S * 1000) // FRAME_MS):
        paced += [
            InputAudioRawFrame(audio=silence, sample_rate=RATE, num_channels=1),
            SleepFrame(FRAME_MS / 1000),
        ]
    return paced


def _in_bursts(frames: list[InputAudioRawFrame], burst_s: float) -> list[Frame]:
    if burst_s <= 0:
        return [*frames]
    per_burst = max(1, round(burst_s * 1000 / FRAME_MS))
    bursts: list[Frame] = []
    for i in range(0, len(frames), per_burst):
        bursts += [*frames[i : i + per_burst], SleepFrame(burst_s)]
    return bursts


async def transcribe(
    pcm: bytes, stt: STTFactory, vads: SpareVAD, feed: Feed = "stream", burst_s: float = 0.0
) -> Transcribed:
    """`pcm` (16 kHz mono) through a fresh session's VAD and STT, as one call would hear it."""
    vad: PauseAwareVAD = vads.take()
    await vads.refill()
    if feed == "stream":
        pipeline = Pipeline([VADProcessor(vad_analyzer=vad), stt(vad)])
        frames: list[Frame] = [*_frames(pcm)]
    else:  # the call's order: the VAD's frames go back up to the STT
        pipeline = Pipeline([stt(vad), VADProcessor(vad_analyzer=vad)])
        frames = [*_in_bursts(_frames(pcm), burst_s), *_caught_up()]
    down, _ = await run_test(
        pipeline,
        frames_to_send=frames,
        pipeline_params=PipelineParams(audio_in_sample_rate=RATE, enable_metrics=True),
        start_timeout=10.0,
    )
    result = Transcribed()
    for frame in down:
        if isinstance(frame, TranscriptionFrame):
            result.texts.append(frame.text)
        elif isinstance(frame, MetricsFrame):
            for data in frame.data:
                if (
                    isinstance(data, ProcessingMetricsData)
                    and "STT" in data.processor
                    and data.value > 0  # Pipecat also reports a 0 at the start
                ):
                    result.decode_s.append(data.value)
    return result
