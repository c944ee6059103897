"""Records a call's audio for tenants who turned recordings on: both sides mixed, and each
side as its own track, as 16-bit mono WAV files (and, for a tenant that asked for Opus, each
encoded into Ogg Opus once the call has ended: `encode_opus`).

Pipecat's `AudioBufferProcessor` (placed after the output transport, where it sees the
caller's audio coming in and the bot's going out) hands over audio every few seconds; the
chunks are appended to WAV files off the event loop, so an hour-long call holds seconds of
audio in memory, not the hour. The runner uploads the files when the call ends.
"""

from __future__ import annotations

import asyncio
import tempfile
import wave
from pathlib import Path
from typing import Any

from pipecat.processors.audio.audio_buffer_processor import AudioBufferProcessor

SAMPLE_RATE = 16_000
CHUNK_S = 5
TRACKS = ("mixed", "user", "bot")
FORMATS = ("wav", "opus")
# Speech at 16 kHz: about 11 MB an hour a track, a tenth of the WAV's.
OPUS_BIT_RATE = 24_000


class CallAudio:
    """The call's WAV files, one a track, in a temporary folder of their own."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path(tempfile.mkdtemp(prefix="voicefleet-recording-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, wave.Wave_write] = {}
        self._lock = asyncio.Lock()

    def path(self, track: str) -> Path:
        return self.folder / f"{track}.wav"

    def _append(self, track: str, pcm: bytes, sample_rate: int) -> None:
        out = self._files.get(track)
        if out is None:
            out = wave.open(str(self.path(track)), "wb")
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            self._files[track] = out
        out.writeframes(pcm)

    async def write(self, track: str, pcm: bytes, sample_rate: int) -> None:
        if pcm:
            async with self._lock:
                await asyncio.to_thread(self._append, track, pcm, sample_rate)

    def close(self) -> dict[str, float]:
        """Finish the files; returns each track's duration in seconds."""
        durations: dict[str, float] = {}
        for track, out in self._files.items():
            durations[track] = out.getnframes() / out.getframerate()
            out.close()
        self._files.clear()
        return durations

    def tracks(self) -> list[str]:
        return [t for t in TRACKS if self.path(t).exists()]


def audio_recorder(audio: CallAudio) -> AudioBufferProcessor:
    """The processor to put after the output transport, writing into `audio`."""
    recorder = AudioBufferProcessor(
        sample_rate=SAMPLE_RATE,
        num_channels=1,
        buffer_size=SAMPLE_RATE * 2 * CHUNK_S,
        auto_start_recording=True,
    )

    async def mixed(_processor: Any, pcm: bytes, sample_rate: int, _channels: int) -> None:
        await audio.write("mixed", pcm, sample_rate)

    async def tracks(
        _processor: Any, user: bytes, bot: bytes, sample_rate: int, _channels: int
    ) -> None:
        await audio.write("user", user, sample_rate)
        await audio.write("bot", bot, sample_rate)

    recorder.add_event_handler("on_audio_data", mixed)
    recorder.add_event_handler("on_track_audio_data", tracks)
    return recorder


def encode_opus(wav_path: Path, opus_path: Path, *, bit_rate: int = OPUS_BIT_RATE) -> None:
    """`wav_path` (16-bit mono, as `CallAudio` writes it) as Ogg Opus at `opus_path`, through
    PyAV's libopus (PyAV is here for aiortc already). Blocking, a second at a time: run it in
    a thread. libopus takes 8, 12, 16, 24 and 48 kHz, so the WAV's own rate is kept."""
    import av
    import numpy as np

    with (
        wave.open(str(wav_path), "rb") as source,
        av.open(str(opus_path), "w", format="ogg") as out,
    ):
        rate = source.getframerate()
        stream = out.add_stream("libopus", rate=rate, layout="mono")
        stream.bit_rate = bit_rate
        pts = 0
        while pcm := source.readframes(rate):
            samples = np.frombuffer(pcm, dtype=np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, pts
            pts += samples.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
