"""Spoken test input, synthesized with the bundled Piper voice (no recordings to ship)."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np

from bot.tts.piper import load_voice
from voicefleet.client.webrtc import read_wav

PAD_S = 0.4  # silence before and after the words


def make_wav(
    text: str, path: Path, *, pad_s: float = PAD_S, then: str = "", pause_s: float = 0.4
) -> Path:
    """`text` spoken; with `then`, a pause of `pause_s` and `then` (one sentence, interrupted
    by a breath: a turn detector must wait for the second half)."""
    voice = load_voice("en_US-joe-medium")
    rate = voice.config.sample_rate
    # Piper's own edge silence (up to ~0.2 s) trimmed: the speech starts and ends where the
    # padding does, so a benchmark times from the real end of speech.
    pcm = trim_silence(b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text)))
    if then:
        rest = b"".join(c.audio_int16_bytes for c in voice.synthesize(then))
        pause = np.zeros(int(rate * pause_s), dtype=np.int16).tobytes()
        pcm = pcm + pause + trim_silence(rest)
    silence = np.zeros(int(rate * pad_s), dtype=np.int16).tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(silence + pcm + silence)
    return path


def trim_silence(pcm: bytes, threshold: int = 300) -> bytes:
    samples = np.frombuffer(pcm, dtype=np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    return samples[loud[0] : loud[-1] + 1].tobytes() if loud.size else pcm


def pcm_16k(wav: Path) -> bytes:
    """A test WAV as a 16 kHz STT or VAD takes it (16-bit mono), from the 48 kHz track."""
    return bytes(read_wav(wav)[::3].astype(np.int16).tobytes())


def words(text: str) -> str:
    """Lower-case words only, to compare transcripts."""
    return " ".join(re.findall(r"[a-z']+", text.lower()))
