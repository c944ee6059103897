"""Turn latency, false turn ends and barge-in: Pipecat's defaults beside ours, in one run.

    .venv/bin/python benchmarks/turn_latency.py [--rounds 10]

Two dev stacks run side by side with the same offline models (Silero, Whisper tiny.en,
SmolLM2-135M on llama.cpp, Piper); calls alternate between them, so machine noise falls on
both alike. The LLM samples its replies, so their first sentences differ in length from call
to call and so does the TTS's first audio; `--both BOT_LLM_TEMPERATURE=0` makes both stacks
speak the same replies (but the greedy reply to the story is too short to talk over, so that
run has no barge-in figure):

- pipecat: Pipecat's defaults without a turn model: `VADParams()` (0.2 s start and stop,
  Pipecat's volume smoothing) and its speech timeout (0.6 s more), Whisper decoded as
  Pipecat's `WhisperSTTService` does, after the VAD stops, and TTS by whole sentences;
- voicefleet: our defaults (README, Configuration), whatever they are: `--ours NAME=VALUE`
  changes one for our stack only, `--both NAME=VALUE` for both.

Each call, after the greeting, (1) asks "What can you do?" and times from the end of the
speech to the turn end (RTVI `user-stopped-speaking`), per stage (Pipecat's metrics over
RTVI) and to the first bot audio; (2) says one sentence with a 400 ms pause in the middle
and counts a false turn end if the turn ended before the sentence did; (3) asks for a story
and talks over the answer, timing the start of its speech to the bot's last audio frame;
(4) asks for a story again and says "uh" into it (about 0.2 s: a false interruption if the
bot stops for it; if not, the longest gap in the bot's voice in the second from the "uh" on,
which the onset hold can lengthen); (5) gives a command with a name ("Create a note called
budget."). What each stack heard (RTVI `user-transcription`, final) of the question, the
paused sentence, the interruption and the command is scored against what was said: the word
error rate, and whether the command's name came through (harness/stt_score.py). The WAVs'
speech starts and ends exactly where their padding does (harness/speech.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.launch_latency import API_KEY, dev_stack, pct, process  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from harness.noises import make_noise_wavs  # noqa: E402
from harness.speech import PAD_S, make_wav  # noqa: E402
from harness.stt_corpus import Utterance  # noqa: E402
from harness.stt_score import Heard, Score, normalize  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402

VERBOSE = "-v" in sys.argv
CONFIGS = {
    "pipecat defaults": {
        "BOT_SMART_TURN": "0",
        "BOT_WHISPER_FAST": "0",
        "BOT_WHISPER_EARLY": "0",
        "BOT_TTS_FIRST_CLAUSE": "0",
        "BOT_VAD_START_S": "0.2",
        "BOT_VAD_VOLUME_SMOOTHING": "0.2",
        "BOT_BARGE_IN_HOLD_S": "0",
        "BOT_STT_PROVIDER": "whisper",
    },
    "voicefleet": {},  # our defaults
}
STAGES = (
    ("turn_end", "end of speech -> turn end"),
    ("stt", "STT processing (Whisper)"),
    ("llm_ttfb", "LLM first token"),
    ("tts_ttfb", "TTS first audio (Piper)"),
    ("first_audio", "end of speech -> first bot audio"),
    ("barge_in", "user starts talking -> bot quiet"),
    ("filler_gap", "'uh' over the bot -> its longest gap"),
    ("noise_gap", "a noise over the bot -> longest gap"),
)


QUESTION = Utterance("What can you do?", "question")
PAUSED = Utterance("Could you tell me about the weather in Paris tomorrow?", "question")
INTERRUPTION = Utterance("Stop. What time is it?", "small talk")
COMMAND = Utterance("Create a note called budget.", "create", "budget")


@dataclass
class Speech:
    question: Path
    paused: Path
    story: Path
    interruption: Path
    filler: Path
    command: Path
    noises: dict[str, Path]


@dataclass
class Tally:
    samples: dict[str, list[float]] = field(default_factory=dict)
    paused_turns: int = 0
    false_turn_ends: int = 0
    fillers: int = 0
    false_interruptions: int = 0
    failures: int = 0
    heard: Score = field(default_factory=Score)
    noises: int = 0  # non-speech sounds played over the bot
    noise_interruptions: int = 0
    noise_stutters: int = 0

    def add(self, key: str, seconds: float | None) -> None:
        if seconds is not None and seconds == seconds:
            self.samples.setdefault(key, []).append(seconds * 1000)


def metric(messages: list[Any], kind: str, processor: str) -> float | None:
    for message in messages:
        if isinstance(message, dict) and message.get("type") == "metrics":
            for entry in message.get("data", {}).get(kind, []):
                if processor in entry.get("processor", ""):
                    return float(entry["value"])
    return None


def arrivals(call: WebRTCCall, since: int, kind: str) -> list[float]:
    """When each RTVI message of `kind` arrived, from message number `since` on."""
    rec = call.recording
    return [
        t
        for m, t in zip(rec.messages[since:], rec.message_times[since:], strict=True)
        if isinstance(m, dict) and m.get("type") == kind
    ]


def longest_gap(call: WebRTCCall, start: float, end: float) -> float:
    """The longest silence in the bot's audio between `start` and `end`: a pause for an
    "uh" (the onset hold's cost), or a sentence break (the same for both stacks)."""
    times = [t for t in call.recording.audible_at if start <= t <= end]
    return max((b - a for a, b in zip([start, *times], [*times, end], strict=True)), default=0)


def turn_ends(call: WebRTCCall, since: int) -> list[float]:
    return arrivals(call, since, "user-stopped-speaking")


def score_heard(call: WebRTCCall, since: int, said: Utterance, tally: Tally) -> None:
    """What the bot transcribed from message number `since` on, scored against `said`."""
    texts = [
        m["data"]["text"]
        for m in call.recording.messages[since:]
        if isinstance(m, dict) and m.get("type") == "user-transcription" and m["data"]["final"]
    ]
    tally.heard.add(Heard(said, "piper", " ".join(texts)))


async def timed_turn(call: WebRTCCall, speech: Speech, tally: Tally) -> None:
    first = len(call.recording.messages)
    ended_at = await call.say(speech.question) - PAD_S  # the WAV ends with PAD_S of silence
    tally.add("first_audio", await call.wait_for_audio_after(ended_at, 60))
    await call.wait_for_silence(1.0, 60)
    ends = [t for t in turn_ends(call, first) if t > ended_at]
    tally.add("turn_end", ends[0] - ended_at if ends else None)
    messages = call.recording.messages[first:]
    tally.add("stt", metric(messages, "processing", "Whisper"))
    tally.add("llm_ttfb", metric(messages, "ttfb", "LLMService"))
    tally.add("tts_ttfb", metric(messages, "ttfb", "TTSService"))
    score_heard(call, first, QUESTION, tally)


async def paused_turn(call: WebRTCCall, speech: Speech, tally: Tally) -> None:
    first = len(call.recording.messages)
    ended_at = await call.say(speech.paused) - PAD_S
    await call.wait_for_audio_after(ended_at - 1.0, 60)
    await call.wait_for_silence(1.0, 60)
    tally.paused_turns += 1
    if any(t < ended_at for t in turn_ends(call, first)):
        tally.false_turn_ends += 1
    score_heard(call, first, PAUSED, tally)


async def barge_in(call: WebRTCCall, speech: Speech, tally: Tally) -> None:
    ended_at = await call.say(speech.story) - PAD_S
    await call.wait_for_audio_after(ended_at, 60)
    await asyncio.sleep(0.8)  # the bot is well into its answer
    if call.last_audio_before_gap(ended_at, 0.3) is not None:
        return  # it had already finished: nothing to talk over
    first = len(call.recording.messages)
    speaking_at = await call.start_saying(speech.interruption) + PAD_S
    await call.microphone.finished.wait()
    await asyncio.sleep(0.6)
    quiet_at = call.last_audio_before_gap(speaking_at, 0.5)
    tally.add("barge_in", quiet_at - speaking_at if quiet_at is not None else None)
    await call.wait_for_silence(1.0, 60)
    score_heard(call, first, INTERRUPTION, tally)


async def filler(call: WebRTCCall, speech: Speech, tally: Tally) -> None:
    ended_at = await call.say(speech.story) - PAD_S
    await call.wait_for_audio_after(ended_at, 60)
    await asyncio.sleep(0.5)  # the bot is into its answer: an "uh" must not stop it
    if call.last_audio_before_gap(ended_at, 0.3) is not None:
        return
    first = len(call.recording.messages)
    started_at = await call.start_saying(speech.filler) + PAD_S
    await call.microphone.finished.wait()
    await asyncio.sleep(0.5)
    tally.fillers += 1
    if arrivals(call, first, "user-started-speaking"):
        tally.false_interruptions += 1
    else:  # the bot talked on: how long it paused for the "uh", then end the story
        tally.add("filler_gap", longest_gap(call, started_at, started_at + 1.0))
        await call.say(speech.interruption)
    await call.wait_for_silence(1.0, 60)


async def noises(call: WebRTCCall, speech: Speech, tally: Tally) -> None:
    """A cough, a click, a breath, typing and a door over the bot's answer, one after another
    while it talks: each is a false interruption if it starts a user turn, and a stutter if
    the bot's voice pauses 120 ms or more while it sounds (a sentence break can too, in
    either stack: compare the counts)."""
    ended_at = await call.say(speech.story) - PAD_S
    await call.wait_for_audio_after(ended_at, 60)
    await asyncio.sleep(0.5)
    for sound in speech.noises.values():
        if call.last_audio_before_gap(ended_at, 0.3) is not None:
            break  # the answer is over
        first = len(call.recording.messages)
        started_at = await call.start_saying(sound)
        await call.microphone.finished.wait()
        assert call.microphone.finished_at is not None
        await asyncio.sleep(0.4)
        tally.noises += 1
        if arrivals(call, first, "user-started-speaking"):
            tally.noise_interruptions += 1
            break
        gap = longest_gap(call, started_at, call.microphone.finished_at + 0.1)
        tally.add("noise_gap", gap)
        tally.noise_stutters += gap >= 0.12
    if call.last_audio_before_gap(ended_at, 0.3) is None:
        await call.say(speech.interruption)
    await call.wait_for_silence(1.0, 60)


async def command(call: WebRTCCall, speech: Speech, tally: Tally) -> None:
    first = len(call.recording.messages)
    ended_at = await call.say(speech.command) - PAD_S
    await call.wait_for_audio_after(ended_at, 60)
    await call.wait_for_silence(1.0, 60)
    score_heard(call, first, COMMAND, tally)


async def one_call(url: str, speech: Speech, tally: Tally) -> None:
    try:
        async with WebRTCCall(url, api_key=API_KEY) as call:
            await call.wait_for_audio(30)
            await call.wait_for_silence(0.8, 30)
            for step in (timed_turn, paused_turn, barge_in, filler, noises, command):
                await step(call, speech, tally)
                if VERBOSE:
                    print(f"  {url} {step.__name__} done", flush=True)
    except (TimeoutError, OSError) as exc:
        tally.failures += 1
        print(f"call failed: {type(exc).__name__}: {exc}", flush=True)


async def run(urls: dict[str, str], rounds: int, speech: Speech) -> dict[str, Tally]:
    tallies = {name: Tally() for name in urls}
    names = list(urls)
    for name in names:  # warm-up: first-call costs are not a turn's
        await one_call(urls[name], speech, Tally())
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            await one_call(urls[name], speech, tallies[name])
        print(f"round {i + 1}/{rounds} done", flush=True)
    return tallies


def report(tallies: dict[str, Tally]) -> None:
    names = list(tallies)
    base, ours = names
    print(
        f"\n{'stage (ms)':<36}"
        + "".join(f"{n + ' p50':>22}{'p95':>8}" for n in names)
        + "   p50 ratio"
    )
    for key, label in STAGES:
        row = f"{label:<36}"
        p50s = []
        for name in names:
            values = tallies[name].samples.get(key, [])
            if values:
                p50s.append(statistics.median(values))
                row += f"{p50s[-1]:22.0f}{pct(values, 0.95):8.0f}"
            else:
                p50s.append(float("nan"))
                row += f"{'-':>22}{'-':>8}"
        print(f"{row}   x{p50s[1] / p50s[0]:.2f}")
    for name in names:
        t = tallies[name]
        counts = {k: len(v) for k, v in t.samples.items()}
        print(
            f"{name}: false turn ends {t.false_turn_ends}/{t.paused_turns} paused sentences, "
            f"false interruptions {t.false_interruptions}/{t.fillers} 'uh's, "
            f"failed calls {t.failures}, samples {counts}"
        )
        print(
            f"{name}: non-speech sounds over the bot: false interruptions "
            f"{t.noise_interruptions}/{t.noises}, stutters (a gap >= 120 ms) "
            f"{t.noise_stutters}/{t.noises}"
        )
        right, total = t.heard.names()
        print(f"{name}: heard WER {t.heard.wer():.3f}, command names {right}/{total}")
        for heard in t.heard.heard:
            if normalize(heard.text) != normalize(heard.utterance.text) and VERBOSE:
                print(f"  heard {heard.text!r} for {heard.utterance.text!r}")
    del base, ours


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("-v", action="store_true", help="print each step")
    parser.add_argument(
        "--ours", action="append", default=[], metavar="NAME=VALUE", help="extra runner setting"
    )
    parser.add_argument(
        "--both", action="append", default=[], metavar="NAME=VALUE", help="for both stacks"
    )
    args = parser.parse_args()
    CONFIGS["voicefleet"].update(item.split("=", 1) for item in args.ours)
    for overrides in CONFIGS.values():
        overrides.update(item.split("=", 1) for item in args.both)
    tmp = Path(tempfile.mkdtemp())
    speech = Speech(
        question=make_wav(QUESTION.text, tmp / "question.wav"),
        paused=make_wav(
            "Could you tell me about", tmp / "paused.wav", then="the weather in Paris tomorrow?"
        ),
        story=make_wav(
            "Tell me a long story about a brave knight and a dragon.", tmp / "story.wav"
        ),
        interruption=make_wav(INTERRUPTION.text, tmp / "interruption.wav"),
        filler=make_wav("Uh.", tmp / "filler.wav"),
        command=make_wav(COMMAND.text, tmp / "command.wav"),
        noises=make_noise_wavs(tmp),
    )
    urls: dict[str, str] = {}
    with ExitStack() as stack:
        for name, overrides in CONFIGS.items():
            port = free_port()
            env = {"VOICEFLEET_API_KEY": API_KEY, "LOGURU_LEVEL": "WARNING",
                   "OPENAI_BASE_URL": "", "OPENAI_API_KEY": "", "DEEPGRAM_API_KEY": "",
                   **overrides}  # fmt: skip
            stack.enter_context(process(dev_stack(port, "--warm", "1"), "dev stack is up", env=env))
            urls[name] = f"http://127.0.0.1:{port}"
        tallies = asyncio.run(run(urls, args.rounds, speech))
    report(tallies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
