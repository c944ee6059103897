"""Per-turn latencies, interruptions and the first audio of a call, as Prometheus metrics.

A Pipecat observer sees every frame without being in the pipeline, so nothing here can slow
or reorder a frame. Stage figures are Pipecat's own (the metrics frames its services emit,
the same ones sent to clients over RTVI), classified by the kind of service that sent them:

- `stt`: an STT service's time to first byte, from the end of speech to the final transcript
  (every Pipecat STT reports it, streaming or not, so Whisper and Deepgram compare);
- `llm_first_token` and `tts_first_audio`: the LLM's and the TTS's time to first byte;
- `vad_stop`: the silence the VAD waited for before deciding the user had stopped;
- `turn`: end of the user's speech to the bot's first audio, from Pipecat's
  `UserBotLatencyObserver`, the figure a caller feels.
"""

from __future__ import annotations

from collections.abc import Callable

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    MetricsFrame,
    UserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from voicefleet.observability.metrics import INTERRUPTIONS, STAGE_LATENCY


def stage_of(source: FrameProcessor) -> str | None:
    if isinstance(source, STTService):
        return "stt"
    if isinstance(source, LLMService):
        return "llm_first_token"
    if isinstance(source, TTSService):
        return "tts_first_audio"
    return None


class TurnMetricsObserver(BaseObserver):
    """Stage latencies from metrics frames, and interruptions (the user starting to speak while
    the bot speaks: Pipecat's turn tracker also ends a turn as "interrupted" when the call
    ends, which is no interruption). The runner's first-audio moment is `BotHooks`'."""

    def __init__(self) -> None:
        super().__init__(observe_every_push=False)
        self._bot_speaking = False

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        if isinstance(frame, MetricsFrame):
            stage = stage_of(data.source)
            if stage is None:
                return
            for item in frame.data:
                if isinstance(item, TTFBMetricsData) and item.value > 0:
                    STAGE_LATENCY.labels(stage=stage).observe(item.value)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            STAGE_LATENCY.labels(stage="vad_stop").observe(frame.stop_secs)
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        elif isinstance(frame, UserStartedSpeakingFrame) and self._bot_speaking:
            self._bot_speaking = False
            INTERRUPTIONS.inc()


def turn_latency_observer(
    on_latency: Callable[[float], None] | None = None,
) -> UserBotLatencyObserver:
    """Pipecat's own end-of-speech to first-bot-audio measurement, exported as `turn` (and
    handed to `on_latency`: the session report's turn closes on it)."""
    observer = UserBotLatencyObserver()

    async def measured(_observer: UserBotLatencyObserver, latency_s: float) -> None:
        STAGE_LATENCY.labels(stage="turn").observe(latency_s)
        if on_latency is not None:
            on_latency(latency_s)

    observer.add_event_handler("on_latency_measured", measured)

    return observer
