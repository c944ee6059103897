"""Per-turn latency with the offline providers, through the whole local stack.

    .venv/bin/python benchmarks/turn_latency.py [--turns 10]

A Python WebRTC client says "What can you do?" (synthesized with Piper) after the greeting
and times, from the end of its speech: the bot's VAD deciding the user stopped (RTVI
`user-stopped-speaking` reaching the client), STT (Whisper tiny.en processing), LLM time to
first token (llama.cpp with SmolLM2-135M), TTS time to first audio (Piper), and the first
bot audio the client hears. Stage figures come from Pipecat's metrics, sent over RTVI.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.launch_latency import API_KEY, dev_stack, pct, process  # noqa: E402
from tests.support.servers import free_port  # noqa: E402
from tests.support.speech import PAD_S, make_wav  # noqa: E402
from voicefleet.client.webrtc import WebRTCCall  # noqa: E402


def metric(messages: list[Any], kind: str, processor: str) -> float | None:
    for message in messages:
        if isinstance(message, dict) and message.get("type") == "metrics":
            for entry in message.get("data", {}).get(kind, []):
                if processor in entry.get("processor", ""):
                    return float(entry["value"])
    return None


async def one_turn(url: str, question: Path) -> dict[str, float]:
    async with WebRTCCall(url, api_key=API_KEY) as call:
        await call.wait_for_audio(15)
        await call.wait_for_silence(0.8)
        rec = call.recording
        first_message = len(rec.messages)
        # The WAV ends with PAD_S of silence: the user stopped speaking that much earlier.
        said_at = await call.say(question) - PAD_S
        first_audio = await call.wait_for_audio_after(said_at, 60)
        await call.wait_for_silence(1.0, 60)
        messages = rec.messages[first_message:]
        times = rec.message_times[first_message:]
    vad = next(
        (t - said_at for m, t in zip(messages, times, strict=True)
         if isinstance(m, dict) and m.get("type") == "user-stopped-speaking"),
        float("nan"),
    )  # fmt: skip
    return {
        "vad_stop": vad,
        "stt": metric(messages, "processing", "Whisper") or float("nan"),
        "llm_ttfb": metric(messages, "ttfb", "LLMService") or float("nan"),
        "tts_ttfb": metric(messages, "ttfb", "TTSService") or float("nan"),
        "first_audio": first_audio,
    }


async def run(url: str, turns: int, question: Path) -> list[dict[str, float]]:
    await one_turn(url, question)  # warm-up: first-call costs are not a turn's
    return [await one_turn(url, question) for _ in range(turns)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args()
    question = make_wav("What can you do?", Path(tempfile.mkdtemp()) / "question.wav")
    port = free_port()
    env = {"VOICEFLEET_API_KEY": API_KEY, "LOGURU_LEVEL": "WARNING", "OPENAI_BASE_URL": "",
           "OPENAI_API_KEY": "", "DEEPGRAM_API_KEY": ""}  # fmt: skip
    argv = dev_stack(port, "--warm", "1")
    with process(argv, "dev stack is up", env=env):
        results = asyncio.run(run(f"http://127.0.0.1:{port}", args.turns, question))
    print(f"{'stage':<34} {'p50':>8} {'p95':>8}   (ms, n={len(results)})")
    for key, label in (
        ("vad_stop", "end of speech -> VAD stop"),
        ("stt", "STT (Whisper tiny.en)"),
        ("llm_ttfb", "LLM first token (SmolLM2-135M)"),
        ("tts_ttfb", "TTS first audio (Piper)"),
        ("first_audio", "end of speech -> first bot audio"),
    ):
        values = [r[key] * 1000 for r in results if r[key] == r[key]]
        if values:
            print(f"{label:<34} {statistics.median(values):8.0f} {pct(values, 0.95):8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
