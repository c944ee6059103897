"""A scripted phone caller that speaks to the fleet as Twilio does.

It asks the gateway's voice webhook what to do with a call (the form Twilio posts, signed
with X-Twilio-Signature), reads the TwiML answer, and opens the `<Stream>` it names, speaking
Twilio's Media Streams protocol as Twilio documents it
(https://www.twilio.com/docs/voice/media-streams/websocket-messages): `connected`, `start`
(streamSid, callSid, accountSid, tracks, customParameters, mediaFormat), then `media` with
20 ms of base64 μ-law at 8 kHz paced in real time (silence when the caller says nothing, as a
phone line sends), `dtmf`, `mark` echoed once the audio before it has played, and `stop`.
What the bot sends back (`media`, `clear`, `mark`) is recorded with arrival times.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from pipecat.audio.utils import create_stream_resampler, pcm_to_ulaw, ulaw_to_pcm
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

RATE = 8000
CHUNK_MS = 20
CHUNK_BYTES = RATE * CHUNK_MS // 1000  # μ-law: one byte a sample
ULAW_SILENCE = b"\xff" * CHUNK_BYTES
# A received chunk this loud (mean absolute 16-bit sample) counts as the bot speaking.
LOUD = 200


@dataclass
class Answer:
    """The webhook's TwiML, as much of it as a caller acts on."""

    status: int
    twiml: str
    stream_url: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)
    hangs_up: bool = False
    # Where a `<Redirect>` sends the call once the verbs before it are done.
    redirect_url: str | None = None


def parse_twiml(status: int, text: str) -> Answer:
    answer = Answer(status, text)
    if status != 200:
        return answer
    root = ET.fromstring(text)
    for stream in root.iter("Stream"):
        answer.stream_url = stream.get("url")
        for param in stream.iter("Parameter"):
            answer.parameters[param.get("name", "")] = param.get("value", "")
    answer.said = [say.text or "" for say in root.iter("Say")]
    answer.redirect_url = next((r.text for r in root.iter("Redirect")), None)
    answer.hangs_up = any(True for _ in root.iter("Hangup")) or any(
        True for _ in root.iter("Reject")
    )
    return answer


def sign(url: str, params: dict[str, str], auth_token: str) -> str:
    """X-Twilio-Signature for a form POST to `url`, as Twilio computes it."""
    return str(RequestValidator(auth_token).compute_signature(url, params))


class TwilioCaller:
    def __init__(
        self,
        gateway_url: str,
        *,
        account_sid: str,
        auth_token: str,
        caller: str = "+14155550100",
        called: str = "+14155550199",
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.caller = caller
        self.called = called
        self.call_sid = "CA" + uuid.uuid4().hex
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.answer: Answer | None = None
        self._socket: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._speech: deque[bytes] = deque()
        self._sequence = 0
        self._chunk = 0
        self._started = 0.0
        # What the caller heard: (arrival time, 16-bit PCM at 8 kHz) per media message.
        self.heard: list[tuple[float, bytes]] = []
        self.clears: list[float] = []
        self.marks: list[str] = []
        self.stream_sids: set[str] = set()
        self.other_events: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._decoder = create_stream_resampler()
        self._encoder = create_stream_resampler()

    # The webhook --------------------------------------------------------------------------

    def webhook_params(self) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.call_sid,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "From": self.caller,
            "To": self.called,
        }

    async def dial(self, *, signature: str | None = None) -> Answer:
        """POST the voice webhook (signed unless `signature` says otherwise)."""
        url = f"{self.gateway_url}/telephony/twilio"
        params = self.webhook_params()
        headers = {"X-Twilio-Signature": signature or sign(url, params, self.auth_token)}
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(url, data=params, headers=headers)
        self.answer = parse_twiml(response.status_code, response.text)
        return self.answer

    # The media stream ---------------------------------------------------------------------

    async def connect(self, parameters: dict[str, str] | None = None) -> None:
        """Open the stream the answer named and start sending, as Twilio does on `<Connect>`.
        `parameters` replaces the answer's (a test replaying a token)."""
        assert self.answer is not None and self.answer.stream_url, self.answer
        self._socket = await connect(self.answer.stream_url, max_size=2**20)
        await self._send(self.connected_message())
        self._sequence = 1
        params = parameters if parameters is not None else self.answer.parameters
        await self._send(self.start_message(params))
        self._started = time.monotonic()
        self._tasks = [
            asyncio.create_task(self._send_media()),
            asyncio.create_task(self._receive()),
        ]

    # Twilio's message shapes (a Telnyx caller overrides them) ------------------------------

    def connected_message(self) -> dict[str, Any]:
        return {"event": "connected", "protocol": "Call", "version": "1.0.0"}

    def start_message(self, parameters: dict[str, str]) -> dict[str, Any]:
        return {
            "event": "start",
            "sequenceNumber": str(self._next_sequence()),
            "start": {
                "accountSid": self.account_sid,
                "streamSid": self.stream_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": RATE, "channels": 1},
                "customParameters": parameters,
            },
            "streamSid": self.stream_sid,
        }

    def media_message(self, payload: bytes) -> dict[str, Any]:
        return {
            "event": "media",
            "sequenceNumber": str(self._next_sequence()),
            "media": {
                "track": "inbound",
                "chunk": str(self._chunk),
                "timestamp": str(int((time.monotonic() - self._started) * 1000)),
                "payload": base64.b64encode(payload).decode(),
            },
            "streamSid": self.stream_sid,
        }

    def dtmf_message(self, digit: str) -> dict[str, Any]:
        return {
            "event": "dtmf",
            "streamSid": self.stream_sid,
            "sequenceNumber": str(self._next_sequence()),
            "dtmf": {"track": "inbound_track", "digit": digit},
        }

    def stop_message(self) -> dict[str, Any]:
        return {
            "event": "stop",
            "sequenceNumber": str(self._next_sequence()),
            "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
            "streamSid": self.stream_sid,
        }

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence - 1

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._socket is not None
        await self._socket.send(json.dumps(message))

    async def _send_media(self) -> None:
        """20 ms of μ-law every 20 ms, on a real-time clock (no drift over a long call)."""
        next_at = time.monotonic()
        try:
            while True:
                payload = self._speech.popleft() if self._speech else ULAW_SILENCE
                self._chunk += 1
                await self._send(self.media_message(payload))
                next_at += CHUNK_MS / 1000
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        except Exception:  # noqa: BLE001 - the socket closed under the sender: the call is over
            return

    async def _receive(self) -> None:
        assert self._socket is not None
        try:
            async for raw in self._socket:
                message = json.loads(raw)
                await self._on_message(message)
        except Exception:  # noqa: BLE001 - a closed or broken socket ends the call
            pass
        finally:
            self.close_code = self._socket.close_code
            self.closed.set()

    async def _on_message(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if message.get("streamSid"):
            self.stream_sids.add(str(message["streamSid"]))
        if event == "media":
            ulaw = base64.b64decode(message["media"]["payload"])
            pcm = await ulaw_to_pcm(ulaw, RATE, RATE, self._decoder)
            self.heard.append((time.monotonic(), pcm))
        elif event == "clear":
            self.clears.append(time.monotonic())
        elif event == "mark":
            # Twilio answers a mark once the audio sent before it has played.
            name = str(message.get("mark", {}).get("name", ""))
            self.marks.append(name)
            await self._send({"event": "mark", "sequenceNumber": str(self._next_sequence()),
                              "streamSid": self.stream_sid, "mark": {"name": name}})  # fmt: skip
        else:
            self.other_events.append(message)

    # What a test does ---------------------------------------------------------------------

    async def say(self, pcm: bytes, sample_rate: int) -> float:
        """Queue 16-bit mono speech; returns the time (monotonic) its last chunk goes out."""
        ulaw = await pcm_to_ulaw(pcm, sample_rate, RATE, self._encoder)
        chunks = [ulaw[i : i + CHUNK_BYTES] for i in range(0, len(ulaw), CHUNK_BYTES)]
        if chunks and len(chunks[-1]) < CHUNK_BYTES:
            chunks[-1] = chunks[-1] + b"\xff" * (CHUNK_BYTES - len(chunks[-1]))
        self._speech.extend(chunks)
        return time.monotonic() + (len(self._speech) * CHUNK_MS) / 1000

    async def press(self, digit: str) -> None:
        await self._send(self.dtmf_message(digit))

    async def hang_up(self) -> None:
        """`stop`, then the socket closes, as when the caller puts the phone down."""
        if self._socket is None:
            return
        try:
            await self._send(self.stop_message())
        except Exception:  # noqa: BLE001 - already closed by the other side
            pass
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._socket is not None:
            await self._socket.close()
            self.close_code = self._socket.close_code

    def loud_after(self, since: float) -> list[float]:
        """Arrival times of loud chunks after `since`."""
        return [t for t, pcm in self.heard if t > since and _loudness(pcm) > LOUD]

    async def wait_for_audio(self, timeout_s: float = 10.0, *, since: float = 0.0) -> float:
        """When the first loud audio after `since` arrived; TimeoutError after timeout_s."""
        async with asyncio.timeout(timeout_s):
            while True:
                loud = self.loud_after(since)
                if loud:
                    return loud[0]
                await asyncio.sleep(0.02)

    async def wait_for_silence(self, quiet_s: float = 0.6, timeout_s: float = 20.0) -> None:
        """Until no loud audio has arrived for quiet_s."""
        async with asyncio.timeout(timeout_s):
            while True:
                loud = self.loud_after(0.0)
                if not loud or time.monotonic() - loud[-1] >= quiet_s:
                    return
                await asyncio.sleep(0.05)

    async def wait_for_clear(self, since: float, timeout_s: float = 20.0) -> float:
        async with asyncio.timeout(timeout_s):
            while True:
                later = [t for t in self.clears if t > since]
                if later:
                    return later[0]
                await asyncio.sleep(0.02)


def _loudness(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16)
    return float(np.abs(samples.astype(np.int32)).mean()) if samples.size else 0.0
