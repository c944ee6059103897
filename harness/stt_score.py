"""How well an STT heard the corpus: word error rate, and whether each command's name came
through as said (the one word a tool cannot do without: "budget" heard as "Mergit" makes a
note nobody asked for, at no cost to the WER of the sentence around it)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import jiwer

from harness.stt_corpus import Utterance


def normalize(text: str) -> str:
    """Lower-case words, punctuation dropped, so "Budget." and "budget" are one word."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("-", " ")))


@dataclass(frozen=True)
class Heard:
    utterance: Utterance
    condition: str
    text: str  # every segment's transcript, in order, joined

    @property
    def name_heard(self) -> bool | None:
        """Whether the command's name is one of the words heard; None: no name to hear."""
        if self.utterance.name is None:
            return None
        return self.utterance.name in normalize(self.text).split()


@dataclass
class Score:
    heard: list[Heard] = field(default_factory=list)

    def add(self, heard: Heard) -> None:
        self.heard.append(heard)

    def wer(self) -> float:
        return self.wer_of(lambda _: True)

    def wer_of(self, which: Callable[[Heard], bool]) -> float:
        chosen = [h for h in self.heard if which(h)]
        if not chosen:
            return float("nan")
        references = [normalize(h.utterance.text) for h in chosen]
        hypotheses = [normalize(h.text) for h in chosen]
        return float(jiwer.wer(references, hypotheses))

    def names(self) -> tuple[int, int]:
        """(names heard, commands with a name)."""
        named = [h.name_heard for h in self.heard if h.name_heard is not None]
        return sum(named), len(named)

    def names_by_kind(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for h in self.heard:
            if h.name_heard is not None:
                counts[h.utterance.kind][0] += int(h.name_heard)
                counts[h.utterance.kind][1] += 1
        return {kind: (right, total) for kind, (right, total) in counts.items()}

    def misheard_names(self) -> list[Heard]:
        return [h for h in self.heard if h.name_heard is False]
