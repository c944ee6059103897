"""Deepgram's streaming STT (`wss://api.deepgram.com/v1/listen`) as a local WebSocket server.

It speaks the wire protocol the deepgram-sdk client speaks: query parameters for the stream
(`encoding=linear16`, `sample_rate`, `channels`, `interim_results`, `endpointing`,
`utterance_end_ms`, `vad_events`), the key in `Authorization: Token …`, binary audio frames
up, JSON text frames down (`Results` with `is_final` / `speech_final` / `from_finalize`,
`SpeechStarted`, `UtteranceEnd`, `Metadata`), and the control messages `KeepAlive`,
`Finalize` and `CloseStream`. Like the real service it closes a stream that sends nothing
for 10 s (code 1011, NET-0001).

Everything runs on the audio's own clock, so a burst of replayed audio is heard as the same
speech it was in real time. Speech is found by loudness (20 ms frames); while it streams an
interim `Results` goes out every `interim_every_s` of speech; `endpointing` ms of silence
(at least `min_endpointing_ms`: Deepgram's own VAD does not end an utterance inside a word,
an energy gate would) ends the utterance with a final `Results` (`speech_final: true`).
Silence gets an empty final now and then, as Deepgram sends, so a client knows the audio
before it has been dealt with. What the words are comes from a `Transcriber`: Whisper on
the utterance's audio (real recognition, for tests), or a scripted line (for benchmarks,
where a decode per utterance would load the host that is being measured).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect

FRAME_S = 0.02
SPEECH_RMS = 300.0  # int16 RMS of a 20 ms frame that counts as speech (about -40 dBFS)
PRE_ROLL_S = 0.2  # audio kept before the onset, so the first syllable is in the utterance
SILENCE_FINAL_S = 3.0  # an empty final after this much audio without speech
IDLE_CLOSE_S = 10.0  # Deepgram closes a stream with no audio and no KeepAlive (NET-0001)
MODEL_INFO = {"name": "2-general-nova", "version": "2024-01-01.0", "arch": "nova-3"}


class Transcriber(Protocol):
    def __call__(self, pcm: bytes, sample_rate: int, *, final: bool) -> str:
        """The words in `pcm` (16-bit mono); `final` is False for an interim (partial) decode."""
        ...


class ScriptedTranscriber:
    """Hears every utterance as `line`: its first words while speech streams, all at the end."""

    def __init__(self, line: str, *, words_per_s: float = 2.5) -> None:
        self.line = line
        self._words = line.split()
        self._words_per_s = words_per_s

    def __call__(self, pcm: bytes, sample_rate: int, *, final: bool) -> str:
        if final:
            return self.line
        heard = len(pcm) / 2 / sample_rate * self._words_per_s
        return " ".join(self._words[: max(1, min(len(self._words) - 1, int(heard)))])


class WhisperTranscriber:
    """faster-whisper tiny.en (the bundled model) on the utterance so far: real recognition."""

    def __init__(self, model_path: str | None = None) -> None:
        from bot.stt.whisper import load_model

        self._model = load_model(model_path, cpu_threads=1)
        self._lock = threading.Lock()

    def __call__(self, pcm: bytes, sample_rate: int, *, final: bool) -> str:
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        if sample_rate != 16000:
            positions = np.arange(0, len(audio), sample_rate / 16000)
            audio = np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)
        with self._lock:
            segments, _ = self._model.transcribe(
                audio, language="en", beam_size=1, without_timestamps=True,
                condition_on_previous_text=False, vad_filter=False,
            )  # fmt: skip
            return " ".join(s.text.strip() for s in segments).strip()


@dataclass
class Stream:
    """One WebSocket stream as the server saw it: what a test checks."""

    params: dict[str, str]
    messages: list[dict[str, Any]] = field(default_factory=list)
    audio_s: float = 0.0
    closed: str = ""  # how it ended: "CloseStream", "client", "idle", "dropped"

    @property
    def finals(self) -> list[str]:
        return [m["channel"]["alternatives"][0]["transcript"] for m in self._results(True)]

    @property
    def interims(self) -> list[str]:
        return [m["channel"]["alternatives"][0]["transcript"] for m in self._results(False)]

    def _results(self, final: bool) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if m.get("type") == "Results"
            and bool(m.get("is_final")) is final
            and m["channel"]["alternatives"][0]["transcript"]
        ]


class DeepgramListen:
    """The `/v1/listen` WebSocket endpoint. `keys` are the accepted API keys."""

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        keys: set[str],
        interim_every_s: float = 0.5,
        min_endpointing_ms: int = 200,
        latency_s: float = 0.0,
    ) -> None:
        self.transcriber = transcriber
        self.keys = keys
        self.interim_every_s = interim_every_s
        self.min_endpointing_ms = min_endpointing_ms
        self.latency_s = latency_s
        self.streams: list[Stream] = []
        self._drop_after_speech_s: float | None = None
        self._lock = threading.Lock()

    def drop_next(self, after_speech_s: float) -> None:
        """Close the next stream that hears this much speech in one utterance, mid-utterance,
        with code 1011 and no final, as a failing Deepgram server does (once)."""
        with self._lock:
            self._drop_after_speech_s = after_speech_s

    def _take_drop(self, speech_s: float) -> bool:
        with self._lock:
            due = self._drop_after_speech_s is not None and speech_s >= self._drop_after_speech_s
            if due:
                self._drop_after_speech_s = None
            return due

    async def serve(self, websocket: WebSocket) -> None:
        auth = websocket.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer") or key not in self.keys:
            await websocket.close(code=1008, reason="invalid credentials")  # before accept: 403
            return
        params = dict(websocket.query_params)
        if params.get("encoding", "linear16") != "linear16" or params.get("channels", "1") != "1":
            await websocket.close(code=1008, reason="only linear16 mono is served here")
            return
        await websocket.accept()
        stream = Stream(params)
        with self._lock:
            self.streams.append(stream)
        session = _Session(self, websocket, stream)
        await session.run()


class _Session:
    """One stream's state: the audio clock, the utterance in progress, results in order."""

    def __init__(self, server: DeepgramListen, websocket: WebSocket, stream: Stream) -> None:
        self.server, self.ws, self.stream = server, websocket, stream
        params = stream.params
        self.rate = int(params.get("sample_rate", "16000"))
        self.interim = params.get("interim_results", "false") == "true"
        self.vad_events = params.get("vad_events", "false") == "true"
        endpointing = params.get("endpointing", "10")
        self.endpoint_s = (
            None
            if endpointing == "false"
            else max(int(endpointing), server.min_endpointing_ms) / 1000
        )
        utterance_end = params.get("utterance_end_ms")
        self.utterance_end_s = int(utterance_end) / 1000 if utterance_end else None
        self.request_id = str(uuid.uuid4())
        self.frame_bytes = int(self.rate * FRAME_S) * 2
        self.buffer = bytearray()  # audio not yet cut into frames
        self.clock = 0.0  # seconds of audio received
        self.done_until = 0.0  # audio before this has had its final
        self.pre_roll: list[bytes] = []
        self.utterance = bytearray()  # speech since the onset (with pre-roll and pauses)
        self.utterance_start = 0.0
        self.silence_s = 0.0
        self.last_interim_s = 0.0
        self.last_word_end: float | None = None  # for UtteranceEnd
        self.outbox: asyncio.Queue[Callable[[], dict[str, Any] | None] | None] = asyncio.Queue()

    async def run(self) -> None:
        sender = asyncio.create_task(self._send_loop())
        try:
            await self._receive_loop()
        finally:
            await self.outbox.put(None)
            await sender

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), IDLE_CLOSE_S)
            except TimeoutError:
                self.stream.closed = "idle"
                await self.outbox.put(lambda: {"__close__": 1011, "reason": "NET-0001"})
                return
            if message["type"] == "websocket.disconnect":
                self.stream.closed = self.stream.closed or "client"
                return
            if message.get("bytes") is not None:
                if self._hear(message["bytes"]):
                    return
                continue
            try:
                control = json.loads(message.get("text") or "{}")
            except ValueError:
                control = {}
            kind = control.get("type")
            if kind == "Finalize":
                self._finalize(from_finalize=True)
            elif kind == "CloseStream":
                self._finalize(from_finalize=False)
                self.stream.closed = "CloseStream"
                await self.outbox.put(self._metadata)
                await self.outbox.put(lambda: {"__close__": 1000, "reason": ""})
                return
            # KeepAlive: nothing to do, the wait above starts again

    def _hear(self, audio: bytes) -> bool:
        """Take audio in; True when the stream is to be dropped now."""
        self.buffer += audio
        while len(self.buffer) >= self.frame_bytes:
            frame = bytes(self.buffer[: self.frame_bytes])
            del self.buffer[: self.frame_bytes]
            self.clock += FRAME_S
            self.stream.audio_s = self.clock
            samples = np.frombuffer(frame, dtype=np.int16).astype(np.float32)
            loud = float(np.sqrt(np.mean(samples * samples))) >= SPEECH_RMS
            if self._frame(frame, loud):
                self.stream.closed = "dropped"
                self.outbox.put_nowait(lambda: {"__close__": 1011, "reason": "dropped"})
                return True
        return False

    def _frame(self, frame: bytes, loud: bool) -> bool:
        speaking = bool(self.utterance)
        if not speaking:
            if not loud:
                self.pre_roll = [*self.pre_roll, frame][-int(PRE_ROLL_S / FRAME_S) :]
                self._maybe_utterance_end()
                if self.clock - self.done_until >= SILENCE_FINAL_S:
                    self._final("", speech_final=False, from_finalize=False)
                return False
            self.utterance_start = self.clock - FRAME_S * (len(self.pre_roll) + 1)
            self.utterance = bytearray(b"".join(self.pre_roll))
            self.pre_roll, self.silence_s, self.last_interim_s = [], 0.0, 0.0
            if self.vad_events:
                start = self.utterance_start
                self.outbox.put_nowait(
                    lambda: {"type": "SpeechStarted", "channel": [0, 1], "timestamp": start}
                )
        self.utterance += frame
        self.silence_s = 0.0 if loud else self.silence_s + FRAME_S
        speech_s = len(self.utterance) / 2 / self.rate
        if self.server._take_drop(speech_s):
            return True
        if self.interim and loud and speech_s - self.last_interim_s >= self.server.interim_every_s:
            self.last_interim_s = speech_s
            self._result(bytes(self.utterance), is_final=False)
        if self.endpoint_s is not None and self.silence_s >= self.endpoint_s:
            self._finalize(from_finalize=False, speech_final=True)
        return False

    def _maybe_utterance_end(self) -> None:
        if self.utterance_end_s is None or self.last_word_end is None:
            return
        if self.clock - self.last_word_end >= self.utterance_end_s:
            end = self.last_word_end
            self.last_word_end = None
            self.outbox.put_nowait(
                lambda: {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": end}
            )

    def _finalize(self, *, from_finalize: bool, speech_final: bool = False) -> None:
        """The utterance so far becomes final (or an empty final, when there is none)."""
        if self.utterance:
            self.last_word_end = self.clock - self.silence_s
            self._result(bytes(self.utterance), is_final=True, speech_final=speech_final,
                         from_finalize=from_finalize)  # fmt: skip
            self.utterance = bytearray()
            self.done_until = self.clock
        else:
            self._final("", speech_final=False, from_finalize=from_finalize)

    def _final(self, transcript: str, *, speech_final: bool, from_finalize: bool) -> None:
        start, end = self.done_until, self.clock
        self.done_until = self.clock
        message = self._message(transcript, start, end, True, speech_final, from_finalize)
        self.outbox.put_nowait(lambda: message)

    def _result(
        self, pcm: bytes, *, is_final: bool, speech_final: bool = False, from_finalize: bool = False
    ) -> None:
        start = self.done_until if is_final else self.utterance_start
        end = self.clock
        transcriber, rate = self.server.transcriber, self.rate

        def build() -> dict[str, Any] | None:
            if not is_final and not self.outbox.empty():
                return None  # stale: newer audio is waiting (a burst), as Deepgram skips it
            text = transcriber(pcm, rate, final=is_final)
            return self._message(text, start, end, is_final, speech_final, from_finalize)

        self.outbox.put_nowait(build)

    def _message(
        self, text: str, start: float, end: float, is_final: bool, speech_final: bool,
        from_finalize: bool,
    ) -> dict[str, Any]:  # fmt: skip
        words = text.split()
        step = (end - start) / max(1, len(words))
        message: dict[str, Any] = {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(end - start, 3),
            "start": round(start, 3),
            "is_final": is_final,
            "speech_final": speech_final,
            "channel": {
                "alternatives": [
                    {
                        "transcript": text,
                        "confidence": 0.98 if text else 0.0,
                        "words": [
                            {
                                "word": w.strip(".,?!").lower(),
                                "punctuated_word": w,
                                "start": round(start + i * step, 3),
                                "end": round(start + (i + 1) * step, 3),
                                "confidence": 0.98,
                            }
                            for i, w in enumerate(words)
                        ],
                    }
                ]
            },
            "metadata": {
                "request_id": self.request_id,
                "model_info": MODEL_INFO,
                "model_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "voicefleet")),
            },
        }
        if from_finalize:
            message["from_finalize"] = True
        return message

    def _metadata(self) -> dict[str, Any]:
        return {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self.request_id,
            "sha256": "",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "duration": round(self.clock, 3),
            "channels": 1,
        }

    async def _send_loop(self) -> None:
        """Results in order; a decode runs in a thread, so hearing audio never waits for it."""
        while (job := await self.outbox.get()) is not None:
            message = await asyncio.to_thread(job)
            if message is None:
                continue
            if self.server.latency_s:
                await asyncio.sleep(self.server.latency_s)
            try:
                if "__close__" in message:
                    await self.ws.close(code=message["__close__"], reason=message["reason"])
                    return
                self.stream.messages.append(message)
                await self.ws.send_text(json.dumps(message))
            except (WebSocketDisconnect, RuntimeError):
                return  # the client went away: what it has not had is lost, as on the wire
