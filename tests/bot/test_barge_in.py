"""The onset hold: the bot's voice pauses at the first frame of the user's speech, goes on
where it paused when that was no speech, and loses nothing by the pause itself."""

from __future__ import annotations

import asyncio

import pytest
from pipecat.audio.vad.vad_analyzer import VADParams, VADState
from pipecat.frames.frames import OutputAudioRawFrame
from prometheus_client import REGISTRY

from bot.barge_in import SpeechOnsetHold
from bot.vad import PauseAwareVAD
from tests.bot.test_vad import _CHUNK, steady_speech


def holds(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("voicefleet_bot_barge_in_holds_total", {"outcome": outcome}) or 0
    )


class Peer:
    """An output transport's write to its peer, as the transports have it."""

    def __init__(self) -> None:
        self.heard: list[bytes] = []

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        self.heard.append(frame.audio)
        return True


def chunk(n: int) -> OutputAudioRawFrame:
    return OutputAudioRawFrame(audio=bytes([n]) * 1920, sample_rate=24000, num_channels=1)


@pytest.fixture
def peer() -> Peer:
    return Peer()


def holding_back(peer: Peer, longest_s: float) -> SpeechOnsetHold:
    hold = SpeechOnsetHold(longest_s=longest_s)
    hold.pause(peer)  # type: ignore[arg-type]
    return hold


async def test_a_sound_that_is_not_speech_pauses_the_bot_and_it_goes_on_where_it_was(
    peer: Peer,
) -> None:
    hold = holding_back(peer, longest_s=5)
    stutters = holds("not_speech")
    await peer.write_audio_frame(chunk(1))
    hold.on_vad_state(VADState.QUIET, VADState.STARTING)  # a click
    waiting = asyncio.create_task(peer.write_audio_frame(chunk(2)))
    await asyncio.sleep(0.1)
    assert peer.heard == [chunk(1).audio]  # the bot is quiet while the VAD decides
    hold.on_vad_state(VADState.STARTING, VADState.QUIET)  # not speech after all
    await waiting
    assert peer.heard == [chunk(1).audio, chunk(2).audio]
    assert holds("not_speech") == stutters + 1  # what the operator sees the hold cost


async def test_speech_holds_the_bot_and_drops_the_held_chunk_with_the_answer(
    peer: Peer,
) -> None:
    hold = holding_back(peer, longest_s=0.3)
    interruptions = holds("speech")
    hold.on_vad_state(VADState.QUIET, VADState.STARTING)
    waiting = asyncio.create_task(peer.write_audio_frame(chunk(1)))
    hold.on_vad_state(VADState.STARTING, VADState.SPEAKING)
    await asyncio.sleep(0.1)
    assert not peer.heard and hold.holding
    # Pipecat's interruption drains the rest of the answer meanwhile, but lets the chunk
    # being written finish: the held one is dropped here instead of played late.
    assert await asyncio.wait_for(waiting, 1) is False
    assert not peer.heard and not hold.holding
    await peer.write_audio_frame(chunk(2))  # the next answer
    assert peer.heard == [chunk(2).audio]
    assert holds("speech") == interruptions + 1


async def test_audio_that_must_not_be_interrupted_waits_out_the_hold_and_plays(
    peer: Peer,
) -> None:
    hold = holding_back(peer, longest_s=0.2)
    hold.on_vad_state(VADState.QUIET, VADState.STARTING)
    hold.on_vad_state(VADState.STARTING, VADState.SPEAKING)
    frame = chunk(1)
    frame.interruptible = False
    await asyncio.wait_for(peer.write_audio_frame(frame), 1)
    assert peer.heard == [frame.audio]


async def test_the_hold_begins_at_the_first_frame_of_speech_before_the_vad_calls_it_speech() -> (
    None
):
    vad = PauseAwareVAD(params=VADParams(start_secs=0.2), volume_smoothing=0.5)
    hold = SpeechOnsetHold(longest_s=5)
    vad.add_listener(hold)
    vad.set_sample_rate(16000)
    pcm = steady_speech("Wait, I have a question.")
    seen, held = [], []
    for i in range(0, len(pcm), _CHUNK):
        seen.append(await vad.analyze_audio(pcm[i : i + _CHUNK]))
        held.append(hold.holding)
    # The bot is quiet from the first frame of speech: the start window (0.2 s) is no
    # longer time it talks over the user.
    held_from, speaking_from = held.index(True), seen.index(VADState.SPEAKING)
    assert (speaking_from - held_from) * _CHUNK / 32000 >= 0.15
    assert seen[-1] == VADState.QUIET and not hold.holding  # the speech is over: let go
