"""The three places the bot reaches into Pipecat's internals still find what they replace.

Pipecat is pinned below 1.15, but each of these patches would break silently on an upgrade
(a renamed private attribute is simply set beside the real one): each test names the patch
and asserts the attribute it replaces is there with the shape the patch expects.
"""

from __future__ import annotations

import inspect
from typing import Any

from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.frames.frames import OutputAudioRawFrame
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.daily.transport import DailyOutputTransport
from pipecat.transports.smallwebrtc.transport import SmallWebRTCOutputTransport
from pipecat.utils.text.base_text_aggregator import BaseTextAggregator, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator

from bot.tts.first_clause import FirstClauseAggregator, speak_first_clause_early
from bot.tts.piper import PiperProvider
from bot.turn import SharedSmartTurn, load_smart_turn_session


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_barge_in_replaces_the_output_transports_write_audio_frame() -> None:
    """bot/barge_in.py sets `output.write_audio_frame` on the transport's output: each
    transport we run writes a frame through that one coroutine, and Pipecat's media sender
    looks it up on the instance, so the replacement is what runs."""
    for transport in (BaseOutputTransport, SmallWebRTCOutputTransport, DailyOutputTransport):
        write = transport.write_audio_frame
        assert inspect.iscoroutinefunction(write), transport
        assert _parameters(write) == ["self", "frame"], transport
        hints = inspect.get_annotations(write, eval_str=True)
        assert hints == {"frame": OutputAudioRawFrame, "return": bool}, transport
    sender = inspect.getsource(BaseOutputTransport)
    assert "self._transport.write_audio_frame(frame)" in sender


def test_first_clause_swaps_the_tts_services_private_text_aggregator() -> None:
    """bot/tts/first_clause.py replaces `TTSService._text_aggregator` with an aggregator of the
    same kind, built from the old one's `aggregation_type` and `language`, and splits the
    text SimpleTextAggregator holds in `_text`."""
    service = PiperProvider("en_US-joe-medium").service()
    assert isinstance(service, TTSService)
    current = service._text_aggregator
    assert type(current) is SimpleTextAggregator
    assert isinstance(current.aggregation_type, TextType)
    assert isinstance(current.language, str)
    init = inspect.signature(BaseTextAggregator.__init__).parameters
    assert {"aggregation_type", "language"} <= init.keys()
    assert inspect.isasyncgenfunction(SimpleTextAggregator.aggregate)
    for method in ("flush", "handle_interruption", "reset"):
        assert inspect.iscoroutinefunction(getattr(SimpleTextAggregator, method)), method
    assert speak_first_clause_early(service) is service
    replaced = service._text_aggregator
    assert isinstance(replaced, FirstClauseAggregator)
    assert (replaced.aggregation_type, replaced.language) == (
        current.aggregation_type,
        current.language,
    )
    assert replaced._text == ""  # the buffer _first_clause() splits


def test_turn_skips_the_v3_analyzers_init_and_sets_what_it_would() -> None:
    """bot/turn.py's SharedSmartTurn runs BaseSmartTurn.__init__ instead of V3's (which loads
    the model again) and sets V3's own attributes itself: V3 must still sit directly on
    BaseSmartTurn and set nothing SharedSmartTurn does not."""
    assert LocalSmartTurnAnalyzerV3.__bases__ == (BaseSmartTurn,)
    v3 = LocalSmartTurnAnalyzerV3()
    shared = SharedSmartTurn(load_smart_turn_session())
    assert sorted(vars(shared)) == sorted(vars(v3))
    assert type(shared._session) is type(v3._session)
