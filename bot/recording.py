"""Records a call's audio for tenants who turned recordings on: both sides mixed, and each
side as its own track, as 16-bit mono WAV or as Ogg Opus.

Pipecat's `AudioBufferProcessor` (placed after the output transport, where it sees the
caller's audio coming in and the bot's going out) hands over audio every few seconds; the
chunks are appended to the files off the event loop, so an hour-long call holds seconds of
audio in memory, not the hour. Opus is encoded as the chunks come (PyAV's libopus; PyAV is
here for aiortc already), a few per cent of a core through the call rather than minutes of
it when the call ends, while its report waits. The runner uploads the files when the call
ends.
"""

from __future__ import annotations

import asyncio
import tempfile
import wave
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pipecat.processors.audio.audio_buffer_processor import AudioBufferProcessor

SAMPLE_RATE = 16_000
CHUNK_S = 5
TRACKS = ("mixed", "user", "bot")
# Speech at 16 kHz in Opus: about 11 MB an hour a track, a tenth of the WAV's.
OPUS_BIT_RATE = 24_000


class _TrackFile(Protocol):
    def write(self, pcm: bytes) -> None: ...
    def close(self) -> float: ...


class _WavFile:
    def __init__(self, path: Path, sample_rate: int) -> None:
        self._out = wave.open(str(path), "wb")
        self._out.setnchannels(1)
        self._out.setsampwidth(2)
        self._out.setframerate(sample_rate)

    def write(self, pcm: bytes) -> None:
        self._out.writeframes(pcm)

    def close(self) -> float:
        duration_s = self._out.getnframes() / self._out.getframerate()
        self._out.close()
        return duration_s


class _OpusFile:
    """Ogg Opus, a chunk at a time. libopus takes 8, 12, 16, 24 and 48 kHz: the call's rate
    is kept."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        import av

        self._av = av
        self._out = av.open(str(path), "w", format="ogg")
        self._stream = self._out.add_stream("libopus", rate=sample_rate, layout="mono")
        self._stream.bit_rate = OPUS_BIT_RATE
        self._rate = sample_rate
        self._samples = 0

    def write(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype=np.int16).reshape(1, -1)
        frame = self._av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts = self._rate, self._samples
        self._samples += samples.shape[1]
        for packet in self._stream.encode(frame):
            self._out.mux(packet)

    def close(self) -> float:
        for packet in self._stream.encode(None):
            self._out.mux(packet)
        self._out.close()
        return self._samples / self._rate


_WRITERS: dict[str, type[_WavFile] | type[_OpusFile]] = {"wav": _WavFile, "opus": _OpusFile}
FORMATS = tuple(_WRITERS)


class CallAudio:
    """The call's files in `form` (wav or opus), one a track, in a temporary folder of their
    own."""

    def __init__(self, folder: Path | None = None, form: str = "wav") -> None:
        if form not in _WRITERS:
            raise ValueError(f"unknown recording format {form!r}")
        self.form = form
        self.folder = folder or Path(tempfile.mkdtemp(prefix="voicefleet-recording-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, _TrackFile] = {}
        self._lock = asyncio.Lock()

    def path(self, track: str) -> Path:
        return self.folder / f"{track}.{self.form}"

    def _append(self, track: str, pcm: bytes, sample_rate: int) -> None:
        out = self._files.get(track)
        if out is None:
            out = self._files[track] = _WRITERS[self.form](self.path(track), sample_rate)
        out.write(pcm)

    async def write(self, track: str, pcm: bytes, sample_rate: int) -> None:
        if pcm:
            async with self._lock:
                await asyncio.to_thread(self._append, track, pcm, sample_rate)

    def close(self) -> dict[str, float]:
        """Finish the files; returns each track's duration in seconds."""
        durations = {track: out.close() for track, out in self._files.items()}
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
