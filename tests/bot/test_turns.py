"""Turn detection: smart turn over the runner's one model session, and the switch to turn it off."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer, BaseTurnParams, EndOfTurnState
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import (
    STTMetadataFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import MetricsData, TurnMetricsData
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.turns.user_stop import (
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)
from pipecat.utils.asyncio.task_manager import TaskManager, TaskManagerParams

from bot.config import BotSettings
from bot.stt.segments import SegmentedSTTMetadataFrame, SegmentTranscribedFrame
from bot.turn import SegmentedTurnStop, SharedSmartTurn, TurnDetection
from harness.speech import make_wav, pcm_16k

_FRAME = 320  # 20 ms at 16 kHz


@pytest.fixture(scope="module")
def turns() -> TurnDetection:
    return TurnDetection(smart_turn=True, vad_stop_s=0.2)


async def verdict(analyzer: SharedSmartTurn, wav: Path) -> EndOfTurnState:
    """What the analyzer says once the VAD reports a pause after `wav`'s speech."""
    pcm = np.frombuffer(pcm_16k(wav), dtype=np.int16)
    analyzer.set_sample_rate(16000)
    for i in range(0, len(pcm), _FRAME):
        analyzer.append_audio(pcm[i : i + _FRAME].tobytes(), True)
    for _ in range(10):  # the VAD's 0.2 s stop window
        analyzer.append_audio(bytes(_FRAME * 2), False)
    state, _ = await analyzer.analyze_end_of_turn()
    return state


async def test_smart_turn_tells_a_finished_question_from_a_pause_mid_sentence(
    turns: TurnDetection, tmp_path: Path
) -> None:
    strategies = turns.strategies()
    assert strategies.stop is not None
    (stop,) = strategies.stop
    assert isinstance(stop, SegmentedTurnStop)
    # Phrases the model is sure of in this voice (p 0.97 and 0.02); borderline ones, such as
    # "What can you do?" at 0.52, could flip on another CPU's floating point.
    finished = make_wav("What time is it?", tmp_path / "done.wav", pad_s=0)
    paused = make_wav("I was wondering if you could", tmp_path / "half.wav", pad_s=0)
    assert await verdict(SharedSmartTurn(turns._session), finished) is EndOfTurnState.COMPLETE  # type: ignore[arg-type]
    assert await verdict(SharedSmartTurn(turns._session), paused) is EndOfTurnState.INCOMPLETE  # type: ignore[arg-type]


def test_sessions_share_the_model_but_not_the_turn_state(turns: TurnDetection) -> None:
    one, two = (turns.strategies().stop or [None])[0], (turns.strategies().stop or [None])[0]
    assert isinstance(one, TurnAnalyzerUserTurnStopStrategy)
    assert isinstance(two, TurnAnalyzerUserTurnStopStrategy)
    assert one._turn_analyzer is not two._turn_analyzer
    assert one._turn_analyzer._session is two._turn_analyzer._session  # type: ignore[attr-defined]


def test_smart_turn_is_on_by_default_and_a_setting_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert BotSettings().smart_turn is True
    monkeypatch.setenv("BOT_SMART_TURN", "0")
    settings = BotSettings()
    off = TurnDetection(smart_turn=settings.smart_turn, vad_stop_s=settings.vad_stop_s)
    assert off.vad_params.stop_secs == 0.2
    stops = off.strategies().stop
    assert stops is not None and len(stops) == 1
    assert isinstance(stops[0], SpeechTimeoutUserTurnStopStrategy)


class ModelThatSays(BaseTurnAnalyzer):
    """A turn model with a fixed verdict, to put the stop strategy through each case."""

    def __init__(self, probability: float) -> None:
        super().__init__(sample_rate=16000)
        self.probability = probability

    @property
    def speech_triggered(self) -> bool:
        return True

    @property
    def params(self) -> BaseTurnParams:
        return BaseTurnParams()

    def append_audio(self, buffer: bytes, is_speech: bool) -> EndOfTurnState:
        return EndOfTurnState.INCOMPLETE

    async def analyze_end_of_turn(self) -> tuple[EndOfTurnState, MetricsData | None]:
        state = EndOfTurnState.COMPLETE if self.probability > 0.5 else EndOfTurnState.INCOMPLETE
        verdict = TurnMetricsData(
            processor="test",
            is_complete=state is EndOfTurnState.COMPLETE,
            probability=self.probability,
            e2e_processing_time_ms=0,
        )
        return state, verdict

    def clear(self) -> None:
        pass


class Turn:
    """One user turn through a `SegmentedTurnStop`: speech, a pause, its transcript."""

    def __init__(self, stop: SegmentedTurnStop) -> None:
        self.stop = stop
        self.ended = asyncio.Event()

        @stop.event_handler("on_user_turn_stopped")
        async def on_stopped(_strategy: object, _params: object) -> None:
            self.ended.set()

    @classmethod
    async def over(
        cls, probability: float, hold_s: float = 0.2, *, segmented: bool = False, stt_s: float = 1
    ) -> Turn:
        """A turn over an STT that marks its segments done (Whisper's) or not (Deepgram's);
        `stt_s` is the STT's p99 time to transcript, Pipecat's timeout for it."""
        stop = SegmentedTurnStop(turn_analyzer=ModelThatSays(probability), unsure_hold_s=hold_s)
        tasks = TaskManager()
        tasks.setup(TaskManagerParams(loop=asyncio.get_running_loop()))
        setup = FrameProcessorSetup(clock=SystemClock(), task_manager=tasks, pipeline_worker=None)  # type: ignore[arg-type]
        await stop.setup(setup)
        metadata = SegmentedSTTMetadataFrame if segmented else STTMetadataFrame
        await stop.process_frame(metadata(service_name="stt", ttfs_p99_latency=stt_s))
        turn = cls(stop)
        await stop.process_frame(VADUserStartedSpeakingFrame())
        return turn

    async def pause(self, transcript: str) -> None:
        await self.stop.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
        await self.transcribed(transcript)

    async def transcribed(self, transcript: str) -> None:
        text = TranscriptionFrame(text=transcript, user_id="u", timestamp="", finalized=True)
        await self.stop.process_frame(text)

    async def ends(self) -> bool:
        try:
            await asyncio.wait_for(self.ended.wait(), 3)
        except TimeoutError:
            return False
        return True


async def test_a_sure_verdict_ends_the_turn_on_its_transcript() -> None:
    turn = await Turn.over(probability=0.95, hold_s=60)
    await turn.pause("What time is it?")
    assert turn.ended.is_set()


async def test_an_unsure_verdict_waits_for_more_silence_before_the_turn_ends() -> None:
    turn = await Turn.over(probability=0.6)
    await turn.pause("What can you do?")
    assert not turn.ended.is_set()
    assert await turn.ends()


async def test_going_on_within_the_hold_keeps_the_turn_open() -> None:
    turn = await Turn.over(probability=0.6)
    await turn.pause("Could you tell me about")
    await turn.stop.process_frame(VADUserStartedSpeakingFrame())
    assert not await turn.ends()
    await turn.pause("Could you tell me about the weather in Paris tomorrow?")
    assert await turn.ends()
    assert turn.stop._text == "Could you tell me about the weather in Paris tomorrow?"


async def test_a_turn_ends_on_its_last_stretch_not_on_a_late_transcript_of_the_first() -> None:
    # A loaded host: the first half's decode outlasts the second half of the sentence.
    turn = await Turn.over(probability=0.95, segmented=True)
    stop = turn.stop
    await stop.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))  # "Could you tell me"
    await stop.process_frame(VADUserStartedSpeakingFrame())
    await stop.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))  # "about the weather?"
    await turn.transcribed("Could you tell me")
    await stop.process_frame(SegmentTranscribedFrame())
    assert not turn.ended.is_set()
    await turn.transcribed("about the weather?")
    assert not turn.ended.is_set()  # the frame that says the segment is done is behind it
    await stop.process_frame(SegmentTranscribedFrame())
    assert turn.ended.is_set()


async def test_pipecats_stt_timeout_does_not_end_a_turn_on_an_earlier_stretchs_text() -> None:
    turn = await Turn.over(probability=0.95, segmented=True, stt_s=0.3)
    stop = turn.stop
    await stop.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await stop.process_frame(VADUserStartedSpeakingFrame())
    await turn.transcribed("Could you tell me")  # while the user speaks on
    await stop.process_frame(SegmentTranscribedFrame())
    await stop.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
    assert not await turn.ends()  # the timeout is long gone; the second stretch is not in
    await turn.transcribed("about the weather?")
    await stop.process_frame(SegmentTranscribedFrame())
    assert turn.ended.is_set()
    assert stop._text == "about the weather?"


async def test_a_stretch_with_no_words_does_not_hold_the_turn_open() -> None:
    turn = await Turn.over(probability=0.95, segmented=True)
    await turn.pause("What time is it?")
    await turn.stop.process_frame(VADUserStartedSpeakingFrame())  # a cough
    await turn.stop.process_frame(SegmentTranscribedFrame())
    await turn.stop.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
    assert not turn.ended.is_set()
    await turn.stop.process_frame(SegmentTranscribedFrame())  # Whisper heard no words
    assert turn.ended.is_set()
