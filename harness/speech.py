"""Spoken test input, synthesized with the bundled Piper voice (no recordings to ship)."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
from piper import SynthesisConfig

from bot.tts.piper import load_voice
from harness.webrtc import read_wav

PAD_S = 0.4  # silence before and after the words
# Piper without its sampling noise: the same words sound the same in every run, so a test
# on a model's verdict (smart turn, the VAD) cannot flip on how one synthesis came out.
_STEADY = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
VOICE = "en_US-joe-medium"


def spoken(text: str) -> bytes:
    """`text` in the test voice at its own rate, without Piper's edge silence (up to ~0.2 s),
    so the speech starts and ends where a test's padding says and a benchmark times from the
    real end of speech."""
    voice = load_voice(VOICE)
    return _trim_silence(b"".join(c.audio_int16_bytes for c in voice.synthesize(text, _STEADY)))


def make_wav(
    text: str, path: Path, *, pad_s: float = PAD_S, then: str = "", pause_s: float = 0.4
) -> Path:
    """`text` spoken; with `then`, a pause of `pause_s` and `then` (one sentence, interrupted
    by a breath: a turn detector must wait for the second half)."""
    rate = load_voice(VOICE).config.sample_rate
    pcm = spoken(text)
    if then:
        pause = np.zeros(int(rate * pause_s), dtype=np.int16).tobytes()
        pcm = pcm + pause + spoken(then)
    silence = np.zeros(int(rate * pad_s), dtype=np.int16).tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(silence + pcm + silence)
    return path


def _trim_silence(pcm: bytes, threshold: int = 300) -> bytes:
    samples = np.frombuffer(pcm, dtype=np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    return samples[loud[0] : loud[-1] + 1].tobytes() if loud.size else pcm


def pcm_16k(wav: Path) -> bytes:
    """A test WAV as a 16 kHz STT or VAD takes it (16-bit mono), from the 48 kHz track."""
    return bytes(read_wav(wav)[::3].astype(np.int16).tobytes())


def words(text: str) -> str:
    """Lower-case words only, to compare transcripts."""
    return " ".join(re.findall(r"[a-z']+", text.lower()))
