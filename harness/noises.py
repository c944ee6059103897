"""Sounds a caller makes that are not speech, to play while the bot talks: a cough, a click,
a breath, typing and a door. Made with numpy from a fixed seed (the same sounds in every
run), loud enough to pass the VAD's volume gate, so they test what the VAD and the barge-in
settings make of them: a bot that stops for a cough, or stutters, is what they count."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

RATE = 48000
_PEAK = 28000  # int16: as loud as the test voice at the microphone


def _envelope(n: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(n) / RATE
    return np.minimum(1.0, t / max(attack_s, 1e-4)) * np.exp(-t / decay_s)


def _band(noise: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(len(noise), 1 / RATE)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    filtered: np.ndarray = np.fft.irfft(spectrum, len(noise))
    return filtered


def _cough(rng: np.random.Generator) -> np.ndarray:
    """A noisy burst over a voiced one (a cough sounds the vocal folds), twice."""
    n = int(RATE * 0.35)
    t = np.arange(n) / RATE
    voiced = sum(np.sin(2 * np.pi * 160 * k * t) / k for k in range(1, 12))
    burst = (_band(rng.standard_normal(n), 200, 3000) + 0.8 * voiced) * _envelope(n, 0.01, 0.1)
    return np.concatenate([burst, np.zeros(int(RATE * 0.05)), 0.6 * burst])


def _click(rng: np.random.Generator) -> np.ndarray:
    n = int(RATE * 0.01)
    tick = rng.standard_normal(n) * _envelope(n, 0.0002, 0.002)
    return np.concatenate([tick, np.zeros(int(RATE * 0.12)), tick])


def _breath(rng: np.random.Generator) -> np.ndarray:
    n = int(RATE * 0.6)
    t = np.arange(n) / n
    breath: np.ndarray = 0.35 * _band(rng.standard_normal(n), 500, 6000) * np.sin(np.pi * t) ** 2
    return breath


def _keyboard(rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(int(RATE * 1.2))
    n = int(RATE * 0.015)
    for start in np.sort(rng.uniform(0, 1.15, 9)):
        i = int(start * RATE)
        out[i : i + n] += _band(rng.standard_normal(n), 1000, 8000) * _envelope(n, 0.0005, 0.004)
    return out


def _door(rng: np.random.Generator) -> np.ndarray:
    n = int(RATE * 0.5)
    t = np.arange(n) / RATE
    thump: np.ndarray = np.sin(2 * np.pi * 70 * t) * _envelope(n, 0.002, 0.09)
    rattle = 0.3 * _band(rng.standard_normal(n), 300, 2500) * _envelope(n, 0.001, 0.03)
    door: np.ndarray = thump + rattle
    return door


SOUNDS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "cough": _cough,
    "click": _click,
    "breath": _breath,
    "keyboard": _keyboard,
    "door": _door,
}


def make_noise_wavs(folder: Path, seed: int = 20) -> dict[str, Path]:
    """Each sound as a 48 kHz 16-bit mono WAV in `folder`, at a voice's peak loudness."""
    rng = np.random.default_rng(seed)
    paths: dict[str, Path] = {}
    for name, make in SOUNDS.items():
        sound = make(rng)
        pcm = (sound / (np.max(np.abs(sound)) or 1.0) * _PEAK).astype(np.int16)
        path = folder / f"{name}.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(pcm.tobytes())
        paths[name] = path
    return paths
