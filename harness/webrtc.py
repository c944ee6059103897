"""A Python WebRTC peer that speaks Pipecat's session API, as Pipecat's client SDKs do.

It posts `/start`, then its SDP offer to `/sessions/{id}/api/offer`, plays an optional WAV
as its microphone, records what the bot says and collects the data-channel messages.
"""

from __future__ import annotations

import asyncio
import fractions
import itertools
import json
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from av import AudioFrame

from voicefleet.http_client import async_client

_SAMPLE_RATE = 48000
_PTIME_S = 0.02
_AUDIBLE_RMS = 300.0


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit mono WAV, resampled to the track's 48 kHz."""
    with wave.open(str(path)) as wav:
        raw = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        rate = wav.getframerate()
    idx = np.arange(0, len(raw), rate / _SAMPLE_RATE)
    resampled: np.ndarray = raw[idx.astype(np.int64).clip(max=len(raw) - 1)]
    return resampled


class WavTrack(AudioStreamTrack):
    """A microphone: silent until told to say a WAV's contents, then silent again."""

    def __init__(self, wav_path: Path | None = None) -> None:
        super().__init__()
        self._pcm = read_wav(wav_path) if wav_path is not None else np.zeros(0, dtype=np.int16)
        self._pos = 0
        self.started_at: float | None = None  # when the first frame of the WAV went out
        self.started = asyncio.Event()
        self.finished_at: float | None = None
        self.finished = asyncio.Event()
        self._t0: float | None = None
        self._timestamp = 0

    def say(self, pcm: np.ndarray) -> None:
        self._pcm = pcm
        self._pos = 0
        self.started_at = None
        self.started.clear()
        self.finished_at = None
        self.finished.clear()

    async def recv(self) -> AudioFrame:
        samples = int(_SAMPLE_RATE * _PTIME_S)
        if self._t0 is None:
            self._t0 = time.monotonic()
        else:
            self._timestamp += samples
            wait = self._t0 + self._timestamp / _SAMPLE_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        chunk = self._pcm[self._pos : self._pos + samples]
        if self._pos == 0 and self._pcm.size:
            self.started_at = time.perf_counter()
            self.started.set()
        self._pos += samples
        if self._pcm.size and self._pos >= self._pcm.size and self.finished_at is None:
            self.finished_at = time.perf_counter()
            self.finished.set()
        if len(chunk) < samples:
            chunk = np.concatenate([chunk, np.zeros(samples - len(chunk), dtype=np.int16)])
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = _SAMPLE_RATE
        frame.pts = self._timestamp
        frame.time_base = fractions.Fraction(1, _SAMPLE_RATE)
        return frame


@dataclass
class CallRecording:
    started_at: float = field(default_factory=time.perf_counter)
    client_setup_s: float = 0.0  # this client's own offer creation, not the server's time
    answer_at: float | None = None
    first_audio_at: float | None = None
    pcm: list[np.ndarray] = field(default_factory=list)
    audible_at: list[float] = field(default_factory=list)  # arrival time of each loud frame
    frame_times: list[float] = field(default_factory=list)  # arrival time of every frame
    messages: list[Any] = field(default_factory=list)
    message_times: list[float] = field(default_factory=list)
    audible: asyncio.Event = field(default_factory=asyncio.Event)

    def audio(self) -> np.ndarray:
        return np.concatenate(self.pcm) if self.pcm else np.zeros(0, dtype=np.int16)


class WebRTCCall:
    """One call to a bot. Use `async with WebRTCCall(...) as call:`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        wav: Path | None = None,
        body: dict[str, Any] | None = None,
        direct: bool = False,
        timeout_s: float = 60.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = async_client(base_url=base_url, headers=headers, timeout=timeout_s)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.recording = CallRecording()
        self.session_id: str | None = None
        self._body = body or {}
        self._direct = direct
        self._tasks: list[asyncio.Task[None]] = []
        self.microphone = WavTrack(wav)

    async def __aenter__(self) -> WebRTCCall:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        rec = self.recording
        rec.started_at = time.perf_counter()
        if not self._direct:
            started = await self.http.post(
                "/start", json={"transport": "webrtc", "body": self._body}
            )
            started.raise_for_status()
            self.session_id = started.json()["sessionId"]
        self.pc.addTransceiver(self.microphone, direction="sendrecv")
        channel = self.pc.createDataChannel("chat", ordered=True)

        def on_message(message: str) -> None:
            rec.messages.append(json.loads(message) if message[:1] in "{[" else message)
            rec.message_times.append(time.perf_counter())

        channel.on("message", on_message)

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self._tasks.append(asyncio.create_task(self._record(track)))

        setup_started = time.perf_counter()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        rec.client_setup_s = time.perf_counter() - setup_started
        offer = {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        if self._direct:
            response = await self.http.post("/api/offer", json={**offer, "requestData": self._body})
        else:
            response = await self.http.post(f"/sessions/{self.session_id}/api/offer", json=offer)
        response.raise_for_status()
        answer = response.json()
        rec.answer_at = time.perf_counter()
        self.session_id = self.session_id or answer.get("session_id")
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def _record(self, track: Any) -> None:
        rec = self.recording
        try:
            while True:
                frame = await track.recv()
                rec.frame_times.append(time.perf_counter())
                pcm = frame.to_ndarray().reshape(-1).astype(np.int16)
                if frame.layout.name == "stereo":
                    pcm = pcm[::2]
                rec.pcm.append(pcm)
                rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if pcm.size else 0.0
                if rms > _AUDIBLE_RMS:
                    now = time.perf_counter()
                    rec.audible_at.append(now)
                    if rec.first_audio_at is None:
                        rec.first_audio_at = now
                        rec.audible.set()
        except MediaStreamError:
            return

    async def wait_for_audio(self, timeout_s: float = 10.0) -> float:
        """Seconds from `/start` to the first audible audio, less the client's own set-up."""
        await asyncio.wait_for(self.recording.audible.wait(), timeout_s)
        rec = self.recording
        assert rec.first_audio_at is not None
        return rec.first_audio_at - rec.started_at - rec.client_setup_s

    @property
    def answer_latency_s(self) -> float:
        """Seconds from `/start` to the SDP answer, less the client's own set-up."""
        rec = self.recording
        assert rec.answer_at is not None
        return rec.answer_at - rec.started_at - rec.client_setup_s

    async def say(self, wav: Path) -> float:
        """Speak a WAV into the call; returns when it has been sent (perf_counter time)."""
        self.microphone.say(read_wav(wav))
        await self.microphone.finished.wait()
        assert self.microphone.finished_at is not None
        return self.microphone.finished_at

    async def start_saying(self, wav: Path) -> float:
        """Start speaking a WAV and return once its first frame is out (perf_counter time),
        without waiting for the end: to talk over the bot."""
        self.microphone.say(read_wav(wav))
        await self.microphone.started.wait()
        assert self.microphone.started_at is not None
        return self.microphone.started_at

    def last_audio_before_gap(self, since: float, gap_s: float = 0.5) -> float | None:
        """Arrival time of the bot's last audible frame after `since` that is followed by at
        least `gap_s` of quiet: when the bot went quiet, e.g. after being interrupted."""
        times = [t for t in self.recording.audible_at if t > since]
        for here, after in itertools.pairwise(times):
            if after - here >= gap_s:
                return here
        if times and time.perf_counter() - times[-1] >= gap_s:
            return times[-1]
        return None

    async def wait_for_audio_after(self, since: float, timeout_s: float = 20.0) -> float:
        """Seconds from `since` to the first audible audio that arrived after it."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            later = [t for t in self.recording.audible_at if t > since]
            if later:
                return later[0] - since
            await asyncio.sleep(0.02)
        raise TimeoutError(f"no audible audio within {timeout_s:g}s")

    async def wait_for_silence(self, quiet_s: float = 0.6, timeout_s: float = 20.0) -> None:
        """Until the bot has been quiet for `quiet_s` (e.g. the greeting is over)."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            last = self.recording.audible_at[-1] if self.recording.audible_at else 0.0
            if time.perf_counter() - last >= quiet_s:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the bot did not stop speaking")

    def bot_texts(self) -> list[str]:
        """What the bot has said so far, as its RTVI text messages tell the client."""
        return [
            str(m["data"].get("text", ""))
            for m in self.recording.messages
            if isinstance(m, dict) and m.get("type") in ("bot-tts-text", "bot-output")
        ]

    async def wait_for_text(self, fragment: str, timeout_s: float = 10.0) -> bool:
        """Whether the bot says something containing `fragment` within `timeout_s`."""
        deadline = time.perf_counter() + timeout_s
        while not any(fragment in text for text in self.bot_texts()):
            if time.perf_counter() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def session(self) -> dict[str, Any]:
        response = await self.http.get(f"/sessions/{self.session_id}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await self.http.aclose()
