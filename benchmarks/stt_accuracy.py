"""What each offline STT hears: word error rate and command names, with its decode time.

    .venv/bin/python benchmarks/stt_accuracy.py [--per-utterance 2] [--stt NAME ...]
        [--feed stream|burst [--burst-s S]]

The corpus (harness/stt_corpus.py: 48 utterances, tool commands with names, questions and
small talk) is spoken at run time by Piper and espeak-ng voices, with sox tempo, pitch and
noise variants, each utterance in `--per-utterance` of them. Every clip is streamed through a
fresh session's VAD and STT as the bot makes them (harness/stt_stream.py), so each STT
transcribes the segments the VAD cuts, not whole files. The STTs take turns clip by clip, so
machine noise falls on all of them alike. `--feed burst` puts the STT before the VAD, as in
a call, and delivers each clip at once (or in bursts of `--burst-s` seconds of audio, each
followed by as long a wait), as a phone call's relayed media can reach the pipeline;
`stream` (the default) lets the VAD go first.

- pipecat whisper: Pipecat's `WhisperSTTService` decoding (beam 5, timestamps), the peer;
- whisper greedy: `BOT_WHISPER_FAST=1` (greedy, no timestamps, no fallback);
- moonshine: `BOT_STT_PROVIDER=moonshine` (tiny-en from moonshine-voice's wheel).

It prints, per STT, the WER (all, commands, questions and small talk), how many commands'
names were heard as said (per kind of command), and the decode time per segment (Pipecat's
STT processing metric, p50/p95); `-v` lists each misheard name. A default may not be worse
than the peer on WER or names.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loguru import logger  # noqa: E402
from pipecat.audio.vad.vad_analyzer import VADParams  # noqa: E402

from benchmarks.launch_latency import pct  # noqa: E402
from bot.config import BotSettings  # noqa: E402
from bot.stt.selection import STTFactory, select_stt  # noqa: E402
from bot.vad import SpareVAD  # noqa: E402
from harness.stt_corpus import Clip, corpus, missing_tools  # noqa: E402
from harness.stt_score import Heard, Score  # noqa: E402
from harness.stt_stream import Feed, transcribe  # noqa: E402

CONFIGS: dict[str, dict[str, Any]] = {
    "pipecat whisper": {"stt_provider": "whisper", "whisper_fast": False},
    "whisper greedy": {"stt_provider": "whisper", "whisper_fast": True},
    "moonshine": {"stt_provider": "moonshine"},
}
PEER = "pipecat whisper"


@dataclass
class Result:
    score: Score = field(default_factory=Score)
    decode_ms: list[float] = field(default_factory=list)


def settings_for(overrides: dict[str, Any]) -> BotSettings:
    return BotSettings.model_validate({"DEEPGRAM_API_KEY": None, **overrides})


async def run(
    clips: Sequence[Clip],
    stts: dict[str, STTFactory],
    vads: SpareVAD,
    feed: Feed,
    burst_s: float,
) -> dict[str, Result]:
    results = {name: Result() for name in stts}
    names = list(stts)
    for i, clip in enumerate(clips):
        for name in names if i % 2 == 0 else names[::-1]:
            heard = await transcribe(clip.pcm, stts[name], vads, feed, burst_s)
            results[name].score.add(Heard(clip.utterance, clip.condition, heard.text))
            results[name].decode_ms += [s * 1000 for s in heard.decode_s]
        if (i + 1) % 10 == 0:
            print(f"{i + 1}/{len(clips)} clips", flush=True)
    return results


def report(results: dict[str, Result], verbose: bool) -> None:
    kinds = sorted({k for r in results.values() for k in r.score.names_by_kind()})
    print(
        f"\n{'STT':<18}{'WER':>7}{'cmds':>7}{'talk':>7}{'names':>9}"
        + "".join(f"{k:>10}" for k in kinds)
        + f"{'decode p50':>12}{'p95':>7}"
    )
    for name, result in results.items():
        score = result.score
        commands = score.wer_of(lambda h: h.utterance.name is not None)
        talk = score.wer_of(lambda h: h.utterance.name is None)
        right, total = score.names()
        by_kind = score.names_by_kind()
        ms = result.decode_ms
        print(
            f"{name:<18}{score.wer():7.3f}{commands:7.3f}{talk:7.3f}{f'{right}/{total}':>9}"
            + "".join(f"{'{}/{}'.format(*by_kind.get(k, (0, 0))):>10}" for k in kinds)
            + (f"{statistics.median(ms):12.0f}{pct(ms, 0.95):7.0f}" if ms else "")
        )
    peer = results.get(PEER)
    if peer is not None:
        for name, result in results.items():
            if name == PEER:
                continue
            worse = []
            if result.score.wer() > peer.score.wer():
                worse.append("WER")
            if result.score.names()[0] < peer.score.names()[0]:
                worse.append("names")
            ratio = statistics.median(result.decode_ms) / statistics.median(peer.decode_ms)
            verdict = f"worse than {PEER} on {' and '.join(worse)}" if worse else "holds accuracy"
            print(f"{name}: {verdict}; decode x{ratio:.2f} of {PEER} (p50)")
    if verbose:
        for name, result in results.items():
            for heard in result.score.misheard_names():
                print(
                    f"  {name}: {heard.utterance.name!r} [{heard.condition}] heard {heard.text!r}"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-utterance", type=int, default=2, help="conditions per utterance")
    parser.add_argument("--stt", action="append", choices=list(CONFIGS), help="default: all")
    parser.add_argument("--limit", type=int, default=0, help="only the first N utterances")
    parser.add_argument("-v", action="store_true", help="list each misheard name")
    parser.add_argument(
        "--feed", choices=["stream", "burst"], default="stream", help="harness/stt_stream.py"
    )
    parser.add_argument("--burst-s", type=float, default=0.0, help="0: each clip in one burst")
    args = parser.parse_args()
    if missing := missing_tools():
        print(f"missing: {', '.join(missing)} (apt-get install {' '.join(missing)})")
        return 2
    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    started = time.perf_counter()
    clips = list(corpus(args.per_utterance))
    if args.limit:
        clips = clips[: args.limit * args.per_utterance]
    print(f"{len(clips)} clips spoken in {time.perf_counter() - started:.0f} s", flush=True)
    chosen = args.stt or list(CONFIGS)
    stts = {name: select_stt(settings_for(CONFIGS[name]))[1] for name in chosen}
    defaults = BotSettings.model_validate({})
    vads = SpareVAD(
        VADParams(start_secs=defaults.vad_start_s, stop_secs=defaults.vad_stop_s),
        defaults.vad_volume_smoothing,
    )
    results = asyncio.run(run(clips, stts, vads, args.feed, args.burst_s))
    report(results, args.v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
