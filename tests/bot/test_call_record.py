"""The bot's record of its call, fed from Pipecat's own frames and events and from the bus."""

from __future__ import annotations

from pipecat.frames.frames import (
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    MetricsFrame,
    TTSTextFrame,
)
from pipecat.metrics.metrics import (
    LLMTokenUsage,
    LLMUsageMetricsData,
    STTUsage,
    STTUsageMetricsData,
    TTSUsageMetricsData,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.utils.text.base_text_aggregator import TextType

from bot.call_record import CallRecord, feed_call_record
from bot.eventbus import AdminMessageHandled, EventBus, ToolCalled


def _words(text: str) -> list[TTSTextFrame]:
    return [TTSTextFrame(w, text_type=TextType.WORD) for w in text.split()]


async def test_the_bots_lines_are_recorded_as_spoken_and_an_interrupted_one_is_cut() -> None:
    record = CallRecord()
    pair = LLMContextAggregatorPair(LLMContext())
    feed_call_record(record, EventBus(), pair)
    await run_test(
        pair.assistant(),
        frames_to_send=[
            LLMFullResponseStartFrame(),
            *_words("Your note is saved."),
            LLMFullResponseEndFrame(),
            SleepFrame(0.05),
            LLMFullResponseStartFrame(),
            *_words("Let me tell you"),
            SleepFrame(0.05),
            # The user speaks: the rest of the reply is never played.
            InterruptionFrame(),
        ],
        expected_down_frames=None,
    )
    assert [(line.role, line.text, line.interrupted) for line in record.transcript] == [
        ("bot", "Your note is saved.", False),
        ("bot", "Let me tell you", True),
    ]
    first = record.transcript[0]
    assert 0 <= first.start_s <= first.end_s


async def test_tool_calls_keep_private_arguments_out_and_admin_outcomes_in() -> None:
    record, bus = CallRecord(), EventBus()
    feed_call_record(record, bus, LLMContextAggregatorPair(LLMContext()))
    await bus.publish(
        ToolCalled(name="bot_create_note", arguments={"title": "budget"}, result={"id": "n1"},
                   duration_ms=12.5)
    )  # fmt: skip
    await bus.publish(
        ToolCalled(name="bot_login", arguments={"password": "hunter2"},
                   result={"error": "no such account"}, duration_ms=3, private_arguments=True)
    )  # fmt: skip
    await bus.publish(AdminMessageHandled(message_id="m1", type="say"))
    await bus.publish(AdminMessageHandled(message_id="m2", type="fly", refused="unknown type"))
    note, login = record.tool_calls
    assert (note.outcome, note.arguments, note.duration_ms) == ("ok", {"title": "budget"}, 12.5)
    assert (login.outcome, login.error, login.arguments) == ("error", "no such account", None)
    assert "hunter2" not in record.tool_calls[1].model_dump_json()
    assert [(m.id, m.outcome, m.reason) for m in record.admin_messages] == [
        ("m1", "handled", None),
        ("m2", "refused", "unknown type"),
    ]


async def test_usage_is_summed_from_pipecats_usage_metrics() -> None:
    record = CallRecord()
    observer = feed_call_record(record, EventBus(), LLMContextAggregatorPair(LLMContext()))
    frames = [
        MetricsFrame(data=[LLMUsageMetricsData(processor="llm", value=LLMTokenUsage(
            prompt_tokens=100, completion_tokens=7, total_tokens=107))]),
        MetricsFrame(data=[LLMUsageMetricsData(processor="llm", value=LLMTokenUsage(
            prompt_tokens=130, completion_tokens=9, total_tokens=139))]),
        MetricsFrame(data=[STTUsageMetricsData(processor="stt",
                                               value=STTUsage(audio_seconds=1.5))]),
        MetricsFrame(data=[TTSUsageMetricsData(processor="tts", value=31)]),
    ]  # fmt: skip
    for frame in frames:
        for item in frame.data:
            record.add_usage(item)
    assert observer is not None
    assert record.usage.model_dump() == {
        "stt_audio_s": 1.5,
        "llm_prompt_tokens": 230,
        "llm_completion_tokens": 16,
        "tts_characters": 31,
    }


def test_a_turn_collects_its_stages_until_the_bot_answers() -> None:
    record = CallRecord()
    record.stage("tts_first_audio", 0.2)  # the greeting: no user turn yet, not a turn
    record.user_stopped(0.3)
    record.stage("stt", 0.25)
    record.stage("llm_first_token", 0.4)
    record.stage("llm_first_token", 0.9)  # the reply after a tool call: the first one counts
    record.stage("tts_first_audio", 0.1)
    record.answered(1.2)
    record.user_stopped(0.3)
    (first, second) = record.turns
    assert (first.vad_stop_s, first.stt_s, first.llm_first_token_s, first.tts_first_audio_s,
            first.end_of_speech_to_first_audio_s) == (0.3, 0.25, 0.4, 0.1, 1.2)  # fmt: skip
    assert second.index == 1 and second.end_of_speech_to_first_audio_s is None
