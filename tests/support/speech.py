"""Spoken test input, synthesized with the bundled Piper voice (no recordings to ship)."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np

from bot.tts.piper import load_voice

PAD_S = 0.4  # silence before and after the words


def make_wav(text: str, path: Path, *, pad_s: float = PAD_S) -> Path:
    voice = load_voice("en_US-joe-medium")
    rate = voice.config.sample_rate
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text))
    silence = np.zeros(int(rate * pad_s), dtype=np.int16).tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(silence + pcm + silence)
    return path


def words(text: str) -> str:
    """Lower-case words only, to compare transcripts."""
    return " ".join(re.findall(r"[a-z']+", text.lower()))
