"""What the bot saw of its call, collected as it happens for the session report.

The runner owns a `CallRecord` and builds the report from it when the call ends; the bot
only feeds it, from the outside of its processors:

- the transcript from the context aggregators' named events (`on_user_turn_stopped`,
  `on_assistant_turn_stopped`): final text only, and the bot's lines as far as they were
  spoken, since the assistant aggregator sits after the output transport and gets words
  as they are played (an interrupted line stops where the user cut it);
- turn stages and usage from an observer of Pipecat's metrics frames (the same TTFB
  figures `turn_metrics` exports, and Pipecat's own usage metrics);
- tool calls and admin messages from the event bus.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from pipecat.frames.frames import MetricsFrame, VADUserStoppedSpeakingFrame
from pipecat.metrics.metrics import (
    LLMUsageMetricsData,
    STTUsageMetricsData,
    TTFBMetricsData,
    TTSUsageMetricsData,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.aggregators.llm_response_universal import (
    AssistantTurnStoppedMessage,
    LLMContextAggregatorPair,
    UserTurnStoppedMessage,
)

from bot.eventbus import AdminMessageHandled, EventBus, ToolCalled
from bot.turn_metrics import stage_of
from voicefleet.reports import (
    AdminMessageRecord,
    ToolCallRecord,
    TranscriptLine,
    TurnFigures,
    Usage,
)

# Longer argument strings are cut in records (an applet's HTML is the tool's business).
ARGUMENT_TEXT_MAX = 200
_STAGE_FIELDS = {
    "stt": "stt_s",
    "llm_first_token": "llm_first_token_s",
    "tts_first_audio": "tts_first_audio_s",
}


class CallRecord:
    """One call's transcript, turns, tool calls, admin messages and usage. Times are seconds
    since `started_at` (wall clock, so that Pipecat's ISO timestamps line up)."""

    def __init__(self, started_at: float | None = None) -> None:
        self.started_at = started_at if started_at is not None else time.time()
        self.transcript: list[TranscriptLine] = []
        self.turns: list[TurnFigures] = []
        self.tool_calls: list[ToolCallRecord] = []
        self.admin_messages: list[AdminMessageRecord] = []
        self.usage = Usage()
        self._open_turn: TurnFigures | None = None

    def since_start(self, at: float | None = None) -> float:
        return round(max((time.time() if at is None else at) - self.started_at, 0.0), 3)

    # Transcript --------------------------------------------------------------------------

    def add_line(self, role: str, text: str, started: str, *, interrupted: bool = False) -> None:
        text = text.strip()
        if not text:
            return
        end = self.since_start()
        start = min(self.since_start(_epoch(started)), end)
        line = TranscriptLine.model_validate(
            {"role": role, "text": text, "start_s": start, "end_s": end, "interrupted": interrupted}
        )
        self.transcript.append(line)

    # Turns -------------------------------------------------------------------------------

    def user_stopped(self, vad_stop_s: float) -> None:
        """The VAD decided the user stopped: a turn opens (or, if the bot has not answered
        yet, the open one moves to this later stop)."""
        at = self.since_start()
        if self._open_turn is None:
            self._open_turn = TurnFigures(index=len(self.turns), at_s=at)
            self.turns.append(self._open_turn)
        self._open_turn.at_s = at
        self._open_turn.vad_stop_s = round(vad_stop_s, 3)

    def stage(self, stage: str, seconds: float) -> None:
        field = _STAGE_FIELDS.get(stage)
        turn = self._open_turn
        if field is not None and turn is not None and getattr(turn, field) is None:
            setattr(turn, field, round(seconds, 3))

    def answered(self, latency_s: float) -> None:
        """The bot's first audio after the user's speech: the open turn is complete."""
        if self._open_turn is not None:
            self._open_turn.end_of_speech_to_first_audio_s = round(latency_s, 3)
            self._open_turn = None

    # Tools, admin messages -------------------------------------------------------------

    async def tool_called(self, event: ToolCalled) -> None:
        error = event.result.get("error") if isinstance(event.result, dict) else None
        self.tool_calls.append(
            ToolCallRecord(
                name=event.name,
                at_s=self.since_start() - round(event.duration_ms / 1000, 3),
                duration_ms=round(event.duration_ms, 1),
                outcome="error" if error else "ok",
                error=str(error) if error else None,
                arguments=None if event.private_arguments else _shown(event.arguments),
            )
        )

    async def admin_handled(self, event: AdminMessageHandled) -> None:
        self.admin_messages.append(
            AdminMessageRecord(
                id=event.message_id,
                type=event.type,
                at_s=self.since_start(),
                outcome="refused" if event.refused else "handled",
                reason=event.refused,
            )
        )

    # Usage -------------------------------------------------------------------------------

    def add_usage(self, item: Any) -> None:
        usage = self.usage
        if isinstance(item, LLMUsageMetricsData):
            usage.llm_prompt_tokens += item.value.prompt_tokens
            usage.llm_completion_tokens += item.value.completion_tokens
        elif isinstance(item, STTUsageMetricsData):
            usage.stt_audio_s = round(usage.stt_audio_s + item.value.audio_seconds, 3)
        elif isinstance(item, TTSUsageMetricsData):
            usage.tts_characters += item.value


def _epoch(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _shown(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v[:ARGUMENT_TEXT_MAX] + "…" if isinstance(v, str) and len(v) > ARGUMENT_TEXT_MAX else v
        for k, v in arguments.items()
    }


class CallRecordObserver(BaseObserver):
    """Stage figures and usage from the metrics frames Pipecat's services emit."""

    def __init__(self, record: CallRecord) -> None:
        super().__init__(observe_every_push=False)
        self._record = record

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._record.user_stopped(frame.stop_secs)
        elif isinstance(frame, MetricsFrame):
            stage = stage_of(data.source)
            for item in frame.data:
                if isinstance(item, TTFBMetricsData) and stage is not None and item.value > 0:
                    self._record.stage(stage, item.value)
                else:
                    self._record.add_usage(item)


def feed_call_record(
    record: CallRecord, bus: EventBus, aggregators: LLMContextAggregatorPair
) -> CallRecordObserver:
    """Subscribe the record to the bus and the aggregators' turn events; returns the
    observer to add to the pipeline worker."""
    bus.subscribe(ToolCalled, record.tool_called)
    bus.subscribe(AdminMessageHandled, record.admin_handled)

    async def user_turn(_aggregator: Any, _strategy: Any, message: UserTurnStoppedMessage) -> None:
        record.add_line("user", message.content or "", message.timestamp)

    async def bot_turn(_aggregator: Any, message: AssistantTurnStoppedMessage) -> None:
        record.add_line("bot", message.content, message.timestamp, interrupted=message.interrupted)

    aggregators.user().add_event_handler("on_user_turn_stopped", user_turn)
    aggregators.assistant().add_event_handler("on_assistant_turn_stopped", bot_turn)
    return CallRecordObserver(record)
