"""When the user has finished a thought: the VAD's stop window and the turn model.

With smart turn (the default) the VAD reports a pause after a short window (0.2 s) and
Pipecat's smart-turn v3 model decides, from the turn's audio, whether the user finished or
only paused mid-sentence; the turn also ends after `SmartTurnParams.stop_secs` of silence
whatever the model says. Without it, Pipecat's speech timeout ends the turn after a fixed
silence (0.2 s VAD stop + 0.6 s), which is what Pipecat does when no turn model is used.

The model's ONNX session is loaded once per runner (in standby, or once per zygote for all
its forked runners); each session gets its own analyzer over it, since the analyzer keeps
the turn's audio. Pipecat's own default would load the model again in every session.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any

import onnxruntime as ort
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import Frame, TranscriptionFrame, VADUserStoppedSpeakingFrame
from pipecat.metrics.metrics import MetricsData, TurnMetricsData
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import (
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from bot.stt.segments import SegmentedSTTMetadataFrame, SegmentTranscribedFrame

_MODEL = "smart-turn-v3.2-cpu.onnx"
SURE = 0.8  # a "complete" verdict at least this probable ends the turn at once


def load_smart_turn_session() -> ort.InferenceSession:
    """The bundled smart-turn v3 model, set up as Pipecat sets it up (one thread, in-line:
    no thread pool is created, so the session may be made before a fork)."""
    path = resources.files("pipecat.audio.turn.smart_turn.data").joinpath(_MODEL)
    options = ort.SessionOptions()
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=options)


class SharedSmartTurn(LocalSmartTurnAnalyzerV3):
    """Pipecat's smart-turn v3 analyzer over a session loaded once per runner."""

    def __init__(self, session: ort.InferenceSession, **kwargs: Any) -> None:
        BaseSmartTurn.__init__(self, **kwargs)  # not V3's: it would load the model again
        self._log_data = False
        self._session = session


class SegmentedTurnStop(TurnAnalyzerUserTurnStopStrategy):  # type: ignore[no-untyped-call]
    """Pipecat's smart-turn stop, made safe for a segmented STT such as Whisper and for the
    model's unsure calls.

    Whisper transcribes each stretch of speech when the VAD stops. When the user pauses
    mid-sentence and goes on, Pipecat's strategy takes whatever transcript it has as the
    turn's: the first stretch's, if it arrives once the sentence has ended (a decode longer
    than the rest of the sentence, as on a loaded host), or as soon as its STT timeout
    (1 s from the end of speech) passes with the second stretch still being decoded. Either
    way the LLM answers half a sentence. With an STT that marks each segment done
    (bot/stt/segments.py), the turn ends only once every stretch the VAD stopped on is
    transcribed. With any STT, a transcript that arrives while the user is speaking is kept
    as text but does not finalize the turn; the next stretch's transcript does.

    The model calls a turn complete above p 0.5, and on a half sentence it is often just
    over ("Could you tell me about the" scores 0.84, "What can you do?" 0.52 in the test
    voice). Pipecat ends the turn as soon as the transcript is in, which a fast STT makes
    about 0.2 s into the pause: too soon for the VAD to have heard the user go on (it needs
    its start window of speech). So a complete verdict under `SURE` waits `unsure_hold_s`
    more of silence first; the user resuming within it keeps the turn open.
    """

    def __init__(self, *, unsure_hold_s: float = 0.4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._unsure_hold_s = unsure_hold_s
        self._unsure = False
        self._hold: asyncio.Task[None] | None = None
        self._segmented = False  # the STT marks each segment done
        self._untranscribed = 0  # segments the VAD stopped on this turn, not yet transcribed

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, SegmentedSTTMetadataFrame):
            self._segmented = True
        elif isinstance(frame, VADUserStoppedSpeakingFrame) and self._segmented:
            self._untranscribed += 1
        elif isinstance(frame, SegmentTranscribedFrame):
            self._untranscribed = max(0, self._untranscribed - 1)
            if not self._untranscribed and not self._vad_user_speaking:
                # Every stretch is in, so the text in hand is the turn's, even if the last
                # stretch had no words of its own.
                self._transcript_finalized = True
            await self._maybe_trigger_user_turn_stopped()
        result: ProcessFrameResult = await super().process_frame(frame)
        return result

    async def _reset(self) -> None:
        self._untranscribed = 0
        await super()._reset()  # type: ignore[no-untyped-call]

    async def _handle_transcription(self, frame: TranscriptionFrame) -> None:
        if frame.finalized and self._vad_user_speaking:
            self._text = frame.text
            return
        await super()._handle_transcription(frame)

    async def _handle_prediction_result(self, result: MetricsData | None) -> None:
        self._unsure = (
            isinstance(result, TurnMetricsData) and result.is_complete and result.probability < SURE
        )
        await super()._handle_prediction_result(result)

    async def _maybe_trigger_user_turn_stopped(self) -> None:
        if self._turn_complete and self._unsure and self._unsure_hold_s > 0:
            # Not complete until the hold is out: every path that would end the turn sees
            # an open one until then.
            self._turn_complete = self._unsure = False
            self._hold = self.task_manager.create_task(self._hold_out(), f"{self}::hold")
            return
        if self._untranscribed:
            return  # the segment's SegmentTranscribedFrame calls again
        await super()._maybe_trigger_user_turn_stopped()  # type: ignore[no-untyped-call]

    async def _hold_out(self) -> None:
        await asyncio.sleep(self._unsure_hold_s)
        self._hold = None
        self._turn_complete = True
        await self._maybe_trigger_user_turn_stopped()

    async def _cancel_hold(self) -> None:
        if self._hold:
            await self.task_manager.cancel_task(self._hold)
            self._hold = None

    async def _discard_pending_end_of_turn(self) -> None:
        self._unsure = False
        await self._cancel_hold()
        await super()._discard_pending_end_of_turn()  # type: ignore[no-untyped-call]

    async def cleanup(self) -> None:
        await self._cancel_hold()
        await super().cleanup()  # type: ignore[no-untyped-call]


class TurnDetection:
    """One runner's turn detection: the VAD's parameters and each session's stop strategy."""

    def __init__(
        self,
        *,
        smart_turn: bool,
        vad_stop_s: float,
        vad_start_s: float = 0.2,
        unsure_hold_s: float = 0.4,
    ) -> None:
        self.smart_turn = smart_turn
        self.unsure_hold_s = unsure_hold_s
        self.vad_params = VADParams(start_secs=vad_start_s, stop_secs=vad_stop_s)
        self._session = load_smart_turn_session() if smart_turn else None

    def strategies(self) -> UserTurnStrategies:
        """A fresh set for one session (strategies and analyzers hold per-turn state)."""
        if self._session is None:
            return UserTurnStrategies(stop=[SpeechTimeoutUserTurnStopStrategy()])
        analyzer = SharedSmartTurn(self._session)
        stop = SegmentedTurnStop(turn_analyzer=analyzer, unsure_hold_s=self.unsure_hold_s)
        return UserTurnStrategies(stop=[stop])
