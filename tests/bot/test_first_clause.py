"""A reply's first clause is spoken before the LLM has finished its first sentence."""

from __future__ import annotations

from pipecat.frames.frames import (
    AggregatedTextFrame,
    Frame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from bot.tts.first_clause import FirstClauseAggregator, speak_first_clause_early
from bot.tts.piper import PiperProvider


def reply(*tokens: str) -> list[Frame]:
    return [
        LLMFullResponseStartFrame(),
        *(LLMTextFrame(t) for t in tokens),
        LLMFullResponseEndFrame(),
    ]


async def spoken(first_clause: bool, frames: list[Frame]) -> tuple[list[str], int]:
    """What the Piper service synthesized, chunk by chunk, and how many audio frames."""
    service = PiperProvider("en_US-joe-medium").service()
    if first_clause:
        speak_first_clause_early(service)
    down, _ = await run_test(service, frames_to_send=[*frames, SleepFrame(1)])
    chunks = [f.text for f in down if type(f) is AggregatedTextFrame]
    assert chunks == [f.text for f in down if isinstance(f, TTSTextFrame)]  # each was spoken
    return chunks, sum(isinstance(f, TTSAudioRawFrame) for f in down)


async def test_each_reply_speaks_its_first_clause_then_whole_sentences() -> None:
    tokens = ("Sure", ",", " I", " can", " help", ",", " gladly", ".", " Ask", " away", ".")
    chunks, audio = await spoken(True, reply(*tokens) + reply("Well", ",", " hello", "."))
    assert chunks == ["Sure,", "I can help, gladly.", "Ask away.", "Well,", "hello."]
    assert audio > 0


async def test_off_it_is_pipecats_sentence_aggregation() -> None:
    chunks, _ = await spoken(False, reply("Sure", ",", " I", " can", " help", "."))
    assert chunks == ["Sure, I can help."]


async def test_numbers_and_times_are_not_clauses() -> None:
    aggregator = FirstClauseAggregator()
    for token in ("It", " is", " 3", ":", "30", " or", " 1", ",", "000"):
        assert [a.text async for a in aggregator.aggregate(token)] == []
    rest = await aggregator.flush()
    assert rest is not None and rest.text == "It is 3:30 or 1,000"
