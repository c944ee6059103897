"""The spoken corpus an STT must hear right: utterances with their reference text, spoken by
several voices in several conditions, made at run time from packages (no recordings shipped),
and passed through the codec a WebRTC call puts them through (Opus at 48 kHz, as aiortc
encodes and decodes it), since that is what the bot's STT hears.

The utterances are what the bot is asked: the tool commands with a name in them (the word a
tool needs exactly: a note's title, an applet's, a name, a city), questions and small talk.
The voices are the bundled Piper voice, sampled and steady, and espeak-ng's, and sox
variants of them: faster, higher, lower, and with noise under the speech. Each utterance is
spoken in `per_utterance` conditions, taken in rotation, so every condition hears every kind
of utterance. Audio comes back as the bot's STT takes it: 16 kHz, 16-bit mono PCM.
"""

from __future__ import annotations

import fractions
import functools
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import soxr
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame

RATE = 16000  # what the bot's STT receives


@dataclass(frozen=True)
class Utterance:
    text: str
    kind: str  # "create", "open", "update", "delete", "applet", "profile", "time", "question", …
    name: str | None = None  # the word a tool needs as said, for a command


UTTERANCES: tuple[Utterance, ...] = (
    # notes
    Utterance("Create a note called budget.", "create", "budget"),
    Utterance("Create a note called groceries.", "create", "groceries"),
    Utterance("Make a new note called meeting.", "create", "meeting"),
    Utterance("Please create a note named holidays.", "create", "holidays"),
    Utterance("Start a note called garden with tomatoes and basil.", "create", "garden"),
    Utterance("Create a note called invoices.", "create", "invoices"),
    Utterance("Add a note called birthday.", "create", "birthday"),
    Utterance("Open the note called budget.", "open", "budget"),
    Utterance("Open my note called recipes.", "open", "recipes"),
    Utterance("Show me the note called travel.", "open", "travel"),
    Utterance("Read me the note called homework.", "open", "homework"),
    Utterance("Update the note called groceries to add milk and eggs.", "update", "groceries"),
    Utterance("Change the note called meeting to say Tuesday afternoon.", "update", "meeting"),
    Utterance("Add bread to the note called shopping.", "update", "shopping"),
    Utterance("Rename the note called ideas to projects.", "update", "ideas"),
    Utterance("Delete the note called holidays.", "delete", "holidays"),
    Utterance("Remove the note called garden.", "delete", "garden"),
    Utterance("Delete my note called invoices.", "delete", "invoices"),
    Utterance("Please delete the note called podcast.", "delete", "podcast"),
    # applets
    Utterance("Create an applet called timer that counts down from one minute.", "applet", "timer"),
    Utterance("Make an applet called calculator.", "applet", "calculator"),
    Utterance("Open the applet called weather.", "applet", "weather"),
    Utterance("Build me an applet called checklist for my packing.", "applet", "checklist"),
    # profile
    Utterance("Change my name to Oliver.", "profile", "oliver"),
    Utterance("Please call me Sarah from now on.", "profile", "sarah"),
    Utterance("Set my display name to Daniel.", "profile", "daniel"),
    Utterance("Remember that my favorite color is green.", "profile", "green"),
    # the time
    Utterance("What time is it?", "time"),
    Utterance("What time is it in Tokyo?", "time", "tokyo"),
    Utterance("Tell me the time in London.", "time", "london"),
    Utterance("What's the time in Chicago right now?", "time", "chicago"),
    # questions
    Utterance("What can you do?", "question"),
    Utterance("Could you tell me about the weather in Paris tomorrow?", "question"),
    Utterance("How many notes do I have?", "question"),
    Utterance("Can you help me plan my week?", "question"),
    Utterance("What is the capital of Australia?", "question"),
    Utterance("How long does it take to boil an egg?", "question"),
    Utterance("Which notes did I write yesterday?", "question"),
    Utterance("Tell me a long story about a brave knight and a dragon.", "question"),
    # small talk
    Utterance("Hello, how are you today?", "small talk"),
    Utterance("Good morning!", "small talk"),
    Utterance("Thank you, that's all for now.", "small talk"),
    Utterance("I'm feeling a bit tired today.", "small talk"),
    Utterance("That sounds great, thanks.", "small talk"),
    Utterance("Tell me a joke.", "small talk"),
    Utterance("Stop. What time is it?", "small talk"),
    Utterance("Goodbye, talk to you later.", "small talk"),
    Utterance("What's your name?", "small talk"),
)


@dataclass(frozen=True)
class Clip:
    utterance: Utterance
    condition: str
    pcm: bytes  # 16 kHz, 16-bit mono, the speech only (no padding)


@functools.cache
def _piper_voice() -> Any:
    from bot.tts.piper import load_voice

    return load_voice("en_US-joe-medium")


def _piper_pcm(text: str, *, steady: bool, length_scale: float = 1.0) -> tuple[bytes, int]:
    from piper import SynthesisConfig

    voice = _piper_voice()
    config = (
        SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=length_scale)
        if steady
        else SynthesisConfig(length_scale=length_scale)
    )
    pcm = b"".join(c.audio_int16_bytes for c in voice.synthesize(text, config))
    return pcm, voice.config.sample_rate


def _read_wav(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path)) as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


def _write_wav(path: Path, pcm: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


def _espeak_pcm(text: str, voice: str, words_per_minute: int) -> tuple[bytes, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        cmd = ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(out), text]
        subprocess.run(cmd, check=True, capture_output=True)
        return _read_wav(out)


def _sox(pcm: bytes, rate: int, *effects: str) -> tuple[bytes, int]:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        _write_wav(src, pcm, rate)
        subprocess.run(["sox", str(src), str(out), *effects], check=True, capture_output=True)
        return _read_wav(out)


def _with_noise(pcm: bytes, rate: int, colour: str, snr_db: float) -> tuple[bytes, int]:
    """`colour` noise from sox under the speech, at `snr_db` below the speech's loudness."""
    seconds = len(pcm) / 2 / rate
    with tempfile.TemporaryDirectory() as tmp:
        noise_path = Path(tmp) / "noise.wav"
        cmd = ["sox", "-n", "-r", str(rate), "-b", "16", "-c", "1", str(noise_path)]
        subprocess.run([*cmd, "synth", f"{seconds:.3f}", colour], check=True, capture_output=True)
        noise = np.frombuffer(_read_wav(noise_path)[0], dtype=np.int16).astype(np.float32)
    speech = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    noise = np.resize(noise, speech.shape)
    loud = speech[np.abs(speech) > 300]
    speech_rms = float(np.sqrt(np.mean(loud**2))) if loud.size else 1.0
    noise_rms = float(np.sqrt(np.mean(noise**2))) or 1.0
    mixed = speech + noise * (speech_rms / noise_rms) * 10 ** (-snr_db / 20)
    return np.clip(mixed, -32768, 32767).astype(np.int16).tobytes(), rate


Voice = Callable[[str], tuple[bytes, int]]

CONDITIONS: dict[str, Voice] = {
    "piper": lambda t: _piper_pcm(t, steady=True),
    "piper sampled, slower": lambda t: _piper_pcm(t, steady=False, length_scale=1.2),
    "espeak-ng en-us": lambda t: _espeak_pcm(t, "en-us", 165),
    "espeak-ng en-gb female": lambda t: _espeak_pcm(t, "en-gb+f3", 150),
    "espeak-ng scottish": lambda t: _espeak_pcm(t, "en-gb-scotland", 160),
    "piper tempo 1.3": lambda t: _sox(*_piper_pcm(t, steady=True), "tempo", "1.3"),
    "piper pitch +400": lambda t: _sox(*_piper_pcm(t, steady=True), "pitch", "400"),
    "piper pitch -300": lambda t: _sox(*_piper_pcm(t, steady=True), "pitch", "-300"),
    "piper, pink noise 15 dB": lambda t: _with_noise(*_piper_pcm(t, steady=False), "pinknoise", 15),
    "espeak-ng, brown noise 12 dB": lambda t: _with_noise(
        *_espeak_pcm(t, "en-us+m3", 170), "brownnoise", 12
    ),
}


def missing_tools() -> list[str]:
    """The Debian packages the corpus needs that this machine lacks."""
    return [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]


def _trim(samples: np.ndarray, threshold: int = 300) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples


def through_opus(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` as the bot gets them from a WebRTC call: encoded and decoded by aiortc's
    Opus codec at 48 kHz in 20 ms frames, then at `RATE` (mono)."""
    wire = 48000
    up = soxr.resample(samples, rate, wire).astype(np.int16)
    encoder, decoder = OpusEncoder(), OpusDecoder()
    step = wire // 50
    out: list[np.ndarray] = []
    for i in range(0, len(up) - step + 1, step):
        frame = av.AudioFrame.from_ndarray(up[i : i + step].reshape(1, -1), layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = wire, i, fractions.Fraction(1, wire)
        payloads, timestamp = encoder.encode(frame)
        for payload in payloads:
            for decoded in decoder.decode(JitterFrame(data=payload, timestamp=timestamp)):
                assert isinstance(decoded, av.AudioFrame)
                out.append(decoded.to_ndarray().reshape(-1, 2)[:, 0])  # stereo, interleaved
    received = np.concatenate(out) if out else np.zeros(0, dtype=np.int16)
    return soxr.resample(received, wire, RATE).astype(np.int16)  # type: ignore[no-any-return]


def speak(utterance: Utterance, condition: str) -> Clip:
    pcm, rate = CONDITIONS[condition](utterance.text)
    samples = _trim(np.frombuffer(pcm, dtype=np.int16))
    return Clip(utterance, condition, through_opus(samples, rate).tobytes())


def corpus(
    per_utterance: int = 2,
    *,
    utterances: tuple[Utterance, ...] = UTTERANCES,
    conditions: tuple[str, ...] = tuple(CONDITIONS),
) -> Iterator[Clip]:
    """Each utterance in `per_utterance` conditions, rotating, so each condition gets a mix."""
    step = 0
    for utterance in utterances:
        for _ in range(min(per_utterance, len(conditions))):
            yield speak(utterance, conditions[step % len(conditions)])
            step += 1
