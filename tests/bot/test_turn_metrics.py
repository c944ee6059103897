"""The bot's turn metrics as Pipecat's frames produce them: stages classified by the kind of
service that reported them, and interruptions counted only when the user speaks over the bot."""

from __future__ import annotations

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    MetricsFrame,
    UserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import ProcessingMetricsData, TTFBMetricsData
from pipecat.observers.base_observer import FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.tts import OpenAITTSService
from prometheus_client import REGISTRY

from bot.turn_metrics import TurnMetricsObserver


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _push(observer: TurnMetricsObserver, frame: Frame, source: FrameProcessor) -> None:
    await observer.on_push_frame(
        FramePushed(
            source=source,
            destination=FrameProcessor(),
            frame=frame,
            direction=FrameDirection.DOWNSTREAM,
            timestamp=0,
        )
    )


async def test_stage_latencies_come_from_each_kind_of_service() -> None:
    observer = TurnMetricsObserver()
    stages = ("stt", "llm_first_token", "tts_first_audio", "vad_stop")
    before = {s: _count("voicefleet_bot_stage_seconds_count", stage=s) for s in stages}
    for service in (
        DeepgramSTTService(api_key="x"),
        OpenAILLMService(api_key="x"),
        OpenAITTSService(api_key="x"),
    ):
        ttfb = TTFBMetricsData(processor=service.name, value=0.2)
        processing = ProcessingMetricsData(processor=service.name, value=0.3)
        await _push(observer, MetricsFrame(data=[ttfb, processing]), service)
    # A metrics frame from anything else (the transport, an aggregator) is not a stage.
    await _push(
        observer, MetricsFrame(data=[TTFBMetricsData(processor="x", value=1)]), FrameProcessor()
    )
    await _push(observer, VADUserStoppedSpeakingFrame(stop_secs=0.2), FrameProcessor())
    after = {s: _count("voicefleet_bot_stage_seconds_count", stage=s) for s in stages}
    assert {s: after[s] - before[s] for s in stages} == dict.fromkeys(stages, 1.0)


async def test_interruptions_are_the_user_speaking_over_the_bot_only() -> None:
    observer = TurnMetricsObserver()
    source = FrameProcessor()
    before = _count("voicefleet_bot_interruptions_total")
    await _push(observer, UserStartedSpeakingFrame(), source)  # the bot is silent: a turn
    await _push(observer, BotStartedSpeakingFrame(), source)
    await _push(observer, UserStartedSpeakingFrame(), source)  # over the bot: an interruption
    await _push(observer, UserStartedSpeakingFrame(), source)  # the same one, seen again
    await _push(observer, BotStartedSpeakingFrame(), source)
    await _push(observer, BotStoppedSpeakingFrame(), source)
    await _push(observer, UserStartedSpeakingFrame(), source)  # after the bot finished
    assert _count("voicefleet_bot_interruptions_total") - before == 1
