"""The VAD in front of every turn: it hears a first word sooner than Pipecat's, with the
same threshold, and tells a segmented STT when the user pauses and goes on."""

from __future__ import annotations

import numpy as np
import soxr
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from bot.config import BotSettings
from bot.tts.piper import load_voice
from bot.vad import PIPECAT_VOLUME_SMOOTHING, PauseAwareVAD
from harness.speech import PAD_S, VOICE, spoken

_CHUNK = 640  # 20 ms at 16 kHz, as a WebRTC transport delivers it


def steady_speech(text: str, pad_s: float = PAD_S) -> bytes:
    """`text` spoken the same way every time (Piper without its noise), padded, at 16 kHz."""
    rate = load_voice(VOICE).config.sample_rate
    speech = soxr.resample(np.frombuffer(spoken(text), np.int16), rate, 16000)
    pad = np.zeros(int(16000 * pad_s), np.int16)
    return bytes(np.concatenate([pad, speech.astype(np.int16), pad]).tobytes())


async def states(vad: PauseAwareVAD, pcm: bytes) -> list[VADState]:
    vad.set_sample_rate(16000)
    return [await vad.analyze_audio(pcm[i : i + _CHUNK]) for i in range(0, len(pcm), _CHUNK)]


def seconds_to_speaking(seen: list[VADState]) -> float:
    return seen.index(VADState.SPEAKING) * _CHUNK / 32000 - PAD_S


async def test_a_faster_volume_gate_hears_a_short_first_word_sooner() -> None:
    pcm = steady_speech("Wait, I have a question.")
    params = VADParams(start_secs=BotSettings().vad_start_s)
    ours = PauseAwareVAD(params=params, volume_smoothing=0.5)
    pipecat = PauseAwareVAD(params=params, volume_smoothing=PIPECAT_VOLUME_SMOOTHING)
    heard = seconds_to_speaking(await states(ours, pcm))
    heard_by_pipecat = seconds_to_speaking(await states(pipecat, pcm))
    # The start window is 0.2 s either way; the difference is the volume gate's lag.
    assert heard < heard_by_pipecat - 0.1
    assert ours.params.min_volume == pipecat.params.min_volume


class Listener:
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_vad_state(self, previous: VADState, state: VADState) -> None:
        if previous == VADState.SPEAKING and state == VADState.STOPPING:
            self.events.append("pause")
        elif previous == VADState.STOPPING and state == VADState.SPEAKING:
            self.events.append("resume")
        elif previous == VADState.QUIET and state == VADState.STARTING:
            self.events.append("onset")


async def test_listeners_hear_the_onset_each_pause_and_each_resumption() -> None:
    breath = bytes(int(16000 * 0.1) * 2)
    halves = steady_speech("Could you tell me about", 0), steady_speech("the weather?", 0)
    pcm = bytes(int(16000 * PAD_S) * 2) + breath.join(halves) + bytes(int(16000 * PAD_S) * 2)
    vad = PauseAwareVAD(params=VADParams(stop_secs=0.2))
    listener = Listener()
    vad.add_listener(listener)
    seen = await states(vad, pcm)
    assert seen[-1] == VADState.QUIET
    # The 0.1 s breath is shorter than the stop window: the user paused and went on, then
    # paused for good at the end.
    assert listener.events[0] == "onset"  # the first frame of speech, before the start window
    assert listener.events[-1] == "pause"
    assert "resume" in listener.events
    assert listener.events.count("pause") == listener.events.count("resume") + 1
