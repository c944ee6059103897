"""Speak a reply's first clause as soon as the LLM has written it.

Pipecat's TTS services wait for a whole sentence before synthesizing, so the first audio of
a reply waits for the LLM to write the first sentence and for the TTS to render all of it.
Here the first aggregation of each reply also ends at its first clause boundary (a comma,
semicolon, colon or dash followed by a space); everything after it is aggregated into
sentences as Pipecat does. The first clause is short to write and short to render, and it
plays while the rest of the sentence is written and rendered.
`benchmarks/turn_latency.py` measures what it buys; `BOT_TTS_FIRST_CLAUSE=0` turns it off.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from pipecat.services.tts_service import TTSService
from pipecat.utils.text.base_text_aggregator import Aggregation, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator

# A clause ends at punctuation followed by a space: "1,000" and "3:30" do not end one.
_CLAUSE_END = re.compile(r"[,;:\u2013\u2014](?=\s)")


class FirstClauseAggregator(SimpleTextAggregator):
    """Pipecat's sentence aggregator, except that a reply's first clause is let go early."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self._first = True

    async def aggregate(self, text: str) -> AsyncIterator[Aggregation]:
        async for aggregation in super().aggregate(text):
            self._first = False
            yield aggregation
        if self._first and (clause := self._first_clause()) is not None:
            self._first = False
            yield clause

    def _first_clause(self) -> Aggregation | None:
        match = _CLAUSE_END.search(self._text)
        if match is None:
            return None
        head, self._text = self._text[: match.end()], self._text[match.end() :]
        return Aggregation(text=head.strip(), type=TextType.SENTENCE)

    async def flush(self) -> Aggregation | None:
        self._first = True  # the reply is over: the next one starts with a clause again
        return await super().flush()

    async def handle_interruption(self) -> None:
        self._first = True
        await super().handle_interruption()  # type: ignore[no-untyped-call]

    async def reset(self) -> None:
        self._first = True
        await super().reset()  # type: ignore[no-untyped-call]


def speak_first_clause_early(service: TTSService) -> TTSService:
    """Give a TTS service the first-clause aggregator in place of Pipecat's own.

    Pipecat 1.14 takes no aggregator in `TTSService.__init__`; the one it makes is replaced
    with one of the same kind, so every other use of it (flush at the reply's end,
    interruptions, language) stays Pipecat's.
    """
    current = service._text_aggregator
    if current.aggregation_type != TextType.SENTENCE:
        return service  # streaming tokens: nothing waits for a sentence
    service._text_aggregator = FirstClauseAggregator(
        aggregation_type=current.aggregation_type, language=current.language
    )
    return service
