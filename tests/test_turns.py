"""Turn detection: smart turn over the runner's one model session, and the switch to turn it off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.turns.user_stop import (
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)

from bot.config import BotSettings
from bot.turn import SegmentedTurnStop, SharedSmartTurn, TurnDetection
from tests.support.speech import make_wav, pcm_16k

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
